//! The contract walk on a large FastAPI-style 3.1 deployment (tests/support/bigspec.rs): it
//! finishes within its budget and judges a careful server clean; a server that hangs ends the
//! walk by its budget with availability failing and no auth or schema verdict drawn from the
//! silence; a server without object-level authorization or input validation is caught, each
//! failure naming the operation and the rule. Also the walk's timing at concurrency 1 and 8
//! (ignored; run for BENCHMARKS.md).

use crate::support::{self, bigspec};
use std::sync::Arc;
use std::time::{Duration, Instant};
use voice_audit::contract::{ApiContract, BUNDLED_ASYNCAPI, WsContract};
use voice_audit::evidence::EvidenceLog;
use voice_audit::model::{AuditReport, Status};
use voice_audit::probe::{Ctx, ProbeSettings, auth, client, walk};
use voice_audit::run::{self, RunConfig};

/// The audit's report and how long it took (waiting for the audit's turn excluded).
async fn audit_timed(
    server: &bigspec::BigSpec,
    budget: Duration,
    timeout: Duration,
) -> (AuditReport, Duration) {
    let _turn = support::turn().await;
    let started = Instant::now();
    let mut config = RunConfig::new(&server.url);
    config.contract =
        voice_audit::contract::ContractSource::parse(&server.contract_path.display().to_string());
    config.probe = ProbeSettings {
        timeout,
        walk_budget: budget,
        ..support::quick()
    };
    let report = tokio::time::timeout(budget * 3, run::audit(&config, &|_| {}))
        .await
        .expect("the audit ends in bounded time")
        .expect("the audit runs")
        .report;
    (report, started.elapsed())
}

async fn audit(server: &bigspec::BigSpec, budget: Duration, timeout: Duration) -> AuditReport {
    audit_timed(server, budget, timeout).await.0
}

