//! Each injected fault breaks its behaviour (the older socket ones are in `ws`; the newer
//! ones drive a port-0 server with `ws`'s helpers).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use crate::common::TestApp;
use crate::ws::{Server, connect, next_json, send};

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
    let reply = app.switch_provider(&id, &token, "openai").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(started.elapsed().as_millis() >= 700);

    let app = TestApp::with_faults(&["drop-context"]).await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let sid = uuid::Uuid::parse_str(&id).unwrap();
    voice_reference_server::conversation::process_text(&app.state, sid, "hi", None)
        .await
        .unwrap();
    let reply = app.switch_provider(&id, &token, "openai").await;
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

#[tokio::test]
async fn refresh_reuse_accepted_reissues_and_revokes_nothing() {
    let app = TestApp::with_faults(&["refresh-reuse-accepted"]).await;
    let auth = app.register("a@example.com").await;
    let refresh = auth["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        let reply = app
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": refresh}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
        assert!(reply.body["access_token"].is_string());
        assert_ne!(reply.body["refresh_token"], refresh);
    }
    let access = auth["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/auth/me", Some(access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn stale_published_contract_hides_switch_history() {
    let app = TestApp::with_faults(&["stale-published-contract"]).await;
    let contract = app.get("/openapi.json", None).await;
    assert_eq!(contract.status, StatusCode::OK);
    assert_eq!(contract.body["info"]["version"], "0.9.0");
    assert!(contract.body["paths"]["/api/v1/sessions/{session_id}"].is_object());
    assert!(
        contract.body["paths"]
            .get("/api/v1/sessions/{session_id}/switch-history")
            .is_none()
    );
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let history = app
        .get(
            &format!("/api/v1/sessions/{id}/switch-history"),
            Some(&token),
        )
        .await;
    assert_eq!(history.status, StatusCode::OK);
}

#[tokio::test]
async fn flaky_switch_fails_every_third_switch() {
    let app = TestApp::with_faults(&["flaky-switch"]).await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let mut current = "gemini";
    let mut failures = 0;
    for _ in 0..6 {
        let target = if current == "gemini" {
            "openai"
        } else {
            "gemini"
        };
        let reply = app.switch_provider(&id, &token, target).await;
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            reply.assert_problem(503);
            failures += 1;
            let session = app
                .get(&format!("/api/v1/sessions/{id}"), Some(&token))
                .await;
            assert_eq!(session.body["provider"], current);
        } else {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
            current = target;
        }
    }
    assert_eq!(failures, 2);
    let history = app
        .get(
            &format!("/api/v1/sessions/{id}/switch-history"),
            Some(&token),
        )
        .await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn stale_provider_answers_with_the_previous_provider() {
    let server = Server::start(&["stale-provider"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let id = url.rsplit('/').next().unwrap().to_owned();
    let mut ws = connect(&url, &token).await;
    let (status, _) = server.switch_provider(&id, &token, "openai").await;
    assert_eq!(status, 200);
    let switched = next_json(&mut ws).await;
    assert_eq!(switched["type"], "provider_switched");
    assert_eq!(switched["to_provider"], "openai");
    let (_, session) = server.get(&format!("/api/v1/sessions/{id}"), &token).await;
    assert_eq!(session["provider"], "openai");
    send(&mut ws, json!({"type": "text", "text": "hello"})).await;
    let transcript = next_json(&mut ws).await;
    assert_eq!(transcript["type"], "transcript");
    assert_eq!(transcript["provider"], "gemini");
    let insight = next_json(&mut ws).await;
    assert_eq!(insight["type"], "insight");
    assert_eq!(insight["provider"], "gemini");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn silent_switch_publishes_no_provider_switched() {
    let server = Server::start(&["silent-switch"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let id = url.rsplit('/').next().unwrap().to_owned();
    let mut ws = connect(&url, &token).await;
    let (status, _) = server.switch_provider(&id, &token, "openai").await;
    assert_eq!(status, 200);
    let (status, failover) = server
        .post(
            &format!("/api/v1/sessions/{id}/auto-failover"),
            Some(&token),
            json!({"force": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(failover["failover_triggered"], true);
    let (_, session) = server.get(&format!("/api/v1/sessions/{id}"), &token).await;
    assert_eq!(session["provider"], failover["switch"]["to_provider"]);
    // Published events are forwarded before a reply, so the pong comes first only if none was.
    send(&mut ws, json!({"type": "ping"})).await;
    let pong = next_json(&mut ws).await;
    assert_eq!(
        (pong["type"].as_str(), pong["seq"].as_u64()),
        (Some("pong"), Some(0))
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn drop_events_skips_every_fifth_transcript() {
    let server = Server::start(&["drop-events"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let id = url.rsplit('/').next().unwrap().to_owned();
    let mut ws = connect(&url, &token).await;
    let mut seen = Vec::new();
    for n in 0..5 {
        send(&mut ws, json!({"type": "text", "text": format!("hi {n}")})).await;
        if n < 4 {
            seen.push(next_json(&mut ws).await);
        }
        seen.push(next_json(&mut ws).await);
    }
    let frames: Vec<(String, u64)> = seen
        .iter()
        .map(|f| {
            (
                f["type"].as_str().unwrap().to_owned(),
                f["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = (1..=8)
        .map(|seq| {
            (
                if seq % 2 == 1 {
                    "transcript"
                } else {
                    "insight"
                },
                seq,
            )
        })
        .chain([("insight", 10)])
        .map(|(kind, seq)| (kind.to_owned(), seq))
        .collect();
    assert_eq!(frames, expected);
    let (_, session) = server.get(&format!("/api/v1/sessions/{id}"), &token).await;
    assert_eq!(session["message_count"], 5);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn failover_noop_ignores_force() {
    let app = TestApp::with_faults(&["failover-noop"]).await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let reply = app
        .post(
            &format!("/api/v1/sessions/{id}/auto-failover"),
            Some(&token),
            json!({"force": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_eq!(reply.body["failover_triggered"], false);
    assert!(reply.body["switch"].is_null());
    let session = app
        .get(&format!("/api/v1/sessions/{id}"), Some(&token))
        .await;
    assert_eq!(session.body["provider"], "gemini");
}

#[tokio::test]
async fn slow_upgrade_delays_the_handshake() {
    let server = Server::start(&["slow-upgrade"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let started = Instant::now();
    let mut ws = connect(&url, &token).await;
    assert!(started.elapsed() >= Duration::from_millis(700));
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    server.handle.shutdown().await;
}
