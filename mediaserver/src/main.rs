//! `mediaserver`: the OpenVidu-2-compatible media server as a standalone process.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mediaserver::{Config, Limits, Secret, TlsFiles};
use tracing_subscriber::EnvFilter;

/// An OpenVidu-2-compatible media server (REST API, JSON-RPC signaling, str0m SFU).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The OpenVidu secret: REST clients authenticate as OPENVIDUAPP:<secret>. Prefer the environment
    /// variable: a flag is visible to other users of the machine in the process list.
    #[arg(long, env = "OPENVIDU_SECRET", hide_env_values = true)]
    secret: String,
    /// HTTP(S) and WebSocket listener.
    #[arg(long, env = "MEDIASERVER_LISTEN", default_value = "127.0.0.1:4443")]
    listen: SocketAddr,
    /// The first SFU worker's UDP address; worker i binds its port + i (port 0: each a free one).
    #[arg(long, env = "MEDIASERVER_UDP", default_value = "127.0.0.1:0")]
    udp: SocketAddr,
    /// SFU worker threads, each with its own UDP port (the --udp port + i) and its own calls'
    /// media; 0 starts one per core.
    #[arg(long, env = "MEDIASERVER_WORKERS", default_value_t = 0)]
    workers: usize,
    /// The address put in ICE candidates, when browsers reach the UDP port under another address.
    #[arg(long, env = "MEDIASERVER_PUBLIC_IP")]
    public_ip: Option<IpAddr>,
    /// PEM certificate chain: serve HTTPS/WSS (openvidu-browser 2.22 only connects with wss://).
    #[arg(long, env = "MEDIASERVER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "MEDIASERVER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The URL tokens point at (default: this listener's own URL).
    #[arg(long, env = "OPENVIDU_PUBLICURL")]
    public_url: Option<String>,
    /// Seconds after which a session created but never joined is closed.
    #[arg(
        long,
        env = "MEDIASERVER_UNUSED_SESSION_TIMEOUT",
        default_value_t = 3600
    )]
    unused_session_timeout: u64,
    /// Seconds a participant whose socket dropped may take to reconnect before it is evicted.
    #[arg(long, env = "MEDIASERVER_RECONNECT_GRACE", default_value_t = 20)]
    reconnect_grace: u64,
    /// Seconds a connection (a token) created over REST may wait to be joined before it is removed.
    #[arg(
        long,
        env = "MEDIASERVER_PENDING_CONNECTION_TTL",
        default_value_t = 120
    )]
    pending_connection_ttl: u64,
    /// Seconds a WebSocket may stay open without joining a session before it is closed.
    #[arg(long, env = "MEDIASERVER_JOIN_DEADLINE", default_value_t = 30)]
    join_deadline: u64,
    /// Sessions at once.
    #[arg(long, env = "MEDIASERVER_MAX_SESSIONS", default_value_t = Limits::default().max_sessions)]
    max_sessions: usize,
    /// Connections (pending and joined) per session.
    #[arg(long, env = "MEDIASERVER_MAX_PARTICIPANTS_PER_SESSION", default_value_t = Limits::default().max_participants_per_session)]
    max_participants_per_session: usize,
    /// Open WebSocket connections per client IP address.
    #[arg(long, env = "MEDIASERVER_MAX_SOCKETS_PER_ADDRESS", default_value_t = Limits::default().max_sockets_per_address)]
    max_sockets_per_address: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,str0m=warn"));
    let filter = mediaserver::quiet_log_directives(filter);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
    if args.secret.is_empty() {
        anyhow::bail!("--secret must not be empty");
    }
    let mut config = Config::new(Secret::new(args.secret));
    config.listen = args.listen;
    config.udp = args.udp;
    config.workers = args.workers;
    config.public_ip = args.public_ip;
    config.tls = args
        .tls_cert
        .zip(args.tls_key)
        .map(|(cert, key)| TlsFiles { cert, key });
    config.public_url = args.public_url;
    config.unused_session_timeout = Duration::from_secs(args.unused_session_timeout);
    config.reconnect_grace = Duration::from_secs(args.reconnect_grace);
    config.pending_connection_ttl = Duration::from_secs(args.pending_connection_ttl);
    config.join_deadline = Duration::from_secs(args.join_deadline);
    config.limits = Limits {
        max_sessions: args.max_sessions,
        max_participants_per_session: args.max_participants_per_session,
        max_sockets_per_address: args.max_sockets_per_address,
    };
    config.validate().map_err(anyhow::Error::msg)?;
    let mut handle = mediaserver::start(config).await?;
    tokio::select! {
        r = handle.wait() => r?,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("stopping");
            handle.shutdown().await;
        }
    }
    Ok(())
}
