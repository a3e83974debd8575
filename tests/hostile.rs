//! Deployments that are not what the contract promises at all — a server that fails everything,
//! one that answers garbage — must give a finished, honest report or a clear error, never a
//! panic or a hang.

use crate::support;
use serde_json::json;
use voice_audit::model::Status;
use voice_audit::run::{self, RunConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn auth_response() -> serde_json::Value {
    json!({"access_token": "hostile-access-token", "refresh_token": "hostile-refresh-token", "token_type": "Bearer",
           "expires_in": 900, "user": {"id": "not-a-uuid"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_fails_everything_scores_low_without_a_panic() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/register"))
        .respond_with(ResponseTemplate::new(201).set_body_json(auth_response()))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>upstream exploded</html>"))
        .mount(&server)
        .await;
    let mut config = RunConfig::new(&server.uri());
    config.probe = support::quick();
    let audit = run::audit(&config, &|_| {})
        .await
        .expect("the audit finishes");
    let r = &audit.report;
    assert!(r.score.total < 30.0, "score {}", r.score.total);
    for id in [
        "contract.operations_implemented",
        "contract.response_schema",
        "contract.invalid_input_rejected",
        "contract.version_compat",
        "errors.problem_json",
        "auth.token_lifecycle",
    ] {
        assert_eq!(support::check(r, id).status, Status::Fail, "{id}");
    }
    // The stream and the scenarios could not run: reported as such, with the reason.
    let stream = support::check(r, "ws.heartbeat");
    assert_eq!(stream.status, Status::NotAssessed);
    assert!(
        stream
            .not_assessed_reason
            .as_deref()
            .is_some_and(|why| !why.is_empty())
    );
    let parts: f64 = r.score.categories.iter().map(|c| c.score).sum();
    assert!((parts - r.score.total).abs() < 1e-9);
    // Its secrets are masked in the details too.
    let details: String = r
        .checks
        .iter()
        .flat_map(|c| c.details.iter().cloned())
        .collect();
    assert!(!details.contains("hostile-access-token"));
}

#[tokio::test]
async fn garbage_sign_in_answers_are_a_clear_tool_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/register"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"access_token": 5})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut config = RunConfig::new(&server.uri());
    config.probe = support::quick();
    let err = run::audit(&config, &|_| {})
        .await
        .err()
        .expect("cannot sign in");
    assert!(err.to_string().contains("cannot sign in"), "{err}");
}
