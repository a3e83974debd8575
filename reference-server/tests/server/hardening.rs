//! Hardening: security headers on every answer, CORS only for allow-listed origins, and the
//! failed-login budget (429 with Retry-After, not reset by X-Forwarded-For).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::common::{TestApp, http_client, settings};
use voice_reference_server::Application;

const ALLOWED: &str = "https://app.example.test";
const EVIL: &str = "https://evil.example";

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/auth/me")
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_no_server_header() {
    let app = TestApp::new().await;
    let ok = app.get("/health", None).await;
    let unauthorized = app.get("/api/v1/auth/me", None).await;
    let missing = app.get("/no/such/route", None).await;
    for (what, reply) in [("200", &ok), ("401", &unauthorized), ("404", &missing)] {
        let h = &reply.headers;
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
        assert!(h.get("server").is_none(), "{what}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{what}: no HSTS on http"
        );
    }
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);

    let https = TestApp::with(|s| s.public_url = Some("https://voice.example.test".into())).await;
    let reply = https.get("/health", None).await;
    assert!(
        reply.headers["strict-transport-security"]
            .to_str()
            .expect("ascii")
            .contains("max-age="),
        "HSTS on an https deployment"
    );
}

#[tokio::test]
async fn cors_answers_only_allow_listed_origins() {
    // No origins configured: no CORS headers for anyone.
    let closed = TestApp::new().await;
    let reply = closed.raw(preflight(EVIL)).await;
    assert!(reply.headers.get("access-control-allow-origin").is_none());

    let app = TestApp::with(|s| s.cors_origins = vec![ALLOWED.to_owned()]).await;
    let reply = app.raw(preflight(ALLOWED)).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(reply.headers["access-control-allow-origin"], ALLOWED);
    let methods = reply.headers["access-control-allow-methods"]
        .to_str()
        .expect("ascii");
    assert!(methods.contains("GET"), "{methods}");
    assert!(
        reply
            .headers
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");

    let reply = app.raw(preflight(EVIL)).await;
    assert!(
        reply.headers.get("access-control-allow-origin").is_none(),
        "an arbitrary origin is never reflected"
    );
    let simple = Request::builder()
        .uri("/health")
        .header("origin", EVIL)
        .body(Body::empty())
        .expect("request");
    let reply = app.raw(simple).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn failed_logins_end_in_429_that_x_forwarded_for_does_not_reset() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Application::build(settings(&dir))
        .await
        .expect("server starts")
        .spawn();
    let client = http_client();
    let url = format!("{}/api/v1/auth/login", server.base_url());
    let email = "guessed@example.test";
    let register = client
        .post(format!("{}/api/v1/auth/register", server.base_url()))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("register");
    assert_eq!(register.status(), 201);
    let attempt = |password: &'static str, forwarded: Option<&'static str>| {
        let mut request = client
            .post(&url)
            .json(&json!({"email": email, "password": password}));
        if let Some(f) = forwarded {
            request = request.header("x-forwarded-for", f);
        }
        request.send()
    };
    for i in 0..10 {
        let r = attempt("wrong password", None).await.expect("login");
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let limited = attempt("wrong password", None).await.expect("login");
    assert_eq!(limited.status(), 429);
    let headers = limited.headers().clone();
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=300).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-limit"], "10");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(headers.get("x-ratelimit-reset").is_some());
    assert_eq!(headers["content-type"], "application/problem+json");
    let body: serde_json::Value = limited.json().await.expect("problem");
    assert_eq!(body["status"], 429);

    let spoofed = attempt("wrong password", Some("203.0.113.7"))
        .await
        .expect("login");
    assert_eq!(spoofed.status(), 429, "X-Forwarded-For must not reset");
    let right = attempt("correct horse battery", None).await.expect("login");
    assert_eq!(
        right.status(),
        429,
        "the budget holds for the right password too"
    );

    // Another account from the same peer is unaffected.
    let other = client
        .post(&url)
        .json(&json!({"email": "someone@example.test", "password": "wrong password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(other.status(), 401);
    server.shutdown().await;
}
