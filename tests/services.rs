//! The reference server on PostgreSQL + Redis (its production shape) scores 100 like the
//! embedded one: the audit is the same, only the storage, cache and bus tiers differ.
//! Needs the machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379); fails with a
//! clear message when they are absent, unless `VOICE_SKIP_SERVICES=1`.

use crate::support;
use crate::support::services::{REDIS_URL, Services};
use std::process::Command;
use voice_reference_server::Application;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_on_postgres_and_redis_scores_100() {
    let Some(services) = Services::start("t") else {
        return;
    };
    let handle = Application::build(services.settings())
        .await
        .expect("server starts on PostgreSQL + Redis")
        .spawn();
    let audit = support::audit(&handle.base_url()).await;
    let r = &audit.report;
    assert_eq!(support::failing(r), Vec::<String>::new());
    assert_eq!(r.score.total, 100.0);
    let ready = support::check(r, "state.readiness_consistent");
    assert_eq!(ready.points_earned, ready.points_max);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_on_postgres_and_redis_scores_100() {
    let Some(services) = Services::start("t") else {
        return;
    };
    let out = tempfile::tempdir().expect("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_voice-audit"));
    cmd.args([
        "demo",
        "--switches",
        "5",
        "--timeout",
        "3",
        "--fail-under",
        "100",
        "-q",
    ])
    .args(["--database-url", &services.database_url()])
    .args(["--cache-url", REDIS_URL, "--out"])
    .arg(out.path());
    let _turn = support::turn().await;
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    let results = std::fs::read_to_string(out.path().join("results.json")).expect("results");
    let results: serde_json::Value = serde_json::from_str(&results).expect("json");
    assert_eq!(results["score"]["total"], 100.0);
}
