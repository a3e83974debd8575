//! `voice-audit demo`: the whole product in one command. Starts the reference server in-process
//! on a free port with a temporary SQLite database (or the PostgreSQL and Redis it is given),
//! audits it like any other deployment, and writes the report — what a newcomer runs first,
//! and what CI runs to prove 100/100.

use crate::cli::{DemoArgs, audit_and_report};
use crate::error::AuditError;
use crate::run::RunConfig;
use voice_reference_server::auth::TokenService;
use voice_reference_server::cache::CacheConfig;
use voice_reference_server::{Application, Faults, Settings};

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
    if let Some(url) = &args.cache_url {
        // A shared cache needs a key every instance shares; the demo has one instance.
        let key = dir.path().join("jwt.pem");
        let pem = TokenService::generate_pem().map_err(|e| AuditError::Server(e.to_string()))?;
        std::fs::write(&key, pem)
            .map_err(|e| AuditError::Server(format!("cannot write the demo key: {e}")))?;
        settings.jwt_key_file = Some(key);
        settings.cache = CacheConfig::Redis {
            url: url.clone(),
            prefix: format!("voice-audit-demo:{}:", uuid::Uuid::new_v4().simple()),
        };
    }
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
    config.profiles = args.probing.profile.clone();
    config.frontend_har = args.probing.frontend_har.clone();
    config.cors_origin = args.probing.cors_origin.clone();
    let outcome = audit_and_report(&config, &args.output).await;
    server.shutdown().await;
    outcome
}
