//! Each injected fault breaks its behaviour (REST-visible ones here; socket ones in `ws`).

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use axum::http::StatusCode;
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn rest_faults() {
    let app = TestApp::with_faults(&["missing-switch-history"]).await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    app.get(
        &format!("/api/v1/sessions/{id}/switch-history"),
        Some(&token),
    )
    .await
    .assert_problem(404);

    let app = TestApp::with_faults(&["schema-drift"]).await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let one = app
        .get(&format!("/api/v1/sessions/{id}"), Some(&token))
        .await;
    assert_eq!(one.body["message_count"], "0");
    assert!(one.body.get("updated_at").is_none());

    let app = TestApp::with_faults(&["invalid-input-500"]).await;
    app.post("/api/v1/auth/register", None, json!({"email": "x"}))
        .await
        .assert_problem(500);

    let app = TestApp::with_faults(&["invalid-input-accepted"]).await;
    let token = app.user("a@example.com").await;
    let created = app
        .post(
            "/api/v1/sessions",
            Some(&token),
            json!({"provider": "skynet"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let app = TestApp::with_faults(&["no-auth-on-list"]).await;
    let list = app.get("/api/v1/sessions", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 0);

    let app = TestApp::with_faults(&["plain-errors"]).await;
    let reply = app.get("/api/v1/auth/me", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.content_type().starts_with("text/plain"));
    assert_eq!(reply.raw, "error");

    let app = TestApp::with_faults(&["slow-switch"]).await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let started = Instant::now();
    let reply = app
        .post(
            &format!("/api/v1/sessions/{id}/switch-provider"),
            Some(&token),
            json!({"provider": "openai"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(started.elapsed().as_millis() >= 700);

    let app = TestApp::with_faults(&["drop-context"]).await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let sid = uuid::Uuid::parse_str(&id).unwrap();
    voice_reference_server::conversation::process_text(&app.state, sid, "hi", None)
        .await
        .unwrap();
    let reply = app
        .post(
            &format!("/api/v1/sessions/{id}/switch-provider"),
            Some(&token),
            json!({"provider": "openai"}),
        )
        .await;
    assert_eq!(reply.body["context_preserved"], 0);

    let app = TestApp::with_faults(&["no-revocation"]).await;
    let token = app.user("a@example.com").await;
    let out = app
        .post("/api/v1/auth/logout", Some(&token), json!({}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );

    let app = TestApp::with_faults(&["cross-user-leak"]).await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let id = app.session(&alice, "gemini").await;
    assert_eq!(
        app.get(&format!("/api/v1/sessions/{id}"), Some(&bob))
            .await
            .status,
        StatusCode::OK
    );
}

#[test]
fn unknown_fault_names_are_rejected() {
    let err = voice_reference_server::Faults::from_names(["no-pong", "bogus"]).unwrap_err();
    assert!(err.to_string().contains("missing-switch-history"));
}
