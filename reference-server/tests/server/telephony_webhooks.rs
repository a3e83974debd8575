//! Telephony webhooks: signature validation against known-good vectors computed outside the
//! code under test, then over HTTP: tampered bodies, wrong keys, stale timestamps, replays,
//! and signed webhooks driving a call and its session's stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use uuid::Uuid;
use voice_reference_server::telephony::webhooks::{
    ReplayGuard, SignatureError, telnyx_key, verify_telnyx, verify_twilio,
};

use crate::common::{Reply, TestApp};
use crate::telephony::{TELNYX_PUBLIC, TWILIO_TOKEN, place, status_of, telephony_app};

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
