//! Telephony: the call lifecycle over HTTP, E.164 validation, ownership, carrier health, call
//! recovery into the cache at start, and the call <-> session mappings of both cache tiers.
//! (The signed webhooks are in `telephony_webhooks`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use voice_reference_server::AppState;
use voice_reference_server::cache::{ActiveCall, Cache, InMemoryCache, RedisCache};
use voice_reference_server::settings::{Secret, Settings};
use voice_reference_server::telephony::CallStatus;

use crate::common::{Reply, TestApp};

pub(crate) const TWILIO_TOKEN: &str = "twilio-test-token";
/// The public key of [`TELNYX_SEED`], base64 (computed with Python's `cryptography`, see `telephony_webhooks`).
pub(crate) const TELNYX_PUBLIC: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

pub(crate) async fn telephony_app() -> TestApp {
    TestApp::with(|s| {
        s.telephony.twilio_auth_token = Some(Secret(TWILIO_TOKEN.into()));
        s.telephony.telnyx_public_key = Some(TELNYX_PUBLIC.into());
    })
    .await
}

pub(crate) async fn place(
    app: &TestApp,
    token: &str,
    provider: &str,
    session: Option<&str>,
) -> Value {
    let mut body = json!({"provider": provider, "from_number": "+14155550100",
        "to_number": "+442071838750"});
    if let Some(s) = session {
        body["session_id"] = json!(s);
    }
    let reply = app.post("/api/telephony/call", Some(token), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.raw);
    assert_eq!(reply.body["status"], "initiated");
    reply.body
}

pub(crate) async fn set_status(
    app: &TestApp,
    token: &str,
    call_id: &str,
    status: CallStatus,
) -> Reply {
    app.post(
        &format!("/api/telephony/call/{call_id}/status"),
        Some(token),
        json!({"status": status.as_str()}),
    )
    .await
}

/// The shortest way from `initiated` to `target`.
fn path_to(target: CallStatus) -> Vec<CallStatus> {
    let mut queue = VecDeque::from([vec![CallStatus::Initiated]]);
    while let Some(path) = queue.pop_front() {
        let last = *path.last().unwrap();
        if last == target {
            return path[1..].to_vec();
        }
        for next in last.next() {
            if !path.contains(next) {
                let mut longer = path.clone();
                longer.push(*next);
                queue.push_back(longer);
            }
        }
    }
    panic!("{target} unreachable");
}

/// A new call of the user, driven to `status`.
pub(crate) async fn call_in(app: &TestApp, token: &str, status: CallStatus) -> String {
    let id = place(app, token, "twilio", None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for step in path_to(status) {
        let reply = set_status(app, token, &id, step).await;
        assert_eq!(reply.status, StatusCode::OK, "{step}: {}", reply.raw);
    }
    id
}

pub(crate) async fn status_of(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/telephony/call/{id}"), Some(token))
        .await
        .body["status"]
        .clone()
}

#[tokio::test]
async fn every_legal_transition_applies_and_illegal_ones_are_409_and_change_nothing() {
    let app = telephony_app().await;
    let token = app.user("lifecycle@example.com").await;
    let mut legal = 0;
    let mut illegal = 0;
    for from in CallStatus::ALL {
        for to in CallStatus::ALL {
            let id = call_in(&app, &token, from).await;
            let reply = set_status(&app, &token, &id, to).await;
            let now = app
                .get(&format!("/api/telephony/call/{id}"), Some(&token))
                .await;
            if from.can_become(to) {
                legal += 1;
                assert_eq!(reply.status, StatusCode::OK, "{from} → {to}: {}", reply.raw);
                assert_eq!(now.body["status"], to.as_str());
                assert_eq!(now.body["ended_at"].is_string(), to.is_terminal(), "{to}");
            } else {
                illegal += 1;
                reply.assert_problem(409);
                assert_eq!(
                    now.body["status"],
                    from.as_str(),
                    "{from} → {to} changed it"
                );
            }
        }
    }
    assert_eq!((legal, illegal), (15, 34));
}

#[tokio::test]
async fn numbers_must_be_e164_and_calls_are_private() {
    let app = telephony_app().await;
    let alice = app.user("alice-tel@example.com").await;
    let bob = app.user("bob-tel@example.com").await;
    for (from, to) in [("4155550100", "+442071838750"), ("+14155550100", "+0207")] {
        let reply = app
            .post(
                "/api/telephony/call",
                Some(&alice),
                json!({"provider": "telnyx", "from_number": from, "to_number": to}),
            )
            .await;
        reply.assert_problem(422);
    }
    let call = place(&app, &alice, "telnyx", None).await;
    let id = call["id"].as_str().unwrap();
    assert!(id.starts_with("v3:"), "{id}");
    app.get(&format!("/api/telephony/call/{id}"), Some(&bob))
        .await
        .assert_problem(404);
    set_status(&app, &bob, id, CallStatus::Ringing)
        .await
        .assert_problem(404);
    let bob_session = app.session(&bob, "gemini").await;
    app.post(
        "/api/telephony/call",
        Some(&alice),
        json!({"provider": "twilio", "from_number": "+14155550100",
            "to_number": "+14155550101", "session_id": bob_session}),
    )
    .await
    .assert_problem(404);
    let active = app.get("/api/telephony/calls/active", Some(&alice)).await;
    assert_eq!(active.body["total"], 1, "{}", active.raw);
    assert_eq!(
        app.get("/api/telephony/calls/active", Some(&bob))
            .await
            .body["total"],
        0
    );
    let health = app
        .get("/api/telephony/provider-health", Some(&alice))
        .await;
    assert_eq!(health.status, StatusCode::OK);
    let providers: Vec<&str> = health.body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["twilio", "telnyx"]);
    app.state
        .carriers
        .set_healthy(voice_reference_server::telephony::Carrier::Twilio, false);
    app.post(
        "/api/telephony/call",
        Some(&alice),
        json!({"provider": "twilio", "from_number": "+14155550100", "to_number": "+14155550101"}),
    )
    .await
    .assert_problem(503);
}

