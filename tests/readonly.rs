//! `--read-only`: against a recording server (wiremock answering everything) the audit sends no
//! POST, PUT, PATCH or DELETE, registers nobody, and the report names the checks it therefore
//! did not assess. Against the reference server, a read-only run with a token still assesses
//! what only reads (headers, forged tokens) and marks the run read-only.

use crate::support::{self, check};
use voice_audit::model::Status;
use voice_audit::run::{self, RunConfig};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn read_only(url: &str, token: Option<&str>) -> RunConfig {
    let mut config = RunConfig::new(url);
    config.probe = support::quick();
    config.probe.read_only = true;
    config.probe.allow_register = false;
    config.token = token.map(str::to_string);
    config
}

/// Checks whose probes need a mutation, reported "not assessed" with the read-only reason.
const SKIPPED: [&str; 5] = [
    "ws.heartbeat",
    "switch.success_rate",
    "auth.revocation_rest",
    "auth.token_lifecycle",
    "auth.login_rate_limit",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_run_sends_no_mutating_request() {
    let _turn = support::turn().await;
    let recorder = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&recorder)
        .await;
    let audit = run::audit(&read_only(&recorder.uri(), Some("given-token")), &|_| {})
        .await
        .expect("the audit runs");
    let requests = recorder.received_requests().await.expect("recording on");
    assert!(requests.len() > 5, "the audit probed: {}", requests.len());
    let mutating: Vec<String> = requests
        .iter()
        .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD" | "OPTIONS"))
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert!(mutating.is_empty(), "mutating requests sent: {mutating:?}");
    assert!(
        requests.iter().all(|r| !r.url.path().contains("register")),
        "nobody is registered"
    );
    let report = &audit.report;
    assert!(report.target.read_only);
    for id in SKIPPED {
        let c = check(report, id);
        assert_eq!(c.status, Status::NotAssessed, "{id}: {}", c.summary);
        assert!(
            c.not_assessed_reason
                .as_deref()
                .is_some_and(|r| r.contains("read-only")),
            "{id}: {:?}",
            c.not_assessed_reason
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_needs_a_token_or_credentials() {
    let recorder = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&recorder)
        .await;
    let refused = run::audit(&read_only(&recorder.uri(), None), &|_| {}).await;
    assert!(
        matches!(refused, Err(voice_audit::error::AuditError::NoCredentials)),
        "a read-only run without credentials must refuse to start"
    );
    let sent = recorder.received_requests().await.unwrap_or_default();
    assert!(sent.iter().all(|r| r.method.as_str() == "GET"), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_against_the_reference_server_assesses_what_only_reads() {
    let server = support::server(&[]).await;
    let token = {
        let api = std::sync::Arc::new(
            voice_audit::contract::ApiContract::parse(
                voice_audit::contract::BUNDLED_OPENAPI,
                "bundled",
            )
            .expect("contract"),
        );
        let http = voice_audit::probe::client::Http::new(
            &server.url(),
            api,
            voice_audit::evidence::EvidenceLog::default(),
            std::time::Duration::from_secs(5),
        )
        .expect("client");
        let token = voice_audit::probe::auth::register(&http, "setup")
            .await
            .expect("sign up")
            .access;
        // The account already owns a session, as a production account would.
        let created = http
            .send(
                "POST",
                "/api/v1/sessions",
                Some(&token),
                voice_audit::probe::client::Body::Json(serde_json::json!({"provider": "openai"})),
                voice_audit::evidence::Purpose::Scenario("setup".into()),
            )
            .await;
        assert_eq!(created.status, Some(201), "session created");
        let id = created.str_at("/session/id").expect("session id");
        (token, id)
    };
    let (token, session_id) = token;
    let _turn = support::turn().await;
    let audit = run::audit(&read_only(&server.url(), Some(&token)), &|_| {})
        .await
        .expect("the audit runs");
    let report = &audit.report;
    // What it assessed, it assessed without a false failure (no guessed id judged missing).
    assert_eq!(support::failing(report), Vec::<String>::new());
    assert_eq!(report.score.total, 100.0);
    for id in ["auth.token_forgery", "http.security_headers"] {
        assert_eq!(check(report, id).status, Status::Pass, "{id}");
    }
    assert!(
        audit
            .evidence
            .exchanges()
            .iter()
            .all(|e| matches!(e.method.as_str(), "GET" | "HEAD" | "OPTIONS")),
        "only reads in the evidence"
    );
    // Operations on a resource were reached through the listing's ids: the session the
    // account owns was read by its id, and nothing was skipped for want of an id.
    assert!(
        audit.evidence.exchanges().iter().any(|e| e.method == "GET"
            && e.path.ends_with(&format!("/sessions/{session_id}"))
            && e.status == Some(200)),
        "the owned session was read by id"
    );
    let skipped: Vec<_> = report
        .operations
        .iter()
        .filter(|o| o.notes.contains("no listing of its collection"))
        .map(|o| o.operation_id.clone())
        .collect();
    assert!(
        !skipped
            .iter()
            .any(|id| id == "getSession" || id == "switchHistory"),
        "{skipped:?}"
    );
    assert!(
        !audit
            .evidence
            .exchanges()
            .iter()
            .any(|e| e.request_headers.iter().any(|(_, v)| v.contains(&token)))
    );
}
