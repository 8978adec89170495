//! The server's configuration: one typed struct, filled from flags or environment variables and
//! checked before anything starts.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The OpenVidu secret: one type for every edge of the workspace.
pub use config_types::Secret;

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
    /// The first SFU worker's UDP address; worker i binds its port + i (port 0: each a free one).
    pub udp: SocketAddr,
    /// SFU worker threads, each with its own UDP port and its own sessions' media; 0 means one per
    /// core.
    pub workers: usize,
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
    /// A connection created over REST (a token) but never joined is removed after this long.
    pub pending_connection_ttl: Duration,
    /// A WebSocket that has not joined (or rejoined) a session within this long is closed with 1008.
    pub join_deadline: Duration,
    /// Quotas that keep one client from exhausting the server for everyone.
    pub limits: Limits,
}

/// How much of the server one client, one session or everyone together may hold. A request past a
/// quota is refused with a clear error; nothing already there is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sessions at once (REST `POST /sessions` answers 429 past it).
    pub max_sessions: usize,
    /// Connections of one session, pending and joined together (REST answers 429; `joinRoom` too).
    pub max_participants_per_session: usize,
    /// Open WebSocket connections from one client IP address (refused with close code 1013).
    pub max_sockets_per_address: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_sessions: 1000,
            max_participants_per_session: 100,
            max_sockets_per_address: 256,
        }
    }
}

/// The range each duration setting must fall in. Outside it, start-up fails with a message that names
/// the setting: a zero grace would evict everyone at once, an absurd one overflows the clock.
pub const DURATION_LIMITS: [(&str, u64, u64); 4] = [
    ("unused-session-timeout", 1, 30 * 24 * 3600),
    ("reconnect-grace", 1, 3600),
    ("pending-connection-ttl", 1, 7 * 24 * 3600),
    ("join-deadline", 1, 3600),
];

impl Config {
    /// Defaults: loopback listener on 4443, any free UDP port on loopback, no TLS.
    pub fn new(secret: Secret) -> Config {
        Config {
            secret,
            listen: SocketAddr::from(([127, 0, 0, 1], 4443)),
            udp: SocketAddr::from(([127, 0, 0, 1], 0)),
            workers: 0,
            public_ip: None,
            tls: None,
            public_url: None,
            unused_session_timeout: Duration::from_secs(3600),
            reconnect_grace: Duration::from_secs(20),
            pending_connection_ttl: Duration::from_secs(120),
            join_deadline: Duration::from_secs(30),
            limits: Limits::default(),
        }
    }

    /// How many SFU workers to start: as configured, else one per core.
    pub fn workers(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Checks every setting that could otherwise misbehave later; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        let values = [
            self.unused_session_timeout,
            self.reconnect_grace,
            self.pending_connection_ttl,
            self.join_deadline,
        ];
        for ((name, min, max), value) in DURATION_LIMITS.iter().zip(values) {
            if value < Duration::from_secs(*min) || value > Duration::from_secs(*max) {
                return Err(format!("--{name} must be between {min} and {max} seconds"));
            }
        }
        let l = &self.limits;
        for (name, value) in [
            ("max-sessions", l.max_sessions),
            (
                "max-participants-per-session",
                l.max_participants_per_session,
            ),
            ("max-sockets-per-address", l.max_sockets_per_address),
        ] {
            if value == 0 || value > 1_000_000 {
                return Err(format!("--{name} must be between 1 and 1000000"));
            }
        }
        if self.workers > 256 {
            return Err("--workers must be between 0 (one per core) and 256".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_settings_are_refused_by_name() {
        let ok = Config::new(Secret::new("s"));
        assert_eq!(ok.validate(), Ok(()));
        let mut c = ok.clone();
        c.reconnect_grace = Duration::from_secs(u64::MAX);
        assert_eq!(
            c.validate(),
            Err("--reconnect-grace must be between 1 and 3600 seconds".into())
        );
        let mut c = ok.clone();
        c.pending_connection_ttl = Duration::ZERO;
        assert!(
            c.validate()
                .unwrap_err()
                .contains("--pending-connection-ttl")
        );
        let mut c = ok.clone();
        c.join_deadline = Duration::ZERO;
        assert!(c.validate().unwrap_err().contains("--join-deadline"));
        let mut c = ok;
        c.limits.max_sessions = 0;
        assert!(c.validate().unwrap_err().contains("--max-sessions"));
    }
}