#[tokio::test]
async fn recovery_at_start_fills_the_cache_and_a_lost_cache_loses_no_call() {
    let app = telephony_app().await;
    let token = app.user("recovery@example.com").await;
    let session = app.session(&token, "gemini").await;
    let live = place(&app, &token, "twilio", Some(&session)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain = call_in(&app, &token, CallStatus::OnHold).await;
    let ended = call_in(&app, &token, CallStatus::Completed).await;

    // A restart: a new state over the same database, with an empty cache.
    let restarted = AppState::new(&Settings::ephemeral(app.database_url.clone()))
        .await
        .unwrap();
    assert_eq!(restarted.recovery.calls, 2);
    assert!(restarted.recovery.cached);
    assert_eq!(
        restarted.cache.call_session(&live).await.unwrap(),
        Some(Some(session.clone()))
    );
    assert_eq!(
        restarted.cache.session_call(&session).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        restarted.cache.call_session(&plain).await.unwrap(),
        Some(None)
    );
    assert_eq!(restarted.cache.call_session(&ended).await.unwrap(), None);
    let router = voice_reference_server::app(restarted.clone());
    let ready =
        tower::ServiceExt::oneshot(router, Request::get("/ready").body(Body::empty()).unwrap())
            .await
            .unwrap();
    let bytes = http_body_util::BodyExt::collect(ready.into_body())
        .await
        .unwrap()
        .to_bytes();
    let ready: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(ready["recovery"]["calls"], 2, "{ready}");

    // The cache is lost: calls are still found and still change state (database first).
    app.state
        .in_process_cache
        .as_ref()
        .unwrap()
        .set_available(false);
    assert_eq!(status_of(&app, &token, &live).await, "initiated");
    let reply = set_status(&app, &token, &live, CallStatus::Ringing).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_eq!(status_of(&app, &token, &live).await, "ringing");
}

/// The call ↔ session mappings, the same on every cache tier.
async fn call_mappings(cache: &dyn Cache) {
    let session = Uuid::new_v4().to_string();
    let first = ActiveCall {
        call_id: "CAfirst".into(),
        session_id: Some(session.clone()),
    };
    let second = ActiveCall {
        call_id: "CAsecond".into(),
        session_id: Some(session.clone()),
    };
    let bare = ActiveCall {
        call_id: "v3:bare".into(),
        session_id: None,
    };
    cache
        .put_calls(&[first.clone(), bare.clone()])
        .await
        .unwrap();
    assert_eq!(
        cache.call_session("CAfirst").await.unwrap(),
        Some(Some(session.clone()))
    );
    assert_eq!(cache.call_session("v3:bare").await.unwrap(), Some(None));
    assert_eq!(cache.call_session("CAnone").await.unwrap(), None);
    assert_eq!(
        cache.session_call(&session).await.unwrap().as_deref(),
        Some("CAfirst")
    );
    // A newer call of the session takes the reverse mapping; the old one ending keeps it.
    cache
        .put_calls(std::slice::from_ref(&second))
        .await
        .unwrap();
    cache.remove_call(&first).await.unwrap();
    assert_eq!(cache.call_session("CAfirst").await.unwrap(), None);
    assert_eq!(
        cache.session_call(&session).await.unwrap().as_deref(),
        Some("CAsecond")
    );
    cache.remove_call(&second).await.unwrap();
    cache.remove_call(&bare).await.unwrap();
    assert_eq!(cache.session_call(&session).await.unwrap(), None);
    assert_eq!(cache.call_session("v3:bare").await.unwrap(), None);
}

#[tokio::test]
async fn call_mappings_on_the_in_process_cache() {
    call_mappings(&InMemoryCache::default()).await;
}

#[tokio::test]
async fn call_mappings_on_redis() {
    let Some(url) = crate::cache::shared_redis_or_skip() else {
        return;
    };
    let prefix = format!("voice:test:{}:", Uuid::new_v4().simple());
    let cache = RedisCache::open(url, &prefix).unwrap();
    call_mappings(&cache).await;
    let left = crate::cache::redis_cli(6379, &["--scan", "--pattern", &format!("{prefix}*")]);
    assert_eq!(left, "", "keys left behind");
}
