//! The server's command line: flags, the same as environment variables, and the seed's positional form
//! `server OPENVIDU_URL OPENVIDU_SECRET`. Checked once at start-up, into [`Settings`].

use anyhow::{Context, bail};
use app::backend::openvidu::{OpenViduSettings, Secret};
use app::backend::quota::TokenPolicy;
use clap::{Args, Parser, Subcommand};
use config_types::PublicUrl;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Secure video calls: the app server",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub data: DataDir,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user, or change an existing user's password and role. The password is read from standard
    /// input (one line), or asked for on a terminal.
    Add {
        name: String,
        /// PUBLISHER, SUBSCRIBER or MODERATOR.
        #[arg(long, default_value = "PUBLISHER")]
        role: String,
    },
    /// List users and their roles.
    List,
    /// Remove a user: their login sessions end at once, their calls within a few seconds (when the
    /// server runs on the same data dir).
    Remove { name: String },
    /// Change a user's role: their connections end within a few seconds (when the server runs on the
    /// same data dir), and their next join has the new role.
    SetRole {
        name: String,
        /// PUBLISHER, SUBSCRIBER or MODERATOR.
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Where the SQLite database (users, login sessions) lives. With `user …`, after it.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// OpenVidu server URL (as the seed's first argument). Without one, the embedded media server runs.
    #[arg(value_name = "OPENVIDU_URL")]
    pub url_arg: Option<String>,
    /// OpenVidu secret (as the seed's second argument).
    #[arg(value_name = "OPENVIDU_SECRET", hide_env_values = true)]
    pub secret_arg: Option<String>,
    /// OpenVidu server URL, e.g. https://media.example.com.
    #[arg(long, env = "OPENVIDU_URL", conflicts_with = "url_arg")]
    pub openvidu_url: Option<String>,
    /// OpenVidu secret.
    #[arg(
        long,
        env = "OPENVIDU_SECRET",
        hide_env_values = true,
        conflicts_with = "secret_arg"
    )]
    pub openvidu_secret: Option<String>,
    /// PEM file of a CA to trust for the OpenVidu server's certificate (a self-signed or private one).
    #[arg(long, env = "OPENVIDU_CA")]
    pub openvidu_ca: Option<PathBuf>,
    /// DEVELOPMENT ONLY: accept any certificate from the OpenVidu server.
    #[arg(long, env = "OPENVIDU_INSECURE_TLS")]
    pub openvidu_insecure_tls: bool,
    /// Allow an http:// OpenVidu URL to a host other than this machine (the secret then crosses the
    /// network in clear; logged loudly). Without it such a URL is refused.
    #[arg(long, env = "OPENVIDU_ALLOW_HTTP")]
    pub openvidu_allow_http: bool,
    /// Tokens (get-token calls) one user may get per minute; beyond, 429 with Retry-After.
    #[arg(long, env = "TOKENS_PER_MINUTE", default_value_t = app::backend::quota::DEFAULT_TOKENS_PER_MINUTE)]
    pub tokens_per_minute: u32,
    /// Unused (never joined) tokens one user may hold per call; a new one withdraws the oldest.
    #[arg(long, env = "MAX_PENDING_PER_CALL", default_value_t = app::backend::quota::DEFAULT_MAX_PENDING_PER_CALL)]
    pub max_pending_per_call: usize,
    /// Seconds between two looks at user changes (removals, role changes, also by `server user` in
    /// another process), whose connections are then ended.
    #[arg(long, env = "USER_WATCH_INTERVAL", default_value_t = 2)]
    pub user_watch_interval: u64,

    /// Address to listen on [default: 127.0.0.1:5000, or LEPTOS_SITE_ADDR under cargo-leptos].
    #[arg(long, env = "LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve HTTPS. Without --tls-cert/--tls-key a self-signed certificate is generated in the data dir.
    #[arg(long, env = "HTTPS")]
    pub https: bool,
    /// PEM certificate chain for HTTPS.
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The URL browsers use to reach this server [default: from --listen].
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Create the demo accounts (publisher1, publisher2, subscriber, moderator; password "pass") [default: on with
    /// the embedded media server on a loopback listen address, off otherwise]. Without demo mode, demo
    /// accounts left from an earlier run are removed at start-up.
    #[arg(long, env = "DEMO")]
    pub demo: bool,
    /// No demo accounts, even with the embedded media server.
    #[arg(long, env = "NO_DEMO", conflicts_with = "demo")]
    pub no_demo: bool,
    /// Embedded media server: the UDP address for all media.
    #[arg(long, env = "MEDIA_UDP", default_value = "127.0.0.1:0")]
    pub media_udp: SocketAddr,
    /// Embedded media server: its REST secret [default: random at each start]. Set it only to inspect the
    /// media server's REST API (`/openvidu/api`, user OPENVIDUAPP) from tests or tools.
    #[arg(long, env = "MEDIA_SECRET", hide_env_values = true)]
    pub media_secret: Option<String>,
    /// Embedded media server: where its REST API listens, for the app itself and for tools (plain HTTP,
    /// so loopback only) [default: a free port on 127.0.0.1]. Never on the public listener.
    #[arg(long, env = "MEDIA_API_LISTEN", default_value = "127.0.0.1:0")]
    pub media_api_listen: SocketAddr,
    /// Embedded media server: seconds a participant whose socket dropped may take to reconnect.
    #[arg(long, env = "MEDIA_RECONNECT_GRACE", default_value_t = 20)]
    pub media_reconnect_grace: u64,
    /// Embedded media server: seconds after which a call created but never joined is closed.
    #[arg(long, env = "MEDIA_UNUSED_SESSION_TIMEOUT", default_value_t = 3600)]
    pub media_unused_session_timeout: u64,
    /// Embedded media server: seconds a token may wait to be joined before it is withdrawn.
    #[arg(long, env = "MEDIA_PENDING_CONNECTION_TTL", default_value_t = 120)]
    pub media_pending_connection_ttl: u64,
    /// Embedded media server: calls at once.
    #[arg(long, env = "MEDIA_MAX_SESSIONS", default_value_t = mediaserver::Limits::default().max_sessions)]
    pub media_max_sessions: usize,
    /// Embedded media server: connections (pending and joined) per call.
    #[arg(long, env = "MEDIA_MAX_PARTICIPANTS_PER_SESSION", default_value_t = mediaserver::Limits::default().max_participants_per_session)]
    pub media_max_participants_per_session: usize,
    /// Embedded media server: open WebSocket connections per client IP address.
    #[arg(long, env = "MEDIA_MAX_SOCKETS_PER_ADDRESS", default_value_t = mediaserver::Limits::default().max_sockets_per_address)]
    pub media_max_sockets_per_address: usize,
    /// Embedded media server: the IP address written into ICE candidates [default: the UDP address].
    #[arg(long, env = "MEDIA_PUBLIC_IP")]
    pub media_public_ip: Option<IpAddr>,
    /// Where the built site (pkg/, js/) is [default: LEPTOS_SITE_ROOT or target/site].
    #[arg(long, env = "SITE_ROOT")]
    pub site_root: Option<PathBuf>,
}

