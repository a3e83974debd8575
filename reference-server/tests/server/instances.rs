//! Two instances of the server behind one PostgreSQL database, one Redis (a key prefix of the
//! test's own) and one signing key: revocation, stream events and `resume` cross instances.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use tempfile::TempDir;
use voice_reference_server::cache::CacheConfig;
use voice_reference_server::{Application, ServerHandle, Settings};

use crate::cache::{OwnRedis, free_port, key_file, redis_cli, shared_redis_or_skip};
use crate::pg::PgDatabase;
use crate::ws::{Socket, connect, expect_close, next_json, send};

struct Pair {
    /// Taken when a test stops instance A.
    a: Option<ServerHandle>,
    b: ServerHandle,
    http: reqwest::Client,
    prefix: String,
    _dir: TempDir,
    _db: PgDatabase,
}

/// Two servers on port 0 sharing everything a deployment shares; `None` when the services
/// are absent and `VOICE_SKIP_SERVICES=1`.
async fn pair() -> Option<Pair> {
    let url = shared_redis_or_skip()?;
    pair_on(url).await
}

/// Like [`pair`], on the Redis at `url`.
async fn pair_on(url: &str) -> Option<Pair> {
    let db = PgDatabase::create().await?;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let prefix = format!("voice:test:{}:", uuid::Uuid::new_v4().simple());
    let settings = || {
        let mut settings = Settings::ephemeral(db.url.clone());
        settings.jwt_key_file = Some(key.clone());
        settings.cache = CacheConfig::Redis {
            url: url.to_owned(),
            prefix: prefix.clone(),
        };
        settings
    };
    let a = Application::build(settings())
        .await
        .expect("instance A")
        .spawn();
    let b = Application::build(settings())
        .await
        .expect("instance B")
        .spawn();
    assert_eq!(a.state.bus.kind(), "redis");
    Some(Pair {
        a: Some(a),
        b,
        http: crate::common::http_client(),
        prefix,
        _dir: dir,
        _db: db,
    })
}

impl Pair {
    fn a(&self) -> &ServerHandle {
        self.a.as_ref().expect("instance A still running")
    }

