//! Recovery after a restart and a cache outage (`state.recovery_after_restart`,
//! `state.two_tier_storage`): the in-process reference server passes both through the same
//! hooks a deployment gets from `--restart-cmd` and `--cache-down-cmd`/`--cache-up-cmd`; a
//! server that forgets sessions on restart, one whose replay is lost on restart, one whose
//! revocation fails open while the cache is down, and hooks that fail or hang each make the
//! check fail and the score drop. Two instances on PostgreSQL and a Redis of the test's own,
//! restarted and stopped by shell hooks, pass both along with the several-instances checks.

use crate::support;
use crate::support::services::{OwnRedis, Services};
use std::sync::Arc;
use std::time::{Duration, Instant};
use voice_audit::inproc::InProcessServer;
use voice_audit::model::{AuditReport, Status};
use voice_audit::probe::hook::ShellHook;
use voice_audit::probe::recovery::Hooks;
use voice_audit::run::{self, RunConfig};
use voice_reference_server::auth::TokenService;
use voice_reference_server::cache::CacheConfig;
use voice_reference_server::{Application, Faults, Settings};

const CHECKS: [&str; 2] = ["state.recovery_after_restart", "state.two_tier_storage"];
const RESTART: &str = CHECKS[0];
const OUTAGE: &str = CHECKS[1];

/// A restartable reference server on a temporary SQLite file with a signing key on disk.
async fn start(faults: &[&str]) -> (Arc<InProcessServer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
    let key = dir.path().join("jwt.pem");
    std::fs::write(&key, TokenService::generate_pem().expect("key")).expect("key written");
    let mut settings =
        Settings::ephemeral(database).with_faults(Faults::from_names(faults).expect("faults"));
    settings.jwt_key_file = Some(key);
    let server = InProcessServer::start(settings)
        .await
        .expect("server starts");
    (server, dir)
}

async fn audit(url: &str, hooks: Hooks) -> AuditReport {
    let _turn = support::turn().await;
    let mut config = RunConfig::new(url);
    config.probe = support::quick();
    config.hooks = hooks;
    run::audit(&config, &|_| {})
        .await
        .expect("the audit runs")
        .report
}

