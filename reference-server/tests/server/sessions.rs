//! Sessions and provider switching through `app()`.

#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn create_get_list_filter_paginate_end() {
    let app = TestApp::new().await;
    let token = app.user("a@example.com").await;
    let created = app
        .post("/api/v1/sessions", Some(&token), json!({"provider": "openai", "metadata": {"customer": "c1"}, "config": {"language": "en-US"}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.raw);
    let id = created.body["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.body["websocket_url"],
        format!("ws://voice.test/ws/sessions/{id}")
    );
    assert_eq!(created.body["session"]["message_count"], 0);
    assert_eq!(
        created.body["session"]["metadata"],
        json!({"customer": "c1"})
    );
    assert!(created.body["session"]["ended_at"].is_null());

    for provider in ["gemini", "gemini", "deepgram"] {
        app.session(&token, provider).await;
    }
    let one = app
        .get(&format!("/api/v1/sessions/{id}"), Some(&token))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["provider"], "openai");
    assert!(one.body["updated_at"].is_string());

    let all = app.get("/api/v1/sessions", Some(&token)).await;
    assert_eq!(all.body["total"], 4);
    assert_eq!(all.body["page"], 1);
    assert_eq!(all.body["page_size"], 20);
    assert_eq!(all.body["items"][3]["id"], id.as_str()); // newest first
    let gemini = app
        .get("/api/v1/sessions?provider=gemini", Some(&token))
        .await;
    assert_eq!(gemini.body["total"], 2);
    let page = app
        .get("/api/v1/sessions?page=2&page_size=3", Some(&token))
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["total"], 4);
    app.get("/api/v1/sessions?page_size=101", Some(&token))
        .await
        .assert_problem(400);
    app.get("/api/v1/sessions?page=0", Some(&token))
        .await
        .assert_problem(400);
    app.get("/api/v1/sessions?status=paused", Some(&token))
        .await
        .assert_problem(400);
    app.get("/api/v1/sessions", None).await.assert_problem(401);

    let ended = app
        .post(
            &format!("/api/v1/sessions/{id}/end"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK);
    assert_eq!(ended.body["status"], "ended");
    assert!(ended.body["ended_at"].is_string());
    let active = app
        .get("/api/v1/sessions?status=active", Some(&token))
        .await;
    assert_eq!(active.body["total"], 3);
    let ended_list = app.get("/api/v1/sessions?status=ended", Some(&token)).await;
    assert_eq!(ended_list.body["total"], 1);

    app.get("/api/v1/sessions/not-a-uuid", Some(&token))
        .await
        .assert_problem(400);
    app.post(
        "/api/v1/sessions",
        Some(&token),
        json!({"provider": "skynet"}),
    )
    .await
    .assert_problem(422);
    app.post("/api/v1/sessions", Some(&token), json!({}))
        .await
        .assert_problem(422);
    app.post(
        "/api/v1/sessions",
        Some(&token),
        json!({"provider": "gemini", "extra": 1}),
    )
    .await
    .assert_problem(422);
}

#[tokio::test]
async fn another_users_session_is_404() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let id = app.session(&alice, "gemini").await;
    for path in ["", "/switch-status", "/switch-history"] {
        app.get(&format!("/api/v1/sessions/{id}{path}"), Some(&bob))
            .await
            .assert_problem(404);
    }
    app.post(&format!("/api/v1/sessions/{id}/end"), Some(&bob), json!({}))
        .await
        .assert_problem(404);
    app.post(
        &format!("/api/v1/sessions/{id}/switch-provider"),
        Some(&bob),
        json!({"provider": "openai"}),
    )
    .await
    .assert_problem(404);
    assert_eq!(
        app.get("/api/v1/sessions", Some(&bob)).await.body["total"],
        0
    );
    app.get(
        &format!("/api/v1/sessions/{}", uuid::Uuid::new_v4()),
        Some(&alice),
    )
    .await
    .assert_problem(404);
}

