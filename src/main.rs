//! The `voice-audit` binary: parse, run, exit with the documented code.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    voice_audit::cli::execute(voice_audit::cli::Cli::parse()).await
}