fn status(report: &AuditReport, id: &str) -> Status {
    support::check(report, id).status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_operation_spec_is_walked_within_its_budget() {
    let server = bigspec::serve(bigspec::Mode::Honest).await;
    let budget = Duration::from_secs(45);
    let (r, took) = audit_timed(&server, budget, Duration::from_secs(5)).await;
    assert!(took < budget, "took {took:?}");
    assert!(
        r.target.contract.operations >= 300,
        "{}",
        r.target.contract.operations
    );
    for id in [
        "contract.operations_implemented",
        "contract.invalid_input_rejected",
        "contract.response_schema",
        "auth.enforced",
        "auth.cross_user_isolation",
        "errors.availability",
    ] {
        let c = support::check(&r, id);
        assert_eq!(
            c.status,
            Status::Pass,
            "{id}: {} {:?}",
            c.summary,
            c.details
        );
    }
    // Every body operation got its negative inputs, each counted.
    let negatives = support::check(&r, "contract.invalid_input_rejected");
    assert!(
        negatives.summary.contains("passed"),
        "{}",
        negatives.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_server_ends_the_walk_by_its_budget_with_availability_failing() {
    let server = bigspec::serve(bigspec::Mode::Hang).await;
    let budget = Duration::from_secs(4);
    let timeout = Duration::from_secs(2);
    let (r, took) = audit_timed(&server, budget, timeout).await;
    // The walk's budget plus the scenarios' own calls (none of which is bound here).
    assert!(took < budget + timeout * 3, "took {took:?}");
    let availability = support::check(&r, "errors.availability");
    assert!(
        matches!(availability.status, Status::Fail | Status::Partial),
        "{:?} {}",
        availability.status,
        availability.summary
    );
    assert!(
        availability.details.iter().any(|d| d.contains("timed out")),
        "{:?}",
        availability.details
    );
    assert!(
        availability.details.iter().any(|d| d.contains("budget")),
        "{:?}",
        availability.details
    );
    // Silence is not evidence: no auth or schema verdict was drawn from it. Only sign-up and
    // sign-in answered (unsecured, valid schemas): nothing is left to judge authentication on,
    // and the schema checks judged only what was answered (if anything).
    assert_eq!(status(&r, "auth.enforced"), Status::NotAssessed);
    for id in [
        "contract.response_schema",
        "contract.invalid_input_rejected",
    ] {
        let c = support::check(&r, id);
        assert!(
            matches!(c.status, Status::Pass | Status::NotAssessed),
            "{id}: {} {:?}",
            c.summary,
            c.details
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_answering_another_users_token_fail_isolation() {
    let server = bigspec::serve(bigspec::Mode::NoObjectAuth).await;
    let r = audit(&server, Duration::from_secs(45), Duration::from_secs(5)).await;
    let c = support::check(&r, "auth.cross_user_isolation");
    assert!(
        matches!(c.status, Status::Fail | Status::Partial),
        "{:?} {}",
        c.status,
        c.summary
    );
    for verb in [
        "GET /api/v2/res0/items/{item_id}",
        "PATCH /api/v2/res0/items/{item_id}",
        "DELETE /api/v2/res0/items/{item_id}",
    ] {
        assert!(
            c.details.iter().any(|d| d.starts_with(verb)),
            "{verb} not listed: {:?}",
            &c.details[..c.details.len().min(5)]
        );
    }
    assert!(r.score.total < 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_negative_inputs_are_listed_with_the_rule_they_break() {
    let server = bigspec::serve(bigspec::Mode::Lenient).await;
    let r = audit(&server, Duration::from_secs(45), Duration::from_secs(5)).await;
    let c = support::check(&r, "contract.invalid_input_rejected");
    assert_eq!(c.status, Status::Fail, "{}", c.summary);
    let details = c.details.join("\n");
    for rule in [
        "null for a non-nullable field at /title",
        "string past maxLength 50 at /title",
        "number above maximum 100 at /count",
        "number below minimum 0 at /count",
        "wrong type (not number) at /config/level",
        "extra property where additionalProperties is false at /voice_audit_extra",
        "string past maxLength 20 at /note",
        "wrong Content-Type (text/plain)",
    ] {
        assert!(details.contains(rule), "{rule} missing");
    }
    // The anyOf-with-null field is nullable: null for it is no violation and is not sent.
    assert!(!details.contains("null for a non-nullable field at /note"));
}

/// Walk timing for BENCHMARKS.md: `cargo test --release --test tests walk::walk_timing --
/// --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand for BENCHMARKS.md"]
async fn walk_timing() {
    let server = bigspec::serve(bigspec::Mode::Honest).await;
    let api = Arc::new(
        ApiContract::parse(&bigspec::spec().to_string(), "bigspec").expect("the big spec loads"),
    );
    let ws = Arc::new(WsContract::parse(BUNDLED_ASYNCAPI, "bundled").expect("AsyncAPI"));
    for concurrency in [1, 8] {
        let http = client::Http::new(
            &server.url,
            Arc::clone(&api),
            EvidenceLog::default(),
            Duration::from_secs(10),
        )
        .expect("client");
        let user = auth::register(&http, "setup").await.expect("sign up");
        let ctx = Ctx {
            http: http.clone(),
            ws_contract: Arc::clone(&ws),
            ws_base: server.url.replace("http", "ws"),
            settings: ProbeSettings {
                concurrency,
                ..ProbeSettings::default()
            },
            user,
        };
        let started = Instant::now();
        let obs = walk::probe(&ctx, &|_| {}).await;
        let took = started.elapsed();
        let requests = http.log.exchanges().len();
        println!(
            "walk of {} operations at concurrency {concurrency}: {:.2} s, {requests} requests, budget exhausted: {}",
            api.operations.len(),
            took.as_secs_f64(),
            obs.budget_exhausted
        );
        assert!(!obs.budget_exhausted);
        assert!(obs.skipped.is_empty(), "{:?}", obs.skipped);
    }
}