#[tokio::test]
async fn switching_carries_context_and_records_history() {
    let app = TestApp::new().await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let sid = uuid::Uuid::parse_str(&id).unwrap();
    for text in ["hello there", "this is great", "thanks a lot"] {
        voice_reference_server::conversation::process_text(&app.state, sid, text, None)
            .await
            .unwrap();
    }
    assert_eq!(
        app.get(&format!("/api/v1/sessions/{id}"), Some(&token))
            .await
            .body["message_count"],
        3
    );

    let status = app
        .get(
            &format!("/api/v1/sessions/{id}/switch-status"),
            Some(&token),
        )
        .await;
    assert_eq!(status.body["switch_count"], 0);
    assert!(status.body["last_switch"].is_null());
    assert_eq!(status.body["state"], "idle");

    let switched = app
        .post(
            &format!("/api/v1/sessions/{id}/switch-provider"),
            Some(&token),
            json!({"provider": "openai", "reason": "latency"}),
        )
        .await;
    assert_eq!(switched.status, StatusCode::OK, "{}", switched.raw);
    assert_eq!(switched.body["success"], true);
    assert_eq!(switched.body["from_provider"], "gemini");
    assert_eq!(switched.body["to_provider"], "openai");
    assert_eq!(switched.body["context_preserved"], 3);
    assert!(switched.body["error_message"].is_null());
    assert_eq!(
        app.get(&format!("/api/v1/sessions/{id}"), Some(&token))
            .await
            .body["message_count"],
        3
    );

    // Same provider: 409. Unknown provider: 422. Bad field: 422.
    app.post(
        &format!("/api/v1/sessions/{id}/switch-provider"),
        Some(&token),
        json!({"provider": "openai"}),
    )
    .await
    .assert_problem(409);
    app.post(
        &format!("/api/v1/sessions/{id}/switch-provider"),
        Some(&token),
        json!({"provider": "hal9000"}),
    )
    .await
    .assert_problem(422);
    app.post(
        &format!("/api/v1/sessions/{id}/switch-provider"),
        Some(&token),
        json!({"provider": "gemini", "preserve_context": "yes"}),
    )
    .await
    .assert_problem(422);

    let reset = app
        .post(
            &format!("/api/v1/sessions/{id}/switch-provider"),
            Some(&token),
            json!({"provider": "deepgram", "preserve_context": false}),
        )
        .await;
    assert_eq!(reset.body["context_preserved"], 0);
    assert!(app.state.store.messages(sid).await.unwrap().is_empty());
    assert_eq!(
        app.get(&format!("/api/v1/sessions/{id}"), Some(&token))
            .await
            .body["message_count"],
        0
    );

    let history = app
        .get(
            &format!("/api/v1/sessions/{id}/switch-history"),
            Some(&token),
        )
        .await;
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["to_provider"], "openai");
    assert_eq!(items[0]["reason"], "latency");
    assert_eq!(items[1]["to_provider"], "deepgram");
    assert!(items[1]["reason"].is_null());
    let status = app
        .get(
            &format!("/api/v1/sessions/{id}/switch-status"),
            Some(&token),
        )
        .await;
    assert_eq!(status.body["switch_count"], 2);
    assert_eq!(status.body["current_provider"], "deepgram");
    assert_eq!(status.body["last_switch"]["to_provider"], "deepgram");

    app.post(
        &format!("/api/v1/sessions/{id}/end"),
        Some(&token),
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/sessions/{id}/switch-provider"),
        Some(&token),
        json!({"provider": "gemini"}),
    )
    .await
    .assert_problem(409);
    app.post(
        &format!("/api/v1/sessions/{id}/auto-failover"),
        Some(&token),
        json!({"force": true}),
    )
    .await
    .assert_problem(409);
}

#[tokio::test]
async fn auto_failover() {
    let app = TestApp::new().await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let url = format!("/api/v1/sessions/{id}/auto-failover");
    let healthy = app.post(&url, Some(&token), json!({})).await;
    assert_eq!(healthy.status, StatusCode::OK);
    assert_eq!(healthy.body["failover_triggered"], false);
    assert!(healthy.body["switch"].is_null());
    assert!(healthy.body["reason"].is_string());

    app.state
        .providers
        .get(&voice_reference_server::ProviderName::Gemini)
        .unwrap()
        .set_healthy(false);
    let failed_over = app.post(&url, Some(&token), json!({})).await;
    assert_eq!(
        failed_over.body["failover_triggered"], true,
        "{}",
        failed_over.raw
    );
    assert_eq!(failed_over.body["switch"]["from_provider"], "gemini");
    assert_eq!(failed_over.body["switch"]["to_provider"], "openai");

    let forced = app
        .post(
            &url,
            Some(&token),
            json!({"force": true, "reason": "drill"}),
        )
        .await;
    assert_eq!(forced.body["failover_triggered"], true);
    assert_eq!(forced.body["switch"]["to_provider"], "deepgram");
    app.post(&url, Some(&token), json!({"force": "yes"}))
        .await
        .assert_problem(422);

    let history = app
        .get(
            &format!("/api/v1/sessions/{id}/switch-history"),
            Some(&token),
        )
        .await;
    let reasons: Vec<_> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].clone())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[1], "drill");
}
