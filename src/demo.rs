//! `voice-audit demo`: the whole product in one command. Starts the reference server in-process
//! on a free port with a temporary SQLite database, audits it like any other deployment, and
//! writes the report — what a newcomer runs first, and what CI runs to prove 100/100.

use crate::cli::{DemoArgs, audit_and_report};
use crate::error::AuditError;
use crate::run::RunConfig;
use voice_reference_server::{Application, Faults, Settings};

pub async fn run(args: &DemoArgs) -> Result<bool, AuditError> {
    let faults = Faults::from_names(&args.faults).map_err(|e| AuditError::Server(e.to_string()))?;
    let dir =
        tempfile::tempdir().map_err(|e| AuditError::Server(format!("no temporary folder: {e}")))?;
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    // The demo server allows the origin the audit is told to expect.
    let settings = Settings::ephemeral(database)
        .with_faults(faults)
        .with_cors_origins(args.probing.cors_origin.iter().cloned().collect());
    let app = Application::build(settings)
        .await
        .map_err(|e| AuditError::Server(e.to_string()))?;
    let server = app.spawn();
    if !args.output.quiet {
        eprintln!(
            "voice-audit: reference server listening on {}",
            server.base_url()
        );
    }
    let mut config = RunConfig::new(&server.base_url());
    config.probe = args.probing.settings(true);
    config.profile = args.probing.profile.clone();
    config.cors_origin = args.probing.cors_origin.clone();
    let outcome = audit_and_report(&config, &args.output).await;
    server.shutdown().await;
    outcome
}
