//! Shared helpers: a reference server per test (own temporary database, optional faults) and
//! an in-process audit with small, fast settings.

pub mod bigspec;
pub mod collapse;
pub mod foreign;
pub mod layered;
pub mod services;

use std::time::Duration;
use voice_audit::model::{AuditReport, CheckResult, Status};
use voice_audit::probe::ProbeSettings;
use voice_audit::run::{self, Audit, RunConfig};
use voice_reference_server::{Application, Faults, ServerHandle, Settings};

pub struct Server {
    pub handle: ServerHandle,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn url(&self) -> String {
        self.handle.base_url()
    }
}

pub async fn server(faults: &[&str]) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("server.db").display()
    );
    let faults = Faults::from_names(faults).expect("known faults");
    let app = Application::build(Settings::ephemeral(database).with_faults(faults))
        .await
        .expect("server starts");
    Server {
        handle: app.spawn(),
        _dir: dir,
    }
}

/// Settings small enough for a test, large enough that every probe runs.
pub fn quick() -> ProbeSettings {
    ProbeSettings {
        switches: 6,
        allow_register: true,
        timeout: Duration::from_secs(3),
        latency_samples: 8,
        throughput_messages: 200,
        ..ProbeSettings::default()
    }
}

/// Audits run one at a time: they measure latencies and throughput of a live server on a
/// two-core machine, and two at once would measure each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

pub async fn audit(url: &str) -> Audit {
    let _turn = turn().await;
    let mut config = RunConfig::new(url);
    config.probe = quick();
    run::audit(&config, &|_| {}).await.expect("the audit runs")
}

pub async fn audit_with_faults(faults: &[&str]) -> AuditReport {
    let server = server(faults).await;
    audit(&server.url()).await.report
}

pub fn check<'a>(report: &'a AuditReport, id: &str) -> &'a CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

pub fn failing(report: &AuditReport) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Partial))
        .map(|c| format!("{} ({:?}): {} {:?}", c.id, c.status, c.summary, c.details))
        .collect()
}
