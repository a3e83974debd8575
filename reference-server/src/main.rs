//! The `voice-reference-server` binary: parse flags, set up logs, serve until a signal.

use anyhow::Context as _;
use clap::Parser;
use voice_reference_server::Application;
use voice_reference_server::cli::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Flushes the queued log lines when `main` returns.
    let _logs = voice_reference_server::telemetry::init(cli.log_format);
    let settings = cli.into_settings()?;
    let app = Application::build(settings)
        .await
        .context("starting the server")?;
    app.run_until_stopped().await.context("serving")?;
    Ok(())
}
