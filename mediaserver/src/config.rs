//! The server's configuration: one typed struct, filled from flags or environment variables and
//! checked before anything starts.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The OpenVidu secret. It neither `Debug`-prints nor serializes, so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for comparing and for building an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// PEM certificate chain and private key for HTTPS/WSS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `OPENVIDUAPP:<secret>` guards the REST API.
    pub secret: Secret,
    /// HTTP and WebSocket listener (standalone mode only).
    pub listen: SocketAddr,
    /// The one UDP port for all media; port 0 picks a free one.
    pub udp: SocketAddr,
    /// The address written into ICE candidates; defaults to the UDP bind address.
    pub public_ip: Option<IpAddr>,
    /// Serve HTTPS/WSS with these files (standalone mode only).
    pub tls: Option<TlsFiles>,
    /// What tokens point at; defaults to the listener's own URL.
    pub public_url: Option<String>,
    /// Sessions created over REST but never joined are closed after this long.
    pub unused_session_timeout: Duration,
    /// A participant whose socket went away without `leaveRoom` is evicted (`networkDisconnect`)
    /// unless it reconnects within this time.
    pub reconnect_grace: Duration,
}

impl Config {
    /// Defaults: loopback listener on 4443, any free UDP port on loopback, no TLS.
    pub fn new(secret: Secret) -> Config {
        Config {
            secret,
            listen: SocketAddr::from(([127, 0, 0, 1], 4443)),
            udp: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_ip: None,
            tls: None,
            public_url: None,
            unused_session_timeout: Duration::from_secs(3600),
            reconnect_grace: Duration::from_secs(15),
        }
    }
}
