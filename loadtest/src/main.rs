//! `loadtest`: loads a media server with synthetic participants and reports what it measured.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use loadtest::http::{OpenViduRest, connection_rate};
use loadtest::{PublishSettings, RunConfig, Scenario, Target};

#[derive(Clone, Copy, ValueEnum)]
enum Server {
    /// Ours, or any OpenVidu 2 server: REST + JSON-RPC.
    Ours,
    /// Janus's VideoRoom plugin over the Janus WebSocket API.
    Janus,
}

/// Synthetic OpenVidu (or Janus VideoRoom) participants on str0m: publish VP8 + Opus, subscribe,
/// measure loss, delay and time to first keyframe, and the server's CPU and memory.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[arg(long, value_enum, default_value = "ours")]
    server: Server,
    /// Ours: the REST/WebSocket address (host:port). Janus: its WebSocket URL.
    #[arg(long, default_value = "127.0.0.1:4443")]
    url: String,
    /// The OpenVidu secret (ours only). Prefer the variable: a flag shows in the process list.
    #[arg(
        long,
        env = "OPENVIDU_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    secret: String,
    /// meeting:N, broadcast:N or sessions:MxK.
    #[arg(long, default_value = "meeting:3")]
    scenario: Scenario,
    /// Seconds of the measurement window.
    #[arg(long, default_value_t = 30.0)]
    window: f64,
    /// Seconds between the ramp (all subscriptions showing video) and the window.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// At most this many seconds for everyone to join and see a first keyframe.
    #[arg(long, default_value_t = 60.0)]
    ramp_timeout: f64,
    /// Milliseconds between two participants starting.
    #[arg(long, default_value_t = 20)]
    join_interval_ms: u64,
    #[arg(long, default_value_t = 300)]
    video_kbps: u32,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Seconds between keyframes (a keyframe is also sent on every PLI or FIR).
    #[arg(long, default_value_t = 2.0)]
    keyframe_interval: f64,
    /// Bytes of each 20 ms Opus packet; 0 publishes no audio.
    #[arg(long, default_value_t = 80)]
    audio_bytes: usize,
    /// The server's process id: its CPU (utime + stime) and memory are read from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Local address of the media sockets.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Runtime threads of this client.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Instead of a scenario: create this many connections (tokens) over REST and report the rate (ours only).
    #[arg(long)]
    rest_rate: Option<usize>,
    /// Concurrent requests for --rest-rate.
    #[arg(long, default_value_t = 8)]
    rest_concurrency: usize,
    /// Instead of a scenario: have the video-call app (at --app-url) hand out this many tokens through
    /// its `get-token` server function, to the --app-users at once, and report the rate.
    #[arg(long)]
    app_token_rate: Option<usize>,
    /// The app's address (host:port, plain HTTP) for --app-token-rate.
    #[arg(long, default_value = "127.0.0.1:5000")]
    app_url: String,
    /// The app's users for --app-token-rate, comma-separated; each logs in and asks for tokens one at a
    /// time, all of them at once.
    #[arg(long, value_delimiter = ',')]
    app_users: Vec<String>,
    /// The --app-users' password (all the same). A flag would show in the process list: only the
    /// variable.
    #[arg(skip = std::env::var("APP_PASSWORD").unwrap_or_default())]
    app_password: String,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        (1..=64).contains(&args.threads),
        "--threads must be 1 to 64"
    );
    anyhow::ensure!(
        args.window > 0.0 && args.window <= 3600.0,
        "--window must be in (0, 3600] seconds"
    );
    anyhow::ensure!(
        args.ramp_timeout > 0.0 && args.ramp_timeout <= 3600.0,
        "--ramp-timeout must be in (0, 3600] seconds"
    );
    anyhow::ensure!(
        (0.0..=600.0).contains(&args.warmup),
        "--warmup must be in [0, 600] seconds"
    );
    anyhow::ensure!((1..=120).contains(&args.fps), "--fps must be 1 to 120");
    anyhow::ensure!(
        (10..=20_000).contains(&args.video_kbps),
        "--video-kbps must be 10 to 20000"
    );
    anyhow::ensure!(
        args.audio_bytes <= 1000,
        "--audio-bytes must be at most 1000"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(count) = args.app_token_rate {
        return app_token_rate(&args, count).await;
    }
    let target = match args.server {
        Server::Ours => {
            anyhow::ensure!(
                !args.secret.is_empty(),
                "ours needs the OpenVidu secret (OPENVIDU_SECRET)"
            );
            let addr = host_port(&args.url, "--url must be host:port for ours")?;
            Target::OpenVidu(OpenViduRest::new(addr, &args.secret))
        }
        Server::Janus => Target::Janus(args.url.clone()),
    };
    if let Some(count) = args.rest_rate {
        let Target::OpenVidu(rest) = &target else {
            anyhow::bail!("--rest-rate is for ours (OpenVidu REST)")
        };
        anyhow::ensure!(
            (1..=100_000).contains(&count),
            "--rest-rate must be 1 to 100000"
        );
        let rate = connection_rate(
            rest,
            count,
            args.rest_concurrency.clamp(1, 256),
            Duration::from_secs(120),
        )
        .await?;
        println!(
            "REST connections created: {} in {:.2} s = {:.0}/s ({} failed)",
            rate.connections, rate.seconds, rate.per_second, rate.failed
        );
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&rate)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(());
    }
    let keyframe_interval_frames =
        ((args.keyframe_interval * args.fps as f64).round() as u32).max(1);
    let config = RunConfig {
        scenario: args.scenario,
        target,
        publish: PublishSettings {
            video_bitrate_bps: args.video_kbps * 1000,
            fps: args.fps,
            keyframe_interval_frames,
            audio_packet_bytes: args.audio_bytes,
        },
        ip: args.ip,
        ramp_timeout: Duration::from_secs_f64(args.ramp_timeout),
        warmup: Duration::from_secs_f64(args.warmup),
        window: Duration::from_secs_f64(args.window),
        join_interval: Duration::from_millis(args.join_interval_ms.min(10_000)),
        server_pid: args.server_pid,
        progress: !args.quiet,
    };
    let report = loadtest::scenario::run(config).await?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `host:port`, or `http://host:port`.
fn host_port(url: &str, problem: &'static str) -> anyhow::Result<SocketAddr> {
    url.trim_start_matches("http://").parse().context(problem)
}

/// `--app-token-rate`: the app's get-token rate, printed and written as JSON.
async fn app_token_rate(args: &Args, count: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=100_000).contains(&count),
        "--app-token-rate must be 1 to 100000"
    );
    anyhow::ensure!(
        (1..=256).contains(&args.app_users.len()),
        "--app-token-rate needs 1 to 256 --app-users"
    );
    anyhow::ensure!(
        !args.app_password.is_empty(),
        "--app-token-rate needs the users' password in APP_PASSWORD"
    );
    let addr = host_port(&args.app_url, "--app-url must be host:port")?;
    let rate = loadtest::app::token_rate(
        addr,
        &args.app_users,
        &args.app_password,
        "bench-tokens",
        count,
        Duration::from_secs(120),
    )
    .await?;
    println!(
        "app get-token: {} tokens in {:.2} s = {:.0}/s, {} users at once ({} failed{})",
        rate.tokens,
        rate.seconds,
        rate.per_second,
        rate.users,
        rate.failed,
        rate.first_error
            .as_deref()
            .map(|e| format!("; first: {e}"))
            .unwrap_or_default()
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rate)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