/// Where the media server is.
#[derive(Clone)]
pub enum Media {
    /// Start one in-process, with a random secret.
    Embedded {
        udp: SocketAddr,
        /// The REST API's loopback listener.
        api_listen: SocketAddr,
        public_ip: Option<IpAddr>,
        secret: Option<Secret>,
        reconnect_grace: Duration,
        unused_session_timeout: Duration,
        /// How long a token may wait to be joined.
        pending_connection_ttl: Duration,
        limits: mediaserver::Limits,
    },
    /// Use a running OpenVidu 2.x.
    External(OpenViduSettings),
}

#[derive(Clone)]
pub enum Tls {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
}

/// Checked settings of a serving run.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub tls: Option<Tls>,
    pub public_url: Option<PublicUrl>,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub media: Media,
    pub site_root: PathBuf,
    /// Quotas of get-token.
    pub tokens: TokenPolicy,
    /// How often user changes are looked for.
    pub user_watch: Duration,
    /// Under `cargo leptos watch`: its live-reload socket, which the page then opens.
    pub live_reload: Option<LiveReload>,
}

/// The live-reload WebSocket of `cargo leptos watch` (`ws://<page host>:<port>/live_reload`). cargo-leptos
/// runs the server with `LEPTOS_WATCH` set and the port in `LEPTOS_RELOAD_PORT`; behind a proxy,
/// `LEPTOS_RELOAD_EXTERNAL_PORT` and `LEPTOS_RELOAD_WS_PROTOCOL=wss` say what the browser uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveReload {
    /// The port the browser connects to.
    pub port: u16,
    /// `wss` rather than `ws` (the page's script also switches to `wss` on an HTTPS page).
    pub secure: bool,
}

