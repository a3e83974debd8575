//! The browser-facing security checks and the readiness cap, end to end: the hardened
//! reference server passes them; a deployment that drops its hardening fails each one and
//! loses points; a critical failure caps the band and fails `--fail-on critical`.

use crate::support::{self, layered};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use voice_audit::model::{AuditReport, Status};
use voice_audit::profile::Severity;
use voice_audit::run::{self, RunConfig};
use voice_reference_server::{Application, Settings};

const NEW_CHECKS: [&str; 5] = [
    "http.security_headers",
    "auth.cors",
    "auth.login_rate_limit",
    "state.readiness_consistent",
    "contract.unsecured_operations",
];

/// What a contract with an open data operation must fail.
const OPEN_CONTRACT_FAILS: [&str; 1] = ["contract.unsecured_operations"];

async fn audit(config: RunConfig) -> AuditReport {
    let _turn = support::turn().await;
    let mut config = config;
    config.probe = support::quick();
    run::audit(&config, &|_| {})
        .await
        .expect("the audit runs")
        .report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hardened_reference_server_passes_with_an_allow_listed_origin() {
    let dir = tempfile::tempdir().expect("dir");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let origin = "https://app.example.test";
    let settings = Settings::ephemeral(database).with_cors_origins(vec![origin.to_string()]);
    let server = Application::build(settings)
        .await
        .expect("server starts")
        .spawn();
    let mut config = RunConfig::new(&server.base_url());
    config.cors_origin = Some(origin.to_string());
    let report = audit(config).await;
    assert_eq!(support::failing(&report), Vec::<String>::new());
    for id in NEW_CHECKS {
        let c = support::check(&report, id);
        assert_eq!(
            c.status,
            Status::Pass,
            "{id}: {} {:?}",
            c.summary,
            c.details
        );
        assert!(c.points_max > 0.0, "{id} is assessed");
    }
    let cors = support::check(&report, "auth.cors");
    assert!(cors.summary.contains("3 of 3"), "{}", cors.summary);
    assert_eq!(report.score.readiness.band, "excellent");
    assert!(report.score.readiness.capped_by.is_empty());
    assert_eq!(
        voice_audit::cap::gate_severity(&report, Some(Severity::High)),
        Ok(())
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_critical_check_caps_the_band_and_fails_the_critical_gate() {
    let report = support::audit_with_faults(&["no-revocation"]).await;
    fails(&report, "auth.revocation_rest");
    assert!(
        report.score.total >= 75.0,
        "the score alone would be good or better: {}",
        report.score.total
    );
    assert_eq!(report.score.readiness.band, "fair");
    assert!(
        report
            .score
            .readiness
            .capped_by
            .contains(&"auth.revocation_rest".to_string()),
        "{:?}",
        report.score.readiness.capped_by
    );
    let parts: f64 = report.score.categories.iter().map(|c| c.score).sum();
    assert!((parts - report.score.total).abs() < 1e-9);
    let reasons =
        voice_audit::cap::gate_severity(&report, Some(Severity::Critical)).expect_err("gate fails");
    assert!(
        reasons.iter().any(|r| r.contains("auth.revocation_rest")),
        "{reasons:?}"
    );
    assert_eq!(voice_audit::cap::gate_severity(&report, None), Ok(()));
}

/// Everything the hardening does, undone: no security headers and a versioned `Server`, any
/// origin reflected with credentials, a readiness that says 200 while degraded, and sign-in
/// that never answers 429 (the server's 429 turned back into a 401).
async fn unhardened(req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let path = req.uri().path().to_string();
    if req.method() == Method::OPTIONS
        && let Some(o) = &origin
    {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        return r;
    }
    let mut response = if path == "/ready" {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "degraded", "checks": {"database": "ok", "cache": "down"}})),
        )
            .into_response()
    } else {
        next.run(req).await
    };
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response.headers_mut().remove(header::RETRY_AFTER);
    }
    let h = response.headers_mut();
    for name in [
        header::X_CONTENT_TYPE_OPTIONS,
        header::X_FRAME_OPTIONS,
        header::REFERRER_POLICY,
    ] {
        h.remove(name);
    }
    h.insert(header::SERVER, HeaderValue::from_static("nginx/1.18.0"));
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    response
}

