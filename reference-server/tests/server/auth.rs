//! Auth: register/login/me, validation, token rejection, logout, logout-all, refresh rotation.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn register_login_me() {
    let app = TestApp::new().await;
    let auth = app.register("Ada@Example.com").await;
    assert_eq!(auth["token_type"], "Bearer");
    assert!(auth["expires_in"].as_u64().unwrap() >= 1);
    assert_eq!(auth["user"]["email"], "ada@example.com");
    assert_eq!(auth["user"]["role"], "user");

    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/auth/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], auth["user"]["id"]);
    assert_eq!(me.body.as_object().unwrap().len(), 5);

    let wrong = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong password!"}),
        )
        .await;
    wrong.assert_problem(401);
    let unknown = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "bob@example.com", "password": "whatever"}),
        )
        .await;
    unknown.assert_problem(401);
}

#[tokio::test]
async fn duplicate_email_is_409() {
    let app = TestApp::new().await;
    app.register("a@example.com").await;
    let again = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "A@example.com", "password": "correct horse battery"}),
        )
        .await;
    again.assert_problem(409);
}

#[tokio::test]
async fn bad_json_is_400_and_schema_violations_are_422() {
    let app = TestApp::new().await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/register")
        .header("content-type", "application/json")
        .header("x-correlation-id", "abc-123")
        .body(Body::from("{not json"))
        .unwrap();
    let reply = app.raw(request).await;
    reply.assert_problem(400);
    assert_eq!(reply.body["correlation_id"], "abc-123");
    assert_eq!(reply.headers["x-correlation-id"], "abc-123");
    assert_eq!(reply.body["instance"], "/api/v1/auth/register");

    let no_type = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/register")
        .body(Body::from(r#"{"email":"a@b.co","password":"0123456789"}"#))
        .unwrap();
    app.raw(no_type).await.assert_problem(415);

    for body in [
        json!({"email": "a@example.com"}),
        json!({"email": "a@example.com", "password": "short"}),
        json!({"email": "not-an-email", "password": "0123456789"}),
        json!({"email": "a@example.com", "password": 1234567890}),
        json!({"email": "a@example.com", "password": "0123456789", "admin": true}),
        json!({"email": "a@example.com", "password": "0123456789", "display_name": ""}),
    ] {
        app.post("/api/v1/auth/register", None, body)
            .await
            .assert_problem(422);
    }
}

#[tokio::test]
async fn bad_tokens_are_401_with_www_authenticate() {
    let app = TestApp::new().await;
    let token = app.user("a@example.com").await;
    let none = app.get("/api/v1/auth/me", None).await;
    none.assert_problem(401);
    assert!(
        none.headers
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    // Forged: valid shape, signature of another key.
    let other = TestApp::new().await;
    let forged = other.user("a@example.com").await;
    app.get("/api/v1/auth/me", Some(&forged))
        .await
        .assert_problem(401);

    // alg none: same claims, no signature.
    let payload = token.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    app.get("/api/v1/auth/me", Some(&alg_none))
        .await
        .assert_problem(401);

    // Tampered signature.
    let mut tampered = token.clone();
    tampered.push('x');
    app.get("/api/v1/auth/me", Some(&tampered))
        .await
        .assert_problem(401);

    // Expired, correctly signed.
    let claims = app.state.tokens.decode(&token).unwrap();
    let mut expired = claims.clone();
    expired.exp = claims.iat - 10;
    expired.iat -= 100;
    let expired = app.state.tokens.encode(&expired).unwrap();
    let reply = app.get("/api/v1/auth/me", Some(&expired)).await;
    reply.assert_problem(401);

    app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_revokes_only_that_token() {
    let app = TestApp::new().await;
    let first = app.user("a@example.com").await;
    let second = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "a@example.com", "password": "correct horse battery"}),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = app
        .post("/api/v1/auth/logout", Some(&first), json!({}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    app.get("/api/v1/auth/me", Some(&first))
        .await
        .assert_problem(401);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&second)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_all_revokes_earlier_tokens_but_not_later_ones() {
    let app = TestApp::new().await;
    let auth = app.register("a@example.com").await;
    let token = auth["access_token"].as_str().unwrap();
    let refresh = auth["refresh_token"].as_str().unwrap();
    let out = app
        .post("/api/v1/auth/logout-all", Some(token), json!({}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    app.get("/api/v1/auth/me", Some(token))
        .await
        .assert_problem(401);
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await
    .assert_problem(401);

    // Issued right after (same second): still valid.
    let fresh = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "a@example.com", "password": "correct horse battery"}),
        )
        .await;
    let fresh_token = fresh.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/auth/me", Some(fresh_token)).await.status,
        StatusCode::OK
    );
    let rotated = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": fresh.body["refresh_token"]}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.raw);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_everything() {
    let app = TestApp::new().await;
    let auth = app.register("a@example.com").await;
    let r1 = auth["refresh_token"].as_str().unwrap();
    let second = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await;
    assert_eq!(second.status, StatusCode::OK);
    let access2 = second.body["access_token"].as_str().unwrap();
    let r2 = second.body["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(access2)).await.status,
        StatusCode::OK
    );

    // Reuse of r1: theft. Everything of the user dies, including r2 and access2.
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await
        .assert_problem(401);
    app.get("/api/v1/auth/me", Some(access2))
        .await
        .assert_problem(401);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r2}))
        .await
        .assert_problem(401);
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": "nope"}),
    )
    .await
    .assert_problem(401);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": ""}))
        .await
        .assert_problem(422);
}

#[tokio::test]
async fn operations_endpoints() {
    let app = TestApp::new().await;
    let health = app.get("/health", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    assert!(health.body["uptime_seconds"].as_f64().unwrap() >= 0.0);
    let mut ready = app.get("/ready", None).await;
    let recovery = ready.body.as_object_mut().unwrap().remove("recovery");
    assert_eq!(
        ready.body,
        json!({"status": "ready", "checks": {"database": "ok", "cache": "ok"}, "cache_backend": "in-process"})
    );
    let recovery = recovery.unwrap();
    assert_eq!(
        (&recovery["calls"], &recovery["cached"]),
        (&json!(0), &json!(true))
    );
    assert!(recovery["duration_ms"].as_f64().unwrap() >= 0.0);
    let contract = app.get("/openapi.json", None).await;
    assert_eq!(contract.body["openapi"], "3.1.0");
    assert!(contract.body["paths"]["/api/v1/sessions"].is_object());
    assert!(!health.headers["x-correlation-id"].is_empty());

    app.get("/nope", None).await.assert_problem(404);
    app.call(Method::DELETE, "/health", None, None)
        .await
        .assert_problem(405);
}
