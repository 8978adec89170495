//! An OpenVidu-2-compatible media server.
//!
//! It owns three things: the REST API at `/openvidu/api` (what `openvidu-node-client` talks to), the
//! JSON-RPC signaling WebSocket at `/openvidu` (what `openvidu-browser` talks to) and an SFU on str0m
//! that forwards media through one UDP port. It does not own authentication of end users: whoever holds
//! the secret hands out tokens.
//!
//! Two ways to run it:
//! - [`start`]: a standalone server on its own listener (the `mediaserver` binary does this);
//! - [`MediaServer::bind`] + [`MediaServer::router`]: embedded in another axum app, so that the browser
//!   reaches the signaling WebSocket on that app's own origin.

pub mod config;

pub use config::{Config, Secret, TlsFiles};

use std::net::SocketAddr;

/// A running media core (signaling state and SFU) without an HTTP listener of its own.
pub struct MediaServer {
    _private: (),
}

impl MediaServer {
    /// Binds the UDP media port and starts the signaling and SFU tasks. `public_url` is the
    /// `http(s)://host:port` under which browsers reach [`MediaServer::router`]; tokens point there.
    pub async fn bind(config: Config, public_url: String) -> anyhow::Result<MediaServer> {
        let _ = (config, public_url);
        todo!()
    }

    /// `/openvidu` (WebSocket) and `/openvidu/api/*` (REST). Merge it into an app's router.
    pub fn router(&self) -> axum::Router {
        todo!()
    }

    /// The UDP address media flows through.
    pub fn udp_addr(&self) -> SocketAddr {
        todo!()
    }

    /// Evicts everyone (`openviduServerStopped`) and stops the tasks.
    pub async fn shutdown(self) {}
}

/// A standalone server: [`MediaServer`] plus its own HTTP(S) listener.
pub struct Handle {
    _private: (),
}

impl Handle {
    /// The address the HTTP(S) listener is bound to.
    pub fn http_addr(&self) -> SocketAddr {
        todo!()
    }
    /// The UDP address media flows through.
    pub fn udp_addr(&self) -> SocketAddr {
        todo!()
    }
    /// The public URL (`https://…` with TLS, else `http://…`), what tokens point at.
    pub fn public_url(&self) -> &str {
        todo!()
    }
    /// Stops the listener and the media core.
    pub async fn shutdown(self) {}
}

/// Starts a standalone server as configured.
pub async fn start(config: Config) -> anyhow::Result<Handle> {
    let _ = config;
    todo!()
}
