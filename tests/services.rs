//! The reference server on PostgreSQL + Redis (its production shape) scores 100 like the
//! embedded one: the audit is the same, only the storage, cache and bus tiers differ.
//! Needs the machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379); fails with a
//! clear message when they are absent, unless `VOICE_SKIP_SERVICES=1`.

use crate::support;
use std::process::Command;
use voice_reference_server::auth::TokenService;
use voice_reference_server::cache::CacheConfig;
use voice_reference_server::{Application, Settings};

fn skip_services() -> bool {
    std::env::var("VOICE_SKIP_SERVICES").is_ok_and(|v| v == "1")
}

fn psql(sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A database of this test only, dropped at the end.
struct Database(String);

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_on_postgres_and_redis_scores_100() {
    let name = format!("voice_audit_t_{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = psql(&format!("CREATE DATABASE {name}")) {
        assert!(
            skip_services(),
            "PostgreSQL not usable at 127.0.0.1:5432 ({e}); set VOICE_SKIP_SERVICES=1 to skip"
        );
        eprintln!("skipped: VOICE_SKIP_SERVICES=1 and PostgreSQL is not usable");
        return;
    }
    let database = Database(name);
    assert!(
        std::net::TcpStream::connect("127.0.0.1:6379").is_ok() || skip_services(),
        "Redis not reachable at 127.0.0.1:6379; set VOICE_SKIP_SERVICES=1 to skip"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("jwt.pem");
    std::fs::write(&key, TokenService::generate_pem().expect("key")).expect("key file");
    let mut settings =
        Settings::ephemeral(format!("postgres://postgres@127.0.0.1:5432/{}", database.0));
    settings.jwt_key_file = Some(key);
    settings.cache = CacheConfig::Redis {
        url: "redis://127.0.0.1:6379".into(),
        prefix: format!("voice:audit-test:{}:", database.0),
    };
    let handle = Application::build(settings)
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
    let name = format!("voice_audit_t_{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = psql(&format!("CREATE DATABASE {name}")) {
        assert!(
            skip_services(),
            "PostgreSQL not usable at 127.0.0.1:5432 ({e}); set VOICE_SKIP_SERVICES=1 to skip"
        );
        return;
    }
    let database = Database(name);
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
    .args([
        "--database-url",
        &format!("postgres://postgres@127.0.0.1:5432/{}", database.0),
    ])
    .args(["--cache-url", "redis://127.0.0.1:6379", "--out"])
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