fn status(r: &AuditReport, id: &str) -> Status {
    support::check(r, id).status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_recovers_from_a_restart_and_a_cache_outage() {
    let (server, _dir) = start(&[]).await;
    let hooks = server.hooks(Duration::from_secs(10)).await;
    let r = audit(server.base_url(), hooks).await;
    server.shutdown().await;
    assert_eq!(support::failing(&r), Vec::<String>::new());
    for id in CHECKS {
        assert_eq!(
            status(&r, id),
            Status::Pass,
            "{id}: {}",
            support::check(&r, id).summary
        );
    }
    assert!(
        support::check(&r, RESTART)
            .summary
            .contains("ready again after")
    );
    // The binding has the call roles: each live session's call was placed, kept and listed.
    let evidence = restart_items(&r);
    for what in ["kept its state", "still listed as active"] {
        let calls = evidence
            .iter()
            .filter(|d| d.starts_with("held: call ") && d.contains(what))
            .count();
        assert_eq!(calls, 3, "{what}: {evidence:?}");
    }
    assert_eq!(r.score.total, 100.0);
}

/// Every item line of the restart check (passed ones included), from the report's details.
fn restart_items(r: &AuditReport) -> Vec<String> {
    support::check(r, RESTART).details.clone()
}

/// The score of a run where `check_id` fails, next to the clean run's 100.
/// `check_id` failed (or partly), the score dropped, and its summary or a detail names the
/// reason `why`.
fn dropped(r: &AuditReport, check_id: &str, why: &str) {
    let c = support::check(r, check_id);
    assert!(
        matches!(c.status, Status::Fail | Status::Partial),
        "{check_id} should fail, got {:?}: {} {:?}",
        c.status,
        c.summary,
        c.details
    );
    assert!(r.score.total < 100.0, "the score stayed {}", r.score.total);
    assert!(
        c.summary.contains(why) || c.details.iter().any(|d| d.contains(why)),
        "{check_id}: nothing says {why:?}: {} {:?}",
        c.summary,
        c.details
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_forgets_sessions_on_restart_fails_recovery() {
    let (server, dir) = start(&[]).await;
    // The restarted server comes up on an empty database.
    let fresh = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("empty.db").display()
    );
    server.on_next_start(|s| s.database_url = fresh).await;
    let r = audit(
        server.base_url(),
        server.hooks(Duration::from_secs(10)).await,
    )
    .await;
    server.shutdown().await;
    dropped(&r, RESTART, "kept its state");
    // The calls placed before the restart are gone too, and the check says so per call.
    let lost: Vec<String> = restart_items(&r)
        .into_iter()
        .filter(|d| d.starts_with("call ") && d.contains("failed (HTTP 404"))
        .collect();
    assert_eq!(lost.len(), 3, "{:?}", restart_items(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_loses_replay_on_restart_fails_recovery() {
    // Replay served from process memory only: resume works until the restart, then silently
    // replays nothing. Only the restart check may notice.
    let (server, _dir) = start(&["volatile-replay"]).await;
    let r = audit(
        server.base_url(),
        server.hooks(Duration::from_secs(10)).await,
    )
    .await;
    server.shutdown().await;
    dropped(&r, RESTART, "missing seqs");
    // Resume before the restart still worked: nothing else failed.
    let failing = support::failing(&r);
    assert!(
        failing.len() == 1 && failing[0].starts_with(RESTART),
        "{failing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_failing_open_during_a_cache_outage_fails_two_tier_storage() {
    let (server, _dir) = start(&["cache-fail-open"]).await;
    let r = audit(
        server.base_url(),
        server.hooks(Duration::from_secs(10)).await,
    )
    .await;
    server.shutdown().await;
    dropped(&r, OUTAGE, "failed open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_hanging_hooks_fail_their_checks_with_the_reason_and_never_hang() {
    let server = support::server(&[]).await;
    let hooks = Hooks {
        restart: Some(ShellHook::shared("sleep 30")),
        cache_down: Some(ShellHook::shared("echo no such container >&2; exit 3")),
        cache_up: Some(ShellHook::shared("true")),
        ready_timeout: Duration::from_secs(1),
    };
    let started = Instant::now();
    let r = audit(&server.url(), hooks).await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the audit hung"
    );
    assert_eq!(status(&r, RESTART), Status::Fail);
    assert!(
        support::check(&r, RESTART)
            .summary
            .contains("did not finish within 2 s")
    );
    assert_eq!(status(&r, OUTAGE), Status::Fail);
    let s = &support::check(&r, OUTAGE).summary;
    assert!(s.contains('3'), "the exit status is quoted: {s}");
    dropped(&r, OUTAGE, "no such container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_and_redis_recover_from_a_restart_and_a_redis_outage() {
    let Some(services) = Services::start("rec") else {
        return;
    };
    let Some(redis) = OwnRedis::start() else {
        return;
    };
    let mut settings = services.settings();
    settings.cache = CacheConfig::Redis {
        url: redis.url(),
        prefix: format!("voice:audit-test:{}:", services.database),
    };
    let a = InProcessServer::start(settings.clone())
        .await
        .expect("A starts");
    let b = Application::build(settings).await.expect("B").spawn();
    let mut hooks = a.hooks(Duration::from_secs(10)).await;
    // Redis is stopped (losing what it held) and started again by shell commands, as an
    // operator's --cache-down-cmd/--cache-up-cmd would.
    hooks.cache_down = Some(ShellHook::shared(&redis.down_cmd()));
    hooks.cache_up = Some(ShellHook::shared(&redis.up_cmd()));
    let _turn = support::turn().await;
    let mut config = RunConfig::new(a.base_url());
    config.probe = support::quick();
    config.hooks = hooks;
    config.instances = vec![b.base_url()];
    let r = run::audit(&config, &|_| {})
        .await
        .expect("the audit runs")
        .report;
    a.shutdown().await;
    b.shutdown().await;
    for id in [RESTART, OUTAGE, "auth.revocation_propagation"] {
        println!(
            "PG+Redis, two instances: {}",
            support::check(&r, id).summary
        );
    }
    assert_eq!(support::failing(&r), Vec::<String>::new());
    for id in CHECKS
        .into_iter()
        .chain(["auth.revocation_propagation", "ws.cross_instance_events"])
    {
        assert_eq!(
            status(&r, id),
            Status::Pass,
            "{id}: {} {:?}",
            support::check(&r, id).summary,
            support::check(&r, id).details
        );
    }
    assert_eq!(r.score.total, 100.0);
}