    async fn call(
        &self,
        on: &ServerHandle,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", on.base_url());
        let mut req = match &body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Registers through A; returns the token and a new session's id.
    async fn user_and_session(&self, email: &str) -> (String, String) {
        let body = json!({"email": email, "password": "correct horse battery"});
        let (status, auth) = self
            .call(self.a(), "/api/v1/auth/register", None, Some(body))
            .await;
        assert_eq!(status, 201, "{auth}");
        let token = auth["access_token"].as_str().unwrap().to_owned();
        let (status, session) = self
            .call(
                self.a(),
                "/api/v1/sessions",
                Some(&token),
                Some(json!({"provider": "gemini"})),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        let id = session["session"]["id"].as_str().unwrap().to_owned();
        (token, id)
    }

    async fn switch(&self, on: &ServerHandle, id: &str, token: &str, provider: &str) {
        let (status, body) = self
            .call(
                on,
                &format!("/api/v1/sessions/{id}/switch-provider"),
                Some(token),
                Some(json!({"provider": provider})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    fn cleanup(&self) {
        for key in redis_cli(6379, &["--scan", "--pattern", &format!("{}*", self.prefix)]).lines() {
            redis_cli(6379, &["DEL", key]);
        }
    }
}

/// A socket on `on`, known to be subscribed (it has answered a ping); returns it and the
/// seq its replies carry.
async fn socket(on: &ServerHandle, id: &str, token: &str) -> (Socket, u64) {
    let mut ws = connect(&format!("{}/ws/sessions/{id}", on.ws_base_url()), token).await;
    send(&mut ws, json!({"type": "ping"})).await;
    let pong = next_json(&mut ws).await;
    assert_eq!(pong["type"], "pong", "{pong}");
    (ws, pong["seq"].as_u64().expect("seq"))
}

fn kind_and_seq(event: &Value) -> (String, u64) {
    (
        event["type"].as_str().unwrap_or_default().to_owned(),
        event["seq"].as_u64().expect("seq"),
    )
}

#[tokio::test]
async fn a_token_revoked_through_a_is_refused_by_b_and_closes_b_sockets() {
    let Some(pair) = pair().await else { return };
    let (token, id) = pair.user_and_session("revoked@example.com").await;
    let (mut on_b, _) = socket(&pair.b, &id, &token).await;
    let (status, _) = pair
        .call(&pair.b, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(status, 200);

    let (status, body) = pair
        .call(
            pair.a(),
            "/api/v1/auth/logout",
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = pair
        .call(&pair.b, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(status, 401, "B accepted a token revoked through A");
    assert_eq!(expect_close(&mut on_b).await, 4001, "B's socket not closed");
    pair.cleanup();
}

#[tokio::test]
async fn events_made_through_a_reach_b_sockets_in_one_sequence_space() {
    let Some(pair) = pair().await else { return };
    let (token, id) = pair.user_and_session("events@example.com").await;
    let (mut on_a, start_a) = socket(pair.a(), &id, &token).await;
    let (mut on_b, start_b) = socket(&pair.b, &id, &token).await;
    assert_eq!((start_a, start_b), (0, 0));

    pair.switch(pair.a(), &id, &token, "openai").await;
    let mut from_a = vec![next_json(&mut on_a).await];
    let mut from_b = vec![next_json(&mut on_b).await];
    assert_eq!(
        kind_and_seq(&from_b[0]),
        ("provider_switched".into(), 1),
        "{}",
        from_b[0]
    );
    assert_eq!(from_b[0]["to_provider"], "openai");
    // Through B now: the same sequence space, seen alike on both instances.
    pair.switch(&pair.b, &id, &token, "deepgram").await;
    from_a.push(next_json(&mut on_a).await);
    from_b.push(next_json(&mut on_b).await);
    send(&mut on_a, json!({"type": "text", "text": "this is great"})).await;
    for _ in 0..2 {
        from_a.push(next_json(&mut on_a).await);
        from_b.push(next_json(&mut on_b).await);
    }
    let a_seqs: Vec<_> = from_a.iter().map(kind_and_seq).collect();
    let b_seqs: Vec<_> = from_b.iter().map(kind_and_seq).collect();
    assert_eq!(
        b_seqs,
        vec![
            ("provider_switched".into(), 1),
            ("provider_switched".into(), 2),
            ("transcript".into(), 3),
            ("insight".into(), 4),
        ]
    );
    assert_eq!(a_seqs, b_seqs, "both instances deliver the same stream");
    assert_eq!(from_a, from_b, "frames byte-equal across instances");
    // The text on A used the provider switched to through B.
    assert_eq!(from_b[2]["provider"], "deepgram", "{}", from_b[2]);

    // Ending through B closes A's socket too, after the last event.
    let (status, body) = pair
        .call(
            &pair.b,
            &format!("/api/v1/sessions/{id}/end"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ended = next_json(&mut on_a).await;
    assert_eq!(kind_and_seq(&ended), ("call_status".into(), 5), "{ended}");
    assert_eq!(expect_close(&mut on_a).await, 1000);
    pair.cleanup();
}

/// Both instances publish to one session at once: every seq is stored once, and each socket
/// receives exactly 1..=N in order, whichever instance it is on.
#[tokio::test]
async fn two_instances_publishing_to_one_session_interleave() {
    let Some(pair) = pair().await else { return };
    let (token, id) = pair.user_and_session("interleave@example.com").await;
    let (mut on_a, _) = socket(pair.a(), &id, &token).await;
    let (mut on_b, _) = socket(&pair.b, &id, &token).await;
    let session = uuid::Uuid::parse_str(&id).unwrap();
    const EACH: u64 = 40;
    let mut tasks = Vec::new();
    for (name, handle) in [("a", pair.a()), ("b", &pair.b)] {
        let hub = handle.state.hubs.get(session);
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                let mut fields = serde_json::Map::new();
                fields.insert("n".into(), json!(format!("{name}-{n}")));
                hub.publish("transcript", fields).await.expect("publish");
            }
        }));
    }
    for task in tasks {
        task.await.expect("publisher");
    }
    let stored = pair
        .a()
        .state
        .store
        .events_after(session, 0, 500)
        .await
        .unwrap();
    let expected: Vec<u64> = (1..=2 * EACH).collect();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), expected);
    for ws in [&mut on_a, &mut on_b] {
        let mut got = Vec::new();
        for _ in 0..2 * EACH {
            got.push(next_json(ws).await["seq"].as_u64().expect("seq"));
        }
        assert_eq!(got, expected);
        send(ws, json!({"type": "ping"})).await;
        let pong = next_json(ws).await;
        assert_eq!(
            (pong["type"].as_str(), pong["seq"].as_u64()),
            (Some("pong"), Some(2 * EACH)),
            "nothing duplicated after the last event"
        );
    }
    pair.cleanup();
}

#[tokio::test]
async fn a_client_that_loses_a_resumes_on_b_with_nothing_missing() {
    let Some(mut pair) = pair().await else { return };
    let (token, id) = pair.user_and_session("resume@example.com").await;
    let (mut on_a, _) = socket(pair.a(), &id, &token).await;
    send(&mut on_a, json!({"type": "text", "text": "hello"})).await;
    let seen = [next_json(&mut on_a).await, next_json(&mut on_a).await];
    assert_eq!(
        seen.iter()
            .map(kind_and_seq)
            .map(|k| k.1)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );

    // A goes away; meanwhile the session moves on through B.
    drop(on_a);
    pair.a.take().expect("A").shutdown().await;
    let b = &pair.b;
    pair.switch(b, &id, &token, "openai").await;
    pair.switch(b, &id, &token, "deepgram").await;
    let (mut on_b, last) = socket(b, &id, &token).await;
    assert_eq!(last, 4);
    send(&mut on_b, json!({"type": "resume", "last_seq": 2})).await;
    let missed = [next_json(&mut on_b).await, next_json(&mut on_b).await];
    assert_eq!(
        missed.iter().map(kind_and_seq).collect::<Vec<_>>(),
        vec![
            ("provider_switched".into(), 3),
            ("provider_switched".into(), 4)
        ]
    );
    assert_eq!(missed[1]["to_provider"], "deepgram");
    // Live again: the next event follows without a duplicate or a gap.
    pair.switch(b, &id, &token, "gemini").await;
    assert_eq!(
        kind_and_seq(&next_json(&mut on_b).await),
        ("provider_switched".into(), 5)
    );
    send(&mut on_b, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut on_b).await["type"], "pong");
    pair.cleanup();
}

/// The bus loses what is published while Redis is down; once it is back, B catches up from
/// the database: the missed event reaches B's socket, and B's socket of a token revoked
/// during the outage closes with 4001 (while the other socket stays open).
#[tokio::test]
async fn after_a_redis_outage_b_catches_up_from_the_database() {
    let Some(redis) = OwnRedis::start(free_port()) else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let Some(pair) = pair_on(&url).await else {
        return;
    };
    let (token, id) = pair.user_and_session("outage@example.com").await;
    let body = json!({"email": "outage@example.com", "password": "correct horse battery"});
    let (status, login) = pair
        .call(pair.a(), "/api/v1/auth/login", None, Some(body))
        .await;
    assert_eq!(status, 200, "{login}");
    let second = login["access_token"].as_str().unwrap().to_owned();
    let (mut kept, _) = socket(&pair.b, &id, &token).await;
    let (mut revoked, _) = socket(&pair.b, &id, &second).await;

    let port = redis.kill();
    pair.switch(pair.a(), &id, &token, "openai").await;
    let (status, _) = pair
        .call(
            pair.a(),
            "/api/v1/auth/logout",
            Some(&second),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = pair
        .call(&pair.b, "/api/v1/auth/me", Some(&second), None)
        .await;
    assert_eq!(status, 401, "revoked during the outage, accepted by B");

    let _redis = OwnRedis::start(port).expect("restart redis");
    let missed = next_json(&mut kept).await;
    assert_eq!(kind_and_seq(&missed), ("provider_switched".into(), 1));
    assert_eq!(expect_close(&mut revoked).await, 4001);
    send(&mut kept, json!({"type": "ping"})).await;
    let pong = next_json(&mut kept).await;
    assert_eq!(
        (pong["type"].as_str(), pong["seq"].as_u64()),
        (Some("pong"), Some(1))
    );
}

/// Without `--cache-url` the bus is in-process: publishing tells nobody else, and the
/// instance's own sockets are served directly (the ws suite runs on this bus).
#[tokio::test]
async fn the_embedded_server_uses_the_in_process_bus() {
    let app = crate::common::TestApp::new().await;
    assert_eq!(app.state.bus.kind(), "in-process");
    let id = uuid::Uuid::new_v4();
    let hub = app.state.hubs.get(id);
    let mut subscription = hub.subscribe().await;
    let event = hub
        .publish("transcript", serde_json::Map::new())
        .await
        .expect("publish");
    match subscription.rx.try_recv() {
        Ok(voice_reference_server::ws::hub::HubMessage::Event(got)) => {
            assert_eq!((got.seq, &got.text), (event.seq, &event.text));
        }
        other => panic!("expected the event, got {other:?}"),
    }
    assert!(
        subscription.rx.try_recv().is_err(),
        "delivered once, not again through the bus"
    );
}

/// The failed-login budget is one for the deployment: failures through A and B add up, and
/// once it is spent both instances answer 429. Its Redis key does not name the account.
#[tokio::test]
async fn failed_sign_ins_through_both_instances_spend_one_budget() {
    let Some(pair) = pair().await else { return };
    let email = "guessed@example.com";
    pair.user_and_session(email).await;
    let wrong = json!({"email": email, "password": "not the password"});
    let budget = voice_reference_server::hardening::LoginLimit::default().max_failures;
    for attempt in 0..budget {
        let on = if attempt % 2 == 0 { pair.a() } else { &pair.b };
        let (status, body) = pair
            .call(on, "/api/v1/auth/login", None, Some(wrong.clone()))
            .await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
    for on in [pair.a(), &pair.b] {
        let (status, body) = pair
            .call(on, "/api/v1/auth/login", None, Some(wrong.clone()))
            .await;
        assert_eq!(status, 429, "{body}");
    }
    let keys = redis_cli(
        6379,
        &["--scan", "--pattern", &format!("{}login:*", pair.prefix)],
    );
    assert_eq!(keys.lines().count(), 1, "{keys}");
    assert!(
        !keys.contains("guessed"),
        "the email is in a Redis key: {keys}"
    );
    pair.cleanup();
}
