//! The load phase (`--load`, check `perf.load`): the reference server keeps answering and the
//! check passes; a server that serves one request at a time and stops answering after a few
//! dozen (tests/support/collapse.rs) fails it, with the step figures and the silent `/health`
//! in the details. Also the load phase's rate next to wrk's (ignored; for BENCHMARKS.md).

use crate::support::{self, collapse};
use std::sync::Arc;
use std::time::Duration;
use voice_audit::check::{Outcome, load};
use voice_audit::contract::{ApiContract, BUNDLED_ASYNCAPI, BUNDLED_OPENAPI, WsContract};
use voice_audit::evidence::EvidenceLog;
use voice_audit::probe::load::{LoadPlan, LoadRole, LoadStep};
use voice_audit::probe::{Ctx, ProbeSettings, auth, client};

/// A probe context on `url` with the bundled contracts; `register` signs up an audit user,
/// otherwise a made-up token is used (the collapsing server checks none).
pub async fn ctx(url: &str, register: bool) -> Ctx {
    let api = Arc::new(ApiContract::parse(BUNDLED_OPENAPI, "bundled").expect("contract"));
    let ws = Arc::new(WsContract::parse(BUNDLED_ASYNCAPI, "bundled").expect("AsyncAPI"));
    let http = client::Http::new(url, api, EvidenceLog::default(), Duration::from_secs(5))
        .expect("client");
    let user = if register {
        auth::register(&http, "setup").await.expect("sign up")
    } else {
        auth::with_token(&http, "made-up-token")
    };
    Ctx {
        http,
        ws_contract: ws,
        ws_base: url.replace("http", "ws"),
        settings: ProbeSettings::default(),
        user,
    }
}

fn plan(steps: &[&str], roles: &[LoadRole], secs: f64, timeout: Duration) -> LoadPlan {
    LoadPlan {
        roles: roles.to_vec(),
        steps: steps
            .iter()
            .map(|s| LoadStep::parse(s).expect("step"))
            .collect(),
        step_duration: Duration::from_secs_f64(secs),
        timeout,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_keeps_answering_under_load() {
    let _turn = support::turn().await;
    let server = support::server(&[]).await;
    let ctx = ctx(&server.url(), true).await;
    let roles = [
        LoadRole::Health,
        LoadRole::Read,
        LoadRole::Switch,
        LoadRole::Stream,
    ];
    let obs = voice_audit::probe::load::probe(
        &ctx,
        &plan(&["r40", "c4"], &roles, 1.0, Duration::from_secs(5)),
    )
    .await;
    let f = load::finding(Some(&obs));
    let obs = obs.expect("the load phase runs");
    assert!(obs.skipped.is_empty(), "{:?}", obs.skipped);
    assert_eq!(obs.steps.len(), 8);
    for s in &obs.steps {
        assert!(s.sent > 0 && s.errors == 0 && s.timeouts == 0, "{s:?}");
        assert!(
            s.p50_ms > 0.0 && s.p50_ms <= s.p90_ms && s.p99_ms <= s.max_ms,
            "{s:?}"
        );
    }
    assert_eq!(obs.health_after.status, Some(200));
    assert!(
        matches!(f.outcome, Outcome::Measured { value, .. } if value == 1.0),
        "{f:?}"
    );
    assert!(
        f.details[0].contains("health at 40 req/s"),
        "{:?}",
        f.details
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_collapses_under_load_fails_the_check() {
    let _turn = support::turn().await;
    let server = collapse::serve(30, Duration::from_millis(50)).await;
    let ctx = ctx(&server.url, false).await;
    let obs = voice_audit::probe::load::probe(
        &ctx,
        &plan(
            &["c1", "c16"],
            &[LoadRole::Health, LoadRole::Read],
            1.0,
            Duration::from_millis(800),
        ),
    )
    .await;
    let f = load::finding(Some(&obs));
    let obs = obs.expect("the load phase runs");
    assert!(obs.steps.iter().any(|s| s.timeouts > 0), "{:?}", obs.steps);
    assert_eq!(obs.health_after.status, None, "/health must be silent");
    assert!(matches!(f.outcome, Outcome::Failed { .. }), "{f:?}");
    assert_eq!([f.check_id.as_str()], ["perf.load"]);
    assert!(f.summary.contains("collapsed"), "{}", f.summary);
    assert!(
        f.details.iter().any(|d| d.contains("did not answer")),
        "{:?}",
        f.details
    );
    // Read-only: the roles that change state are not driven.
    let mut ro = ctx.clone();
    ro.settings.read_only = true;
    let plan = plan(
        &["c1"],
        &[LoadRole::Switch],
        0.2,
        Duration::from_millis(200),
    );
    let refused = voice_audit::probe::load::probe(&ro, &plan).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("read-only")),
        "{refused:?}"
    );
}

/// The load phase's peak rate on a trivial endpoint next to wrk's, same server, same run:
/// `cargo test --release --test tests load::rate_vs_wrk -- --ignored --nocapture` (needs wrk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand for BENCHMARKS.md"]
async fn rate_vs_wrk() {
    // The server on a runtime of its own (2 workers), as it is for wrk, not sharing the load
    // client's workers.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let server = collapse::serve(u64::MAX, Duration::ZERO).await;
            tx.send(server.url.clone()).expect("send");
            std::future::pending::<()>().await;
        });
    });
    let url = rx.recv().expect("server url");
    let server = Url { url };
    let ctx = ctx(&server.url, false).await;
    // Interleaved rounds: the machine is shared, so both tools see the same background load.
    let mut ratios = Vec::new();
    for round in 1..=5 {
        let p = plan(&["c32"], &[LoadRole::Health], 3.0, Duration::from_secs(5));
        let obs = voice_audit::probe::load::probe(&ctx, &p)
            .await
            .expect("load");
        let ours = obs.steps[0].throughput();
        let wrk = std::process::Command::new("wrk")
            .args(["-t2", "-c32", "-d3s", &format!("{}/health", server.url)])
            .output()
            .expect("wrk is installed");
        let text = String::from_utf8_lossy(&wrk.stdout);
        let theirs: f64 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("wrk printed Requests/sec");
        println!(
            "round {round}: voice-audit load {ours:.0} req/s; wrk {theirs:.0} req/s; ratio {:.2}",
            ours / theirs
        );
        ratios.push(ours / theirs);
    }
    ratios.sort_by(f64::total_cmp);
    println!("median ratio {:.2}", ratios[ratios.len() / 2]);
}

struct Url {
    url: String,
}
