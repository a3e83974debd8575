//! Several instances (`--target` repeated): two reference servers sharing PostgreSQL, Redis (a
//! prefix of the test's own) and a signing key pass `auth.revocation_propagation` and
//! `ws.cross_instance_events`; two embedded servers on one SQLite file, each with its own
//! in-process cache and bus, fail the revocation check: the second instance never closes its
//! socket of the revoked token (events still cross there, replayed from the shared database).
//! With a single target both checks are not assessed.

use crate::support;
use crate::support::services::{Services, key_file};
use std::time::Duration;
use voice_audit::check::{Finding, Outcome, instances};
use voice_audit::run::parse_target;
use voice_reference_server::{Application, ServerHandle, Settings};

async fn propagation(a: &ServerHandle, b: &ServerHandle, wait: Duration) -> [Finding; 2] {
    let mut ctx = crate::load::ctx(&a.base_url(), true).await;
    ctx.settings.timeout = wait;
    let other = parse_target(&b.base_url()).expect("target");
    let obs = voice_audit::probe::instances::probe(&ctx, &[other]).await;
    instances::findings(Some(&obs))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_and_redis_propagate_revocation_and_events() {
    let Some(services) = Services::start("i") else {
        return;
    };
    let a = Application::build(services.settings())
        .await
        .expect("A")
        .spawn();
    let b = Application::build(services.settings())
        .await
        .expect("B")
        .spawn();
    let _turn = support::turn().await;
    let [revocation, events] = propagation(&a, &b, Duration::from_secs(5)).await;
    assert!(
        matches!(revocation.outcome, Outcome::Measured { value, .. } if value < 1000.0),
        "{revocation:?}"
    );
    assert!(revocation.details.is_empty(), "{:?}", revocation.details);
    assert!(
        matches!(events.outcome, Outcome::Measured { value, .. } if value == 1.0),
        "{events:?}"
    );
    println!("two-instance revocation: {}", revocation.summary);
    // The same through the whole audit, `--target A --target B`: both checks pass.
    let mut config = voice_audit::run::RunConfig::new(&a.base_url());
    config.probe = support::quick();
    config.instances = vec![b.base_url()];
    let audit = voice_audit::run::audit(&config, &|_| {})
        .await
        .expect("the audit runs");
    for id in [instances::REVOCATION, instances::EVENTS] {
        let c = support::check(&audit.report, id);
        assert_eq!(
            c.status,
            voice_audit::model::Status::Pass,
            "{id}: {}",
            c.summary
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_with_their_own_in_process_cache_keep_revocation_to_themselves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = key_file(dir.path());
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("shared.db").display()
    );
    let settings = || {
        let mut s = Settings::ephemeral(db.clone());
        s.jwt_key_file = Some(key.clone());
        s
    };
    let a = Application::build(settings()).await.expect("A").spawn();
    let b = Application::build(settings()).await.expect("B").spawn();
    let _turn = support::turn().await;
    let wait = Duration::from_secs(2);
    let [revocation, events] = propagation(&a, &b, wait).await;
    assert!(
        matches!(revocation.outcome, Outcome::Measured { value, .. } if value >= 2000.0),
        "{revocation:?}"
    );
    assert!(
        revocation.details.iter().any(|d| d.contains("not closed")),
        "{:?}",
        revocation.details
    );
    assert_eq!(
        [revocation.check_id.as_str()],
        ["auth.revocation_propagation"]
    );
    // Events do cross here: the embedded stream replays them from the shared database.
    assert!(
        matches!(events.outcome, Outcome::Measured { .. }),
        "{events:?}"
    );
    // An instance on a database of its own: the session and its events stay on the first.
    let other_dir = tempfile::tempdir().expect("temp dir");
    let mut lone = Settings::ephemeral(format!(
        "sqlite://{}?mode=rwc",
        other_dir.path().join("own.db").display()
    ));
    lone.jwt_key_file = Some(key.clone());
    let c = Application::build(lone).await.expect("C").spawn();
    let [_, events] = propagation(&a, &c, wait).await;
    assert_eq!([events.check_id.as_str()], ["ws.cross_instance_events"]);
    assert!(
        matches!(events.outcome, Outcome::Measured { value, .. } if value == 0.0),
        "{events:?}"
    );
    let [one, two] = instances::findings(None);
    assert!(matches!(one.outcome, Outcome::NotAssessed { .. }));
    assert!(matches!(two.outcome, Outcome::NotAssessed { .. }));
}
