//! `voice-audit demo`: the whole product in one command. Starts the reference server in-process
//! on a free port with a temporary SQLite database (or the PostgreSQL and Redis it is given),
//! audits it like any other deployment, and writes the report — what a newcomer runs first,
//! and what CI runs to prove 100/100. The server is restarted on the same database and its
//! in-process cache switched off and on during the run, so recovery is assessed too.

use crate::cli::{DemoArgs, audit_and_report};
use crate::error::AuditError;
use crate::inproc::InProcessServer;
use crate::run::RunConfig;
use std::time::Duration;
use voice_reference_server::auth::TokenService;
use voice_reference_server::cache::CacheConfig;
use voice_reference_server::{Faults, Settings};

/// How long the demo server may take to be ready again after a restart or the cache's return.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: &DemoArgs) -> Result<bool, AuditError> {
    let faults = Faults::from_names(&args.faults).map_err(|e| AuditError::Server(e.to_string()))?;
    let dir =
        tempfile::tempdir().map_err(|e| AuditError::Server(format!("no temporary folder: {e}")))?;
    let database = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display()));
    // The demo server allows the origin the audit is told to expect.
    let mut settings = Settings::ephemeral(database)
        .with_faults(faults)
        .with_cors_origins(args.probing.cors_origin.iter().cloned().collect());
    // A key on disk: tokens must survive the restart (and a shared cache needs one anyway).
    let key = dir.path().join("jwt.pem");
    let pem = TokenService::generate_pem().map_err(|e| AuditError::Server(e.to_string()))?;
    std::fs::write(&key, pem)
        .map_err(|e| AuditError::Server(format!("cannot write the demo key: {e}")))?;
    settings.jwt_key_file = Some(key);
    if let Some(url) = &args.cache_url {
        settings.cache = CacheConfig::Redis {
            url: url.clone(),
            prefix: format!("voice-audit-demo:{}:", uuid::Uuid::new_v4().simple()),
        };
    }
    let server = InProcessServer::start(settings).await?;
    if !args.output.quiet {
        eprintln!(
            "voice-audit: reference server listening on {}",
            server.base_url()
        );
    }
    let mut config = RunConfig::new(server.base_url());
    config.probe = args.probing.settings(true);
    config.profiles = args.probing.profile.clone();
    config.frontend_har = args.probing.frontend_har.clone();
    config.cors_origin = args.probing.cors_origin.clone();
    config.hooks = server.hooks(READY_TIMEOUT).await;
    let outcome = audit_and_report(&config, &args.output).await;
    server.shutdown().await;
    outcome
}