fn fails(report: &AuditReport, id: &str) {
    let c = support::check(report, id);
    assert!(
        matches!(c.status, Status::Fail | Status::Partial),
        "{id}: {:?} {} {:?}",
        c.status,
        c.summary,
        c.details
    );
    assert!(c.points_earned < c.points_max, "{id} lost no points");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhardened_deployment_fails_headers_cors_rate_limit_and_readiness() {
    let server = layered::serve(unhardened).await;
    let report = audit(RunConfig::new(&server.url)).await;
    assert!(report.score.total < 100.0);
    for id in [
        "http.security_headers",
        "auth.cors",
        "auth.login_rate_limit",
        "state.readiness_consistent",
    ] {
        fails(&report, id);
    }
    let headers = support::check(&report, "http.security_headers");
    assert!(
        headers.details.iter().any(|d| d.contains("nginx/1.18.0")),
        "{:?}",
        headers.details
    );
    let cors = support::check(&report, "auth.cors");
    assert!(
        cors.details.iter().any(|d| d.contains("evil.example")),
        "{:?}",
        cors.details
    );
    let limit = support::check(&report, "auth.login_rate_limit");
    assert!(limit.summary.contains("without 429"), "{}", limit.summary);
    let ready = support::check(&report, "state.readiness_consistent");
    assert!(ready.summary.contains("not ready"), "{}", ready.summary);
}

/// A budget keyed on the client-sent `X-Forwarded-For`: the server's 429 is turned back into
/// a 401 whenever the header is present, as a proxy that trusts it would do.
async fn trusts_forwarded_for(req: Request, next: Next) -> Response {
    let forwarded = req.headers().contains_key("x-forwarded-for");
    let mut response = next.run(req).await;
    if forwarded && response.status() == StatusCode::TOO_MANY_REQUESTS {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response.headers_mut().remove(header::RETRY_AFTER);
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_reset_by_x_forwarded_for_fails_the_rate_limit() {
    let server = layered::serve(trusts_forwarded_for).await;
    let report = audit(RunConfig::new(&server.url)).await;
    fails(&report, "auth.login_rate_limit");
    let c = support::check(&report, "auth.login_rate_limit");
    assert!(c.summary.contains("gets a fresh budget"), "{}", c.summary);
    assert!(
        c.details.iter().any(|d| d.contains("X-Forwarded-For")),
        "{:?}",
        c.details
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_leaving_a_data_operation_open_fails_unsecured_operations() {
    let open = voice_audit::contract::BUNDLED_OPENAPI.replacen(
        "      operationId: createSession\n",
        "      operationId: createSession\n      security: []\n",
        1,
    );
    assert_ne!(open, voice_audit::contract::BUNDLED_OPENAPI);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("openapi.yaml");
    std::fs::write(&path, open).expect("contract");
    let server = support::server(&[]).await;
    let mut config = RunConfig::new(&server.url());
    config.contract = voice_audit::contract::ContractSource::parse(&path.display().to_string());
    let report = audit(config).await;
    assert!(report.score.total < 100.0);
    for id in OPEN_CONTRACT_FAILS {
        fails(&report, id);
    }
    let c = support::check(&report, "contract.unsecured_operations");
    assert!(
        c.details.iter().any(|d| d.contains("createSession")),
        "{:?}",
        c.details
    );
}

/// `demo --inject-fault no-revocation --fail-on critical`: the binary exits 1 and the report
/// says the band was capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_with_a_critical_fault_fails_fail_on_critical() {
    let out = tempfile::tempdir().expect("out");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_voice-audit"));
    cmd.args([
        "demo",
        "--inject-fault",
        "no-revocation",
        "--fail-on",
        "critical",
        "--switches",
        "5",
        "--timeout",
        "3",
        "--format",
        "json",
        "--no-evidence",
        "--out",
    ])
    .arg(out.path());
    let _turn = support::turn().await;
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--fail-on critical: auth.revocation_rest"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("capped by failed critical checks"),
        "{stdout}"
    );
    let results: AuditReport = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("results.json")).expect("json"),
    )
    .expect("parses");
    assert_ne!(results.score.readiness.band, "excellent");
}