impl LiveReload {
    /// From the environment cargo-leptos gives the server: `None` unless watching.
    pub fn from_env() -> anyhow::Result<Option<LiveReload>> {
        LiveReload::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<LiveReload>> {
        // The same test as Leptos's `AutoReload`, which writes the page's script.
        if var("LEPTOS_WATCH").is_none() {
            return Ok(None);
        }
        let port = match var("LEPTOS_RELOAD_EXTERNAL_PORT") {
            Some(p) => p.parse().context("LEPTOS_RELOAD_EXTERNAL_PORT")?,
            None => match var("LEPTOS_RELOAD_PORT") {
                Some(p) => p.parse().context("LEPTOS_RELOAD_PORT")?,
                // Leptos's default.
                None => 3001,
            },
        };
        let secure = match var("LEPTOS_RELOAD_WS_PROTOCOL").as_deref() {
            None | Some("ws") => false,
            Some("wss") => true,
            Some(other) => bail!("LEPTOS_RELOAD_WS_PROTOCOL must be ws or wss, not {other:?}"),
        };
        Ok(Some(LiveReload { port, secure }))
    }
}

/// The ranges duration flags must be in (seconds). Out of range is refused at start-up.
pub const USER_WATCH_RANGE: std::ops::RangeInclusive<u64> = 1..=60;
pub const RECONNECT_GRACE_RANGE: std::ops::RangeInclusive<u64> = 1..=600;
pub const UNUSED_SESSION_RANGE: std::ops::RangeInclusive<u64> = 10..=7 * 86400;
pub const PENDING_CONNECTION_TTL_RANGE: std::ops::RangeInclusive<u64> = 1..=7 * 86400;
/// The embedded media server's quotas (sessions, participants per session, sockets per address).
pub const MEDIA_LIMIT_RANGE: std::ops::RangeInclusive<usize> = 1..=1_000_000;
pub const TOKENS_PER_MINUTE_RANGE: std::ops::RangeInclusive<u32> = 1..=10_000;
pub const MAX_PENDING_RANGE: std::ops::RangeInclusive<usize> = 1..=100;

/// `value` seconds as a duration, or a message naming the flag and its range.
fn seconds(
    flag: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> anyhow::Result<Duration> {
    if !range.contains(&value) {
        bail!(
            "--{flag} must be {} to {} seconds, not {value}",
            range.start(),
            range.end()
        );
    }
    Ok(Duration::from_secs(value))
}

fn count<T: PartialOrd + std::fmt::Display>(
    flag: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> anyhow::Result<T> {
    if !range.contains(&value) {
        bail!(
            "--{flag} must be {} to {}, not {value}",
            range.start(),
            range.end()
        );
    }
    Ok(value)
}

/// Whether an `http(s)://host[:port]/…` URL names this machine (localhost or a loopback address).
pub fn is_loopback_url(url: &str) -> bool {
    PublicUrl::parse(url).is_ok_and(|u| u.is_loopback())
}

/// Whether talking to `url` sends the OpenVidu secret over a network unencrypted: any scheme that is
/// not TLS (`http://`, and `ws://`, which the OpenVidu client reads as `http://`), to a host that is not
/// this machine's loopback.
pub fn in_clear_to_another_machine(url: &PublicUrl) -> bool {
    !url.is_secure() && !url.is_loopback()
}

impl ServeArgs {
    /// The settings to serve with, the data dir given apart (it is the `user` commands' too).
    pub fn check(self, data: DataDir) -> anyhow::Result<Settings> {
        // With a flag before it, clap reads `user` as the seed's positional OpenVidu URL.
        anyhow::ensure!(
            self.url_arg.as_deref() != Some("user"),
            "`user` must come before the options: write `server user list --data-dir DIR` \
             (nothing was changed)"
        );
        let url = self.url_arg.or(self.openvidu_url).filter(|u| !u.is_empty());
        let secret = self
            .secret_arg
            .or(self.openvidu_secret)
            .filter(|s| !s.is_empty());
        let media = match (url, secret) {
            (None, None) => Media::Embedded {
                udp: self.media_udp,
                api_listen: {
                    anyhow::ensure!(
                        self.media_api_listen.ip().is_loopback(),
                        "--media-api-listen must be a loopback address: the REST API carries the secret in clear"
                    );
                    self.media_api_listen
                },
                public_ip: self.media_public_ip,
                secret: self.media_secret.filter(|s| !s.is_empty()).map(Secret::new),
                reconnect_grace: seconds(
                    "media-reconnect-grace",
                    self.media_reconnect_grace,
                    RECONNECT_GRACE_RANGE,
                )?,
                unused_session_timeout: seconds(
                    "media-unused-session-timeout",
                    self.media_unused_session_timeout,
                    UNUSED_SESSION_RANGE,
                )?,
                pending_connection_ttl: seconds(
                    "media-pending-connection-ttl",
                    self.media_pending_connection_ttl,
                    PENDING_CONNECTION_TTL_RANGE,
                )?,
                limits: mediaserver::Limits {
                    max_sessions: count(
                        "media-max-sessions",
                        self.media_max_sessions,
                        MEDIA_LIMIT_RANGE,
                    )?,
                    max_participants_per_session: count(
                        "media-max-participants-per-session",
                        self.media_max_participants_per_session,
                        MEDIA_LIMIT_RANGE,
                    )?,
                    max_sockets_per_address: count(
                        "media-max-sockets-per-address",
                        self.media_max_sockets_per_address,
                        MEDIA_LIMIT_RANGE,
                    )?,
                },
            },
            (Some(url), Some(secret)) => {
                // The messages name the host only: a URL may carry a password.
                let parsed = PublicUrl::parse(&url)
                    .map_err(|e| anyhow::anyhow!("the OpenVidu URL is refused: {e}"))?;
                if in_clear_to_another_machine(&parsed) && !self.openvidu_allow_http {
                    bail!(
                        "the OpenVidu URL to {} is not encrypted (http:// or ws://) and goes to another \
                         machine: the secret would cross the network in clear. Use https://, or pass \
                         --openvidu-allow-http to accept that.",
                        parsed.authority()
                    );
                }
                let ca_pem = match &self.openvidu_ca {
                    Some(path) => Some(
                        std::fs::read(path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    ),
                    None => None,
                };
                Media::External(OpenViduSettings {
                    url,
                    secret: Secret::new(secret),
                    ca_pem,
                    insecure_tls: self.openvidu_insecure_tls,
                })
            }
            (Some(_), None) => bail!("an OpenVidu URL needs its secret (OPENVIDU_SECRET)"),
            (None, Some(_)) => bail!("an OpenVidu secret was given without its URL (OPENVIDU_URL)"),
        };
        let embedded = matches!(media, Media::Embedded { .. });
        let listen = match self.listen {
            Some(l) => l,
            None => match std::env::var("LEPTOS_SITE_ADDR") {
                Ok(addr) => addr.parse().context("LEPTOS_SITE_ADDR")?,
                Err(_) => SocketAddr::from(([127, 0, 0, 1], 5000)),
            },
        };
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::Files { cert, key }),
            _ if self.https => Some(Tls::SelfSigned),
            _ => None,
        };
        let public_url = self
            .public_url
            .as_deref()
            .map(PublicUrl::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--public-url: {e}"))?;
        let site_root = self
            .site_root
            .or_else(|| std::env::var_os("LEPTOS_SITE_ROOT").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("target/site"));
        Ok(Settings {
            listen,
            tls,
            public_url,
            data_dir: data.data_dir,
            // Demo accounts by default only where nobody else can reach them.
            demo: self.demo || (embedded && !self.no_demo && listen.ip().is_loopback()),
            media,
            site_root,
            tokens: TokenPolicy {
                per_minute: count(
                    "tokens-per-minute",
                    self.tokens_per_minute,
                    TOKENS_PER_MINUTE_RANGE,
                )?,
                max_pending_per_call: count(
                    "max-pending-per-call",
                    self.max_pending_per_call,
                    MAX_PENDING_RANGE,
                )?,
            },
            user_watch: seconds(
                "user-watch-interval",
                self.user_watch_interval,
                USER_WATCH_RANGE,
            )?,
            live_reload: LiveReload::from_env()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_reload(vars: &[(&str, &str)]) -> anyhow::Result<Option<LiveReload>> {
        LiveReload::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn live_reload_only_under_watch() {
        assert_eq!(
            live_reload(&[("LEPTOS_RELOAD_PORT", "5001")]).unwrap(),
            None
        );
        let watch = |secure, port| Some(LiveReload { port, secure });
        assert_eq!(
            live_reload(&[("LEPTOS_WATCH", "true"), ("LEPTOS_RELOAD_PORT", "5001")]).unwrap(),
            watch(false, 5001)
        );
        assert_eq!(
            live_reload(&[("LEPTOS_WATCH", "true")]).unwrap(),
            watch(false, 3001)
        );
        assert_eq!(
            live_reload(&[
                ("LEPTOS_WATCH", "true"),
                ("LEPTOS_RELOAD_PORT", "5001"),
                ("LEPTOS_RELOAD_EXTERNAL_PORT", "443"),
                ("LEPTOS_RELOAD_WS_PROTOCOL", "wss"),
            ])
            .unwrap(),
            watch(true, 443)
        );
        assert!(live_reload(&[("LEPTOS_WATCH", "true"), ("LEPTOS_RELOAD_PORT", "x")]).is_err());
    }

    fn parse(args: &[&str]) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))?;
        cli.serve.check(cli.data)
    }

    #[test]
    fn embedded_by_default_with_demo() {
        let s = parse(&["--listen", "127.0.0.1:5000"]).unwrap();
        assert!(matches!(s.media, Media::Embedded { .. }));
        assert!(s.demo);
        assert!(s.tls.is_none());
    }

    #[test]
    fn seed_form_means_external_without_demo() {
        let s = parse(&[
            "--listen",
            "127.0.0.1:5000",
            "https://media.example.com",
            "MY_SECRET",
        ])
        .unwrap();
        let Media::External(ov) = s.media else {
            panic!("expected external")
        };
        assert_eq!(ov.url, "https://media.example.com");
        assert_eq!(ov.secret.expose(), "MY_SECRET");
        assert!(!ov.insecure_tls);
        assert!(!s.demo);
        let s = parse(&["--listen", "127.0.0.1:5000", "--demo", "https://m", "S"]).unwrap();
        assert!(s.demo);
        let s = parse(&["--listen", "127.0.0.1:5000", "--no-demo"]).unwrap();
        assert!(!s.demo);
    }

    #[test]
    fn no_default_demo_off_loopback() {
        let s = parse(&["--listen", "0.0.0.0:5000"]).unwrap();
        assert!(!s.demo, "not loopback: no demo by default");
        let s = parse(&["--listen", "192.168.1.10:5000"]).unwrap();
        assert!(!s.demo);
        let s = parse(&["--listen", "0.0.0.0:5000", "--demo"]).unwrap();
        assert!(s.demo, "an explicit --demo still works");
        let s = parse(&["--listen", "[::1]:5000"]).unwrap();
        assert!(s.demo);
    }

    #[test]
    fn url_without_secret_is_refused() {
        assert!(parse(&["--listen", "127.0.0.1:5000", "--openvidu-url", "https://m"]).is_err());
    }

    #[test]
    fn http_to_another_machine_needs_the_flag() {
        let remote = [
            "--listen",
            "127.0.0.1:5000",
            "http://10.0.0.2:4443",
            "SEKRIT123",
        ];
        let e = parse(&remote).err().expect("refused").to_string();
        assert!(e.contains("--openvidu-allow-http"), "{e}");
        assert!(!e.contains("SEKRIT123"), "no secret in the message: {e}");
        let allowed = [&remote[..], &["--openvidu-allow-http"]].concat();
        assert!(parse(&allowed).is_ok());
        // ws:// is read as http://: the same refusal, whatever the case of the scheme.
        for plain in [
            "ws://10.0.0.2:4443",
            "WS://10.0.0.2:4443",
            "Http://10.0.0.2",
        ] {
            let e = parse(&["--listen", "127.0.0.1:5000", plain, "SEKRIT123"])
                .err()
                .expect("refused")
                .to_string();
            assert!(e.contains("--openvidu-allow-http"), "{plain}: {e}");
            assert!(!e.contains("SEKRIT123"), "no secret in the message: {e}");
        }
        for ok in [
            "http://127.0.0.1:4443",
            "ws://127.0.0.1:4443",
            "wss://10.0.0.2",
            "http://localhost:4443",
            "http://[::1]:4443",
            "https://10.0.0.2",
        ] {
            assert!(
                parse(&["--listen", "127.0.0.1:5000", ok, "S"]).is_ok(),
                "{ok}"
            );
        }
        assert!(
            parse(&[
                "--listen",
                "127.0.0.1:5000",
                "HTTP://media.example.com",
                "S"
            ])
            .is_err()
        );
    }

    #[test]
    fn out_of_range_durations_are_refused() {
        for (flag, bad) in [
            ("--media-reconnect-grace", "0"),
            ("--media-reconnect-grace", "18446744073709551615"),
            ("--media-unused-session-timeout", "1"),
            ("--user-watch-interval", "0"),
            ("--user-watch-interval", "3600"),
            ("--tokens-per-minute", "0"),
            ("--max-pending-per-call", "0"),
            ("--media-pending-connection-ttl", "0"),
            ("--media-max-sessions", "0"),
            ("--media-max-participants-per-session", "0"),
            ("--media-max-sockets-per-address", "2000000"),
        ] {
            let e = parse(&["--listen", "127.0.0.1:5000", flag, bad])
                .err()
                .expect(flag)
                .to_string();
            assert!(
                e.contains(&flag[2..]) && e.contains(bad),
                "{flag} {bad}: {e}"
            );
        }
        // Not a number at all: clap says so.
        assert!(
            parse(&[
                "--listen",
                "127.0.0.1:5000",
                "--media-reconnect-grace",
                "1e99"
            ])
            .is_err()
        );
        let s = parse(&[
            "--listen",
            "127.0.0.1:5000",
            "--media-reconnect-grace",
            "600",
        ])
        .unwrap();
        let Media::Embedded {
            reconnect_grace, ..
        } = s.media
        else {
            panic!("embedded")
        };
        assert_eq!(reconnect_grace, Duration::from_secs(600));
        assert_eq!(s.tokens.per_minute, 30);
        assert_eq!(s.tokens.max_pending_per_call, 3);
    }

    #[test]
    fn the_embedded_media_servers_quotas_and_token_lifetime_are_settings() {
        let defaults = parse(&["--listen", "127.0.0.1:5000"]).unwrap();
        let Media::Embedded {
            pending_connection_ttl,
            limits,
            ..
        } = defaults.media
        else {
            panic!("embedded")
        };
        assert_eq!(pending_connection_ttl, Duration::from_secs(120));
        assert_eq!(limits, mediaserver::Limits::default());
        let s = parse(&[
            "--listen",
            "127.0.0.1:5000",
            "--media-pending-connection-ttl",
            "30",
            "--media-max-sessions",
            "5",
            "--media-max-participants-per-session",
            "6",
            "--media-max-sockets-per-address",
            "7",
        ])
        .unwrap();
        let Media::Embedded {
            pending_connection_ttl,
            limits,
            ..
        } = s.media
        else {
            panic!("embedded")
        };
        assert_eq!(pending_connection_ttl, Duration::from_secs(30));
        assert_eq!(
            limits,
            mediaserver::Limits {
                max_sessions: 5,
                max_participants_per_session: 6,
                max_sockets_per_address: 7,
            }
        );
    }

    #[test]
    fn user_subcommands_parse() {
        let cli = Cli::try_parse_from(["server", "user", "add", "alice", "--role", "SUBSCRIBER"])
            .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::User(UserCommand::Add { .. }))
        ));
    }

    #[test]
    fn the_data_dir_goes_after_the_user_command() {
        for args in [
            &["server", "user", "list", "--data-dir", "/srv/calls"][..],
            &["server", "user", "--data-dir", "/srv/calls", "list"][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(
                matches!(cli.command, Some(Command::User(UserCommand::List))),
                "{args:?}"
            );
            assert_eq!(cli.data.data_dir, PathBuf::from("/srv/calls"), "{args:?}");
        }
        // Before `user`, clap takes `user list` for the seed's positional URL and secret: refused
        // with a sentence that says the order, not started as a server on the URL "user".
        let cli =
            Cli::try_parse_from(["server", "--data-dir", "/srv/calls", "user", "list"]).unwrap();
        let Err(error) = cli.serve.check(cli.data) else {
            panic!("`server --data-dir DIR user list` was taken for a server start")
        };
        let error = error.to_string();
        assert!(error.contains("`user` must come before"), "{error}");
        // And serving takes it too.
        let cli = Cli::try_parse_from(["server", "--data-dir", "/srv/calls"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.data.data_dir, PathBuf::from("/srv/calls"));
    }
}
