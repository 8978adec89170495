//! `server [OPENVIDU_URL OPENVIDU_SECRET] [flags]` serves the app; `server user …` manages accounts.

use app::backend::throttle::ThrottlePolicy;
use clap::Parser;
use server::config::{Cli, Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The embedded media server's WebSocket carries tokens: the crates that would print whole frames
    // at debug/trace level stay at info whatever RUST_LOG says.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,str0m=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(mediaserver::quiet_log_directives(filter))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let cli = Cli::parse();
    if let Some(Command::User(command)) = cli.command {
        return server::users_cli::run(command, cli.data).await;
    }
    let settings = cli.serve.check(cli.data)?;
    let running = server::start(settings, ThrottlePolicy::default()).await?;
    println!("Open {} in a browser.", running.public_url());
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping");
    running.shutdown().await;
    Ok(())
}
