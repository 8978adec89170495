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
mod hub;
mod ids;
mod rest;
pub mod sfu;
mod signaling;

pub use config::{Config, Limits, Secret, TlsFiles};
pub use hub::Stats;

use std::net::SocketAddr;
use std::sync::Arc;

use config_types::PublicUrl;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use tracing::info;

/// Log directives that keep crates which print whole frames and headers at debug/trace level
/// (WebSocket frames carry tokens; headers carry credentials) at `info`, whatever `RUST_LOG` asks.
/// Any binary that serves the media server, standalone or embedded, applies them to its filter.
pub fn quiet_log_directives(
    mut filter: tracing_subscriber::EnvFilter,
) -> tracing_subscriber::EnvFilter {
    for quiet in [
        "tungstenite=info",
        "tokio_tungstenite=info",
        "hyper=info",
        "hyper_util=info",
        "h2=info",
    ] {
        filter = filter.add_directive(quiet.parse().expect("static directive"));
    }
    filter
}

/// The OpenVidu version this server behaves like.
pub const OPENVIDU_VERSION: &str = "2.32.2";

/// What the HTTP handlers share: the hub's handle and a few read-only facts.
#[derive(Clone)]
pub(crate) struct AppState {
    hub: hub::HubHandle,
    secret: Arc<Secret>,
    /// Where browsers reach the server; tokens point at its WebSocket origin.
    public_url: PublicUrl,
    /// The same as configured, for `GET /config` (`OPENVIDU_PUBLICURL`), which echoes it.
    public_url_text: String,
    unused_session_timeout_secs: u64,
}

/// A running media core (signaling state and SFU) without an HTTP listener of its own.
pub struct MediaServer {
    state: AppState,
    udp_addr: SocketAddr,
}

impl MediaServer {
    /// Binds the UDP media port and starts the signaling and SFU tasks. `public_url` is the
    /// `http(s)://host:port` under which browsers reach [`MediaServer::router`]; tokens point there.
    pub async fn bind(config: Config, public_url: String) -> anyhow::Result<MediaServer> {
        anyhow::ensure!(
            !config.secret.expose().is_empty(),
            "the OpenVidu secret must not be empty"
        );
        config.validate().map_err(anyhow::Error::msg)?;
        let public_url_text = public_url;
        let public_url = PublicUrl::parse(&public_url_text).with_context(|| "the public URL")?;
        let ws_base = public_url.websocket_origin();
        let workers = config.workers();
        let sfu = sfu::edge::SfuPool::spawn(config.udp, config.public_ip, workers)?;
        let udp_addrs = sfu.local_addrs();
        let udp_addr = udp_addrs[0];
        let hub = hub::spawn(
            hub::HubConfig {
                ws_base,
                unused_session_timeout: config.unused_session_timeout,
                reconnect_grace: config.reconnect_grace,
                pending_connection_ttl: config.pending_connection_ttl,
                join_deadline: config.join_deadline,
                limits: config.limits,
            },
            sfu,
        );
        info!(workers, "media on udp {udp_addrs:?}");
        Ok(MediaServer {
            state: AppState {
                hub,
                secret: Arc::new(config.secret),
                public_url,
                public_url_text,
                unused_session_timeout_secs: config.unused_session_timeout.as_secs(),
            },
            udp_addr,
        })
    }

    /// `/openvidu` (WebSocket) and `/openvidu/api/*` (REST). Merge it into an app's router.
    pub fn router(&self) -> Router {
        self.rest_router().merge(self.websocket_router())
    }

    /// `/openvidu` only, the signaling WebSocket: what browsers need on an app's public listener.
    pub fn websocket_router(&self) -> Router {
        Router::new()
            .route("/openvidu", get(signaling::ws::handler))
            .with_state(self.state.clone())
    }

    /// `/openvidu/api/*` only, the REST API: for a listener that only the token-issuing app reaches.
    pub fn rest_router(&self) -> Router {
        rest::router(self.state.clone())
    }

    /// The UDP address of the first SFU worker (each worker has its own; see [`Self::udp_addrs`]).
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The UDP addresses media flows through, one per SFU worker.
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.state.hub.udp_addrs()
    }

    /// Makes the signaling owner of session `id` panic, as a bug would: for the tests that check
    /// that the other sessions carry on. False when there is no such session.
    #[doc(hidden)]
    pub async fn crash_session_for_tests(&self, id: &str) -> bool {
        self.state.hub.crash_session(id).await
    }

    /// What the server holds now (sessions, participants, peer connections, sockets).
    pub async fn stats(&self) -> Stats {
        self.state.hub.stats().await
    }

    /// Evicts everyone (`openviduServerStopped`) and stops the signaling task.
    pub async fn shutdown(self) {
        self.state.hub.shutdown().await;
    }
}

/// A standalone server: [`MediaServer`] plus its own HTTP(S) listener.
pub struct Handle {
    http_addr: SocketAddr,
    public_url: String,
    media: MediaServer,
    server: axum_server::Handle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Handle {
    /// The address the HTTP(S) listener is bound to.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
    /// The UDP address of the first SFU worker.
    pub fn udp_addr(&self) -> SocketAddr {
        self.media.udp_addr()
    }
    /// The UDP addresses media flows through, one per SFU worker.
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.media.udp_addrs()
    }
    /// The public URL (`https://…` with TLS, else `http://…`), what tokens point at.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }
    /// What the server holds now (sessions, participants, peer connections, sockets).
    pub async fn stats(&self) -> Stats {
        self.media.stats().await
    }
    /// See [`MediaServer::crash_session_for_tests`].
    #[doc(hidden)]
    pub async fn crash_session_for_tests(&self, id: &str) -> bool {
        self.media.crash_session_for_tests(id).await
    }
    /// Stops the listener and the media core.
    pub async fn shutdown(self) {
        self.media.shutdown().await;
        self.server
            .graceful_shutdown(Some(std::time::Duration::from_secs(1)));
        let _ = self.task.await;
    }
    /// Waits until the listener stops (it only stops on error or shutdown).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task)
            .await
            .context("the HTTP task panicked")?
            .context("the HTTP listener failed")
    }
}

fn tls_config(files: &TlsFiles) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("reading {}", files.cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", files.cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{} holds no certificate",
        files.cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading {}", files.key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the TLS certificate and key do not fit together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Starts a standalone server as configured.
pub async fn start(config: Config) -> anyhow::Result<Handle> {
    let tls = config.tls.as_ref().map(tls_config).transpose()?;
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("binding {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let http_addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{http_addr}"));
    let media = MediaServer::bind(config, public_url.clone()).await?;
    let app = media
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = axum_server::Handle::new();
    let task = match tls {
        Some(tls) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
            tokio::spawn(
                axum_server::from_tcp_rustls(listener, tls)
                    .handle(server.clone())
                    .serve(app),
            )
        }
        None => tokio::spawn(
            axum_server::from_tcp(listener)
                .handle(server.clone())
                .serve(app),
        ),
    };
    info!("listening on {scheme}://{http_addr}");
    Ok(Handle {
        http_addr,
        public_url,
        media,
        server,
        task,
    })
}
