//! Strict request bodies: every negative input the audit's contract walk sends is refused with
//! a problem document — explicit `null` for non-nullable fields, wrong types in nested objects,
//! strings past `maxLength`, extra properties, and a body that is not JSON by its content type.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

#[tokio::test]
async fn explicit_nulls_for_non_nullable_fields_are_422() {
    let app = TestApp::new().await;
    let token = app.user("nulls@example.com").await;
    let cases = [
        (
            "/api/v1/auth/register",
            json!({"email": "n1@example.com", "password": "0123456789", "display_name": null}),
        ),
        (
            "/api/v1/sessions",
            json!({"provider": "openai", "config": null}),
        ),
        (
            "/api/v1/sessions",
            json!({"provider": "openai", "metadata": null}),
        ),
        ("/api/v1/sessions", json!({"provider": null})),
    ];
    for (uri, body) in cases {
        let reply = app.post(uri, Some(&token), body.clone()).await;
        reply.assert_problem(422);
        assert!(reply.raw.contains("null"), "{body}: {}", reply.raw);
    }
    let session = app.session(&token, "openai").await;
    for body in [
        json!({"provider": "gemini", "reason": null}),
        json!({"provider": "gemini", "preserve_context": null}),
    ] {
        app.post(
            &format!("/api/v1/sessions/{session}/switch-provider"),
            Some(&token),
            body,
        )
        .await
        .assert_problem(422);
    }
    app.post(
        &format!("/api/v1/sessions/{session}/auto-failover"),
        Some(&token),
        json!({"force": null}),
    )
    .await
    .assert_problem(422);
}

#[tokio::test]
async fn nested_wrong_types_lengths_and_extra_properties_are_422() {
    let app = TestApp::new().await;
    let token = app.user("strict@example.com").await;
    for body in [
        json!({"provider": "openai", "config": {"language": 12345}}),
        json!({"provider": "openai", "config": {"language": "x".repeat(36)}}),
        json!({"provider": "openai", "metadata": "not-an-object"}),
        json!({"provider": "openai", "voice_audit_extra": "x"}),
    ] {
        app.post("/api/v1/sessions", Some(&token), body)
            .await
            .assert_problem(422);
    }
    for body in [
        json!({"email": "s1@example.com", "password": "0123456789", "display_name": "x".repeat(101)}),
        json!({"email": "s2@example.com", "password": "x".repeat(129)}),
    ] {
        app.post("/api/v1/auth/register", None, body)
            .await
            .assert_problem(422);
    }
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": "x".repeat(4097)}),
    )
    .await
    .assert_problem(422);
}

#[tokio::test]
async fn a_body_that_is_not_json_by_content_type_is_415() {
    let app = TestApp::new().await;
    let token = app.user("types@example.com").await;
    for (uri, auth) in [
        ("/api/v1/auth/login", None),
        ("/api/v1/sessions", Some(token.as_str())),
    ] {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "text/plain");
        if let Some(t) = auth {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        let request = builder
            .body(Body::from(r#"{"provider":"openai"}"#))
            .expect("request");
        app.raw(request).await.assert_problem(415);
    }
}
