//! Telephony: the call lifecycle over HTTP, E.164 validation, ownership, carrier health,
//! signed webhooks (known-good vectors computed outside the code under test, tampering,
//! wrong keys, stale timestamps, replays) and call recovery into the cache at start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use uuid::Uuid;
use voice_reference_server::AppState;
use voice_reference_server::cache::{ActiveCall, Cache, InMemoryCache, RedisCache};
use voice_reference_server::settings::{Secret, Settings};
use voice_reference_server::telephony::CallStatus;
use voice_reference_server::telephony::webhooks::{
    ReplayGuard, SignatureError, telnyx_key, verify_telnyx, verify_twilio,
};

use crate::common::{Reply, TestApp};

const TWILIO_TOKEN: &str = "twilio-test-token";
/// Ed25519 seed of the test's Telnyx key: bytes 0, 1, …, 31.
const TELNYX_SEED: [u8; 32] = {
    let mut seed = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        seed[i] = i as u8;
        i += 1;
    }
    seed
};
/// The public key of [`TELNYX_SEED`], base64 (computed with Python's `cryptography`, below).
const TELNYX_PUBLIC: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

#[test]
fn twilio_signature_matches_the_documented_example() {
    // Twilio's documented example (auth token 12345); the signature recomputed independently:
    // python3 -c "import hmac,hashlib,base64; url='https://mycompany.com/myapp.php?foo=1&bar=2';
    //   p={'CallSid':'CA1234567890ABCDE','Caller':'+12349013030','Digits':'1234',
    //   'From':'+12349013030','To':'+18005551212'}; s=url+''.join(k+p[k] for k in sorted(p));
    //   print(base64.b64encode(hmac.new(b'12345',s.encode(),hashlib.sha1).digest()).decode())"
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params: Vec<(String, String)> = [
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("Caller", "+12349013030"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let good = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
    assert_eq!(verify_twilio("12345", url, &params, good), Ok(()));
    assert_eq!(
        verify_twilio("54321", url, &params, good),
        Err(SignatureError::Invalid),
        "wrong key"
    );
    let mut tampered = params.clone();
    tampered[2].1 = "9999".into();
    assert_eq!(
        verify_twilio("12345", url, &tampered, good),
        Err(SignatureError::Invalid),
        "tampered parameter"
    );
    assert_eq!(
        verify_twilio("12345", "https://mycompany.com/other.php", &params, good),
        Err(SignatureError::Invalid),
        "other URL"
    );
    assert_eq!(
        verify_twilio("12345", url, &params, "not base64!"),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn telnyx_signature_matches_an_independent_vector() {
    // Signed with Python's `cryptography` (Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    // .sign(b'1700000000|' + BODY)), not with the code under test.
    let body = br#"{"data":{"event_type":"call.answered","payload":{"call_control_id":"v3:abc"}}}"#;
    let signature =
        "cVv2+4fF3QZi9/g2XfJqU+pSO7uHJy/xRwyGERjWZBTnf8zxdDFk+pQ4dYmgoBwAZO8is0eyuoYC6Yraz2xnDA==";
    let key = telnyx_key(TELNYX_PUBLIC).unwrap();
    let guard = ReplayGuard::default();
    let now = 1_700_000_000;
    assert_eq!(
        verify_telnyx(&key, &guard, body, signature, "1700000000", now + 10),
        Ok(())
    );
    assert_eq!(
        verify_telnyx(&key, &guard, body, signature, "1700000000", now + 20),
        Err(SignatureError::Replayed),
        "the same webhook twice"
    );
    let fresh = ReplayGuard::default();
    let mut tampered = body.to_vec();
    tampered[30] ^= 1;
    assert_eq!(
        verify_telnyx(&key, &fresh, &tampered, signature, "1700000000", now),
        Err(SignatureError::Invalid),
        "tampered body"
    );
    assert_eq!(
        verify_telnyx(&key, &fresh, body, signature, "1700000001", now),
        Err(SignatureError::Invalid),
        "another timestamp"
    );
    assert_eq!(
        verify_telnyx(&key, &fresh, body, signature, "1700000000", now + 301),
        Err(SignatureError::Stale),
        "stale timestamp"
    );
    let wrong = telnyx_key(
        &STANDARD.encode(
            SigningKey::from_bytes(&[7u8; 32])
                .verifying_key()
                .to_bytes(),
        ),
    )
    .unwrap();
    assert_eq!(
        verify_telnyx(&wrong, &fresh, body, signature, "1700000000", now),
        Err(SignatureError::Invalid),
        "wrong key"
    );
    assert!(telnyx_key("c2hvcnQ=").is_err());
}

async fn telephony_app() -> TestApp {
    TestApp::with(|s| {
        s.telephony.twilio_auth_token = Some(Secret(TWILIO_TOKEN.into()));
        s.telephony.telnyx_public_key = Some(TELNYX_PUBLIC.into());
    })
    .await
}

async fn place(app: &TestApp, token: &str, provider: &str, session: Option<&str>) -> Value {
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

async fn set_status(app: &TestApp, token: &str, call_id: &str, status: CallStatus) -> Reply {
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
async fn call_in(app: &TestApp, token: &str, status: CallStatus) -> String {
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

fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn twilio(app: &TestApp, params: &[(&str, &str)], signature: Option<&str>) -> Reply {
    let body = serde_urlencoded::to_string(params).unwrap();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/api/telephony/webhooks/twilio")
        .header("host", "voice.test")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    app.raw(request.body(Body::from(body)).unwrap()).await
}

async fn status_of(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/telephony/call/{id}"), Some(token))
        .await
        .body["status"]
        .clone()
}

/// The `call_status` frames stored on a session's stream.
async fn call_events(app: &TestApp, session: &str) -> Vec<String> {
    let events = app
        .state
        .store
        .events_after(Uuid::parse_str(session).unwrap(), 0, 100)
        .await
        .unwrap();
    events
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.frame).unwrap())
        .filter(|f| f["type"] == "call_status")
        .map(|f| f["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn signed_twilio_webhooks_drive_the_call_and_the_stream() {
    let app = telephony_app().await;
    let token = app.user("twilio-hook@example.com").await;
    let session = app.session(&token, "openai").await;
    let id = place(&app, &token, "twilio", Some(&session)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = "http://voice.test/api/telephony/webhooks/twilio";
    let ringing = [("CallSid", id.as_str()), ("CallStatus", "ringing")];
    twilio(&app, &ringing, None).await.assert_problem(401);
    let bad = twilio_signature("http://voice.test/elsewhere", &ringing);
    twilio(&app, &ringing, Some(&bad)).await.assert_problem(403);
    let tampered = [("CallSid", id.as_str()), ("CallStatus", "in-progress")];
    let signed = twilio_signature(url, &ringing);
    twilio(&app, &tampered, Some(&signed))
        .await
        .assert_problem(403);
    assert_eq!(status_of(&app, &token, &id).await, "initiated");

    let reply = twilio(&app, &ringing, Some(&signed)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_eq!(status_of(&app, &token, &id).await, "ringing");
    for status in ["in-progress", "completed"] {
        let params = [("CallSid", id.as_str()), ("CallStatus", status)];
        let reply = twilio(&app, &params, Some(&twilio_signature(url, &params))).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    }
    let ended = app
        .get(&format!("/api/telephony/call/{id}"), Some(&token))
        .await;
    assert_eq!(ended.body["status"], "completed");
    assert!(ended.body["ended_at"].is_string());
    assert_eq!(
        call_events(&app, &session).await,
        ["initiated", "ringing", "answered", "completed"]
    );
}

async fn telnyx(app: &TestApp, body: &str, timestamp: i64, key: &SigningKey) -> Reply {
    let signature = key.sign(format!("{timestamp}|{body}").as_bytes());
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/telephony/webhooks/telnyx")
        .header("content-type", "application/json")
        .header("telnyx-timestamp", timestamp.to_string())
        .header(
            "telnyx-signature-ed25519",
            STANDARD.encode(signature.to_bytes()),
        )
        .body(Body::from(body.to_owned()))
        .unwrap();
    app.raw(request).await
}

#[tokio::test]
async fn signed_telnyx_webhooks_are_checked_for_key_age_and_replay() {
    let app = telephony_app().await;
    let token = app.user("telnyx-hook@example.com").await;
    let id = place(&app, &token, "telnyx", None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = SigningKey::from_bytes(&TELNYX_SEED);
    let now = chrono::Utc::now().timestamp();
    let event = |kind: &str| {
        json!({"data": {"event_type": kind, "payload": {"call_control_id": id}}}).to_string()
    };
    let missing = Request::builder()
        .method(Method::POST)
        .uri("/api/telephony/webhooks/telnyx")
        .header("content-type", "application/json")
        .body(Body::from(event("call.ringing")))
        .unwrap();
    app.raw(missing).await.assert_problem(401);
    let intruder = SigningKey::from_bytes(&[9u8; 32]);
    telnyx(&app, &event("call.ringing"), now, &intruder)
        .await
        .assert_problem(403);
    telnyx(&app, &event("call.ringing"), now - 301, &key)
        .await
        .assert_problem(403);
    assert_eq!(status_of(&app, &token, &id).await, "initiated");

    let ringing = event("call.ringing");
    let reply = telnyx(&app, &ringing, now, &key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_eq!(status_of(&app, &token, &id).await, "ringing");
    // The very same delivery again (same timestamp, body, signature): a replay.
    telnyx(&app, &ringing, now, &key).await.assert_problem(403);
    let reply = telnyx(&app, &event("call.hangup"), now, &key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_eq!(status_of(&app, &token, &id).await, "failed");
}

#[tokio::test]
async fn webhooks_without_configured_secrets_are_refused() {
    let app = TestApp::new().await;
    let reply = twilio(
        &app,
        &[("CallSid", "CA1"), ("CallStatus", "ringing")],
        Some("x"),
    )
    .await;
    reply.assert_problem(401);
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
    cache.put_calls(std::slice::from_ref(&second)).await.unwrap();
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
