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

/// A stream that answers every connection with garbage: text that is not JSON, a binary frame,
/// events with wrong types, then a close. REST answers just enough to get there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_sends_garbage_is_judged_not_crashed_on() {
    use axum::extract::ws::{Message, WebSocketUpgrade};
    use axum::routing::{any, post};
    let session = "7d0f0a4e-4b8a-4a55-9b9e-0d7b4c9f1c11";
    let app = axum::Router::new()
        .route(
            "/api/v1/auth/register",
            post(|| async { (axum::http::StatusCode::CREATED, axum::Json(auth_response())) }),
        )
        .route(
            "/api/v1/sessions",
            post(move || async move {
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(json!({"session": {"id": session}, "websocket_url": "ws://x"})),
                )
            }),
        )
        .route(
            "/ws/sessions/{id}",
            any(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket| async move {
                    let frames = [
                        Message::Text("not json at all {".into()),
                        Message::Binary(vec![0u8, 159, 146, 150].into()),
                        Message::Text(r#"{"type":"transcript","seq":"one","timestamp":5}"#.into()),
                        Message::Text(r#"{"type":"pong","seq":-3}"#.into()),
                        Message::Text("[1,2,3]".into()),
                    ];
                    for f in frames {
                        if socket.send(f).await.is_err() {
                            return;
                        }
                    }
                    let _ = socket.send(Message::Close(None)).await;
                })
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut config = RunConfig::new(&format!("http://{addr}"));
    config.probe = support::quick();
    let audit = tokio::time::timeout(
        std::time::Duration::from_secs(50),
        run::audit(&config, &|_| {}),
    )
    .await
    .expect("the audit ends in bounded time")
    .expect("the audit finishes");
    let r = &audit.report;
    for id in ["ws.event_schema", "ws.heartbeat"] {
        let c = support::check(r, id);
        assert!(
            matches!(c.status, Status::Fail | Status::Partial),
            "{id}: {:?} {}",
            c.status,
            c.summary
        );
    }
    assert!(r.score.total < 50.0, "score {}", r.score.total);
}
