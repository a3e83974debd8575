//! Stream events outlive the process, and the whole server runs on PostgreSQL.
//!
//! The restart test stops an `Application`, starts a new one on the same SQLite file and
//! proves a fresh socket's `resume` from 0 returns every event exactly once, with numbering
//! continuing after the last stored seq. The PostgreSQL test drives register, session,
//! switch and the stream end to end against a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use voice_reference_server::{Application, ServerHandle, Settings};

use crate::pg::PgDatabase;
use crate::ws::{Socket, connect, next_json, send};

const PASSWORD: &str = "correct horse battery";

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn of(handle: &ServerHandle) -> Client {
        Client {
            http: crate::common::http_client(),
            base: handle.base_url(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    async fn token(&self, path: &str, email: &str) -> String {
        let (status, body) = self
            .post(path, None, json!({"email": email, "password": PASSWORD}))
            .await;
        assert!(status == 200 || status == 201, "{path}: {status} {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A new session on `gemini`; its id.
    async fn session(&self, token: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/sessions",
                Some(token),
                json!({"provider": "gemini"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["session"]["id"]
            .as_str()
            .expect("session id")
            .to_owned()
    }

    async fn switch(&self, session_id: &str, token: &str, provider: &str) {
        let (status, body) = self
            .post(
                &format!("/api/v1/sessions/{session_id}/switch-provider"),
                Some(token),
                json!({"provider": provider}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

fn stream_url(handle: &ServerHandle, session_id: &str) -> String {
    format!("{}/ws/sessions/{session_id}", handle.ws_base_url())
}

/// Sends one text and returns its two events (`transcript`, `insight`).
async fn say(ws: &mut Socket, text: &str) -> [Value; 2] {
    send(ws, json!({"type": "text", "text": text})).await;
    [next_json(ws).await, next_json(ws).await]
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

#[tokio::test]
async fn resume_after_a_restart_returns_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let settings = || -> Settings { crate::common::settings(&dir) };

    let first = Application::build(settings()).await.unwrap().spawn();
    let client = Client::of(&first);
    let token = client.token("/api/v1/auth/register", "a@example.com").await;
    let id = client.session(&token).await;
    let mut ws = connect(&stream_url(&first, &id), &token).await;
    let mut sent = Vec::new();
    for text in ["hello", "this is great", "terrible"] {
        sent.extend(say(&mut ws, text).await);
    }
    client.switch(&id, &token, "openai").await;
    sent.push(next_json(&mut ws).await);
    assert_eq!(seqs(&sent), (1..=7).collect::<Vec<_>>());
    assert_eq!(sent[6]["type"], "provider_switched");
    drop(ws);
    first.shutdown().await;

    let second = Application::build(settings()).await.unwrap().spawn();
    let client = Client::of(&second);
    let token = client.token("/api/v1/auth/login", "a@example.com").await;
    let mut ws = connect(&stream_url(&second, &id), &token).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        next_json(&mut ws).await["seq"],
        7,
        "replies carry the stored last seq"
    );
    send(&mut ws, json!({"type": "resume", "last_seq": 0})).await;
    let mut replayed = Vec::new();
    for _ in 0..7 {
        replayed.push(next_json(&mut ws).await);
    }
    assert_eq!(replayed, sent, "every event, in order, as first sent");

    // Numbering continues after the stored events: no duplicate seq, no gap.
    let next = say(&mut ws, "still there?").await;
    assert_eq!(seqs(&next), vec![8, 9]);
    let mut late = connect(&stream_url(&second, &id), &token).await;
    send(&mut late, json!({"type": "resume", "last_seq": 6})).await;
    let tail = [
        next_json(&mut late).await,
        next_json(&mut late).await,
        next_json(&mut late).await,
    ];
    assert_eq!(seqs(&tail), vec![7, 8, 9]);
    assert_eq!(tail[0], sent[6]);
    assert_eq!(tail[1..], next);
    second.shutdown().await;
}

#[tokio::test]
async fn the_server_runs_on_postgresql() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let mut settings = Settings::ephemeral(db.url.clone());
    // A one-event buffer, so `resume` below reads the PostgreSQL event log.
    settings.replay_buffer = 1;
    let handle = Application::build(settings)
        .await
        .expect("server on PostgreSQL")
        .spawn();
    assert_eq!(handle.state.store.engine(), "postgres");
    let client = Client::of(&handle);
    let token = client
        .token("/api/v1/auth/register", "pg@example.com")
        .await;
    let (status, _) = client
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "pg@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 409, "duplicate email");
    let id = client.session(&token).await;

    let mut ws = connect(&stream_url(&handle, &id), &token).await;
    let spoken = say(&mut ws, "this is great").await;
    assert_eq!(seqs(&spoken), vec![1, 2]);
    client.switch(&id, &token, "openai").await;
    let switched = next_json(&mut ws).await;
    assert_eq!(
        (switched["type"].as_str(), switched["seq"].as_u64()),
        (Some("provider_switched"), Some(3))
    );

    let (status, body) = client.get(&format!("/api/v1/sessions/{id}"), &token).await;
    assert_eq!(status, 200, "{body}");
    let session = if body["session"].is_object() {
        &body["session"]
    } else {
        &body
    };
    assert_eq!(session["provider"], "openai", "{body}");
    let (status, body) = client
        .get(&format!("/api/v1/sessions/{id}/switch-history"), &token)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("openai"), "{body}");
    let (status, body) = client.get("/api/v1/sessions", &token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains(&id), "{body}");
    let (status, body) = client.get("/ready", &token).await;
    assert_eq!(status, 200, "{body}");

    // Replay from the PostgreSQL event log (frames stored as `json`, byte for byte).
    let mut again = connect(&stream_url(&handle, &id), &token).await;
    send(&mut again, json!({"type": "resume", "last_seq": 0})).await;
    let replayed = [
        next_json(&mut again).await,
        next_json(&mut again).await,
        next_json(&mut again).await,
    ];
    assert_eq!(replayed[..2], spoken);
    assert_eq!(replayed[2], switched);
    drop((ws, again));
    handle.shutdown().await;
    drop(db);
}

/// Concurrent publishers on one hub get distinct, gap-free seqs, each stored once.
#[tokio::test]
async fn concurrent_publications_are_numbered_and_stored_without_gaps() {
    let app = crate::common::TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let mut tasks = Vec::new();
    for task in 0..4 {
        let hub = app.state.hubs.get(id);
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..50 {
                let mut fields = serde_json::Map::new();
                fields.insert("n".into(), json!(format!("{task}-{n}")));
                seqs.push(
                    hub.publish("transcript", fields)
                        .await
                        .expect("publish")
                        .seq,
                );
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.expect("task");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<u64>>());
    let stored = app.state.store.events_after(id, 0, 500).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), all);
    assert_eq!(app.state.store.last_event_seq(id).await.unwrap(), 200);
}

/// A seq taken behind the hub's back (another writer, e.g. another instance) is refused by
/// the primary key; the hub renumbers after the stored one instead of sending a duplicate,
/// and `resume` returns the other writer's event too: one stream, nothing missing.
#[tokio::test]
async fn a_seq_taken_in_the_store_is_skipped_not_duplicated() {
    let app = crate::common::TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let hub = app.state.hubs.get(id);
    let first = hub
        .publish("transcript", serde_json::Map::new())
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    app.state
        .store
        .append_event(id, 2, r#"{"type":"transcript","seq":2}"#)
        .await
        .unwrap();
    let next = hub
        .publish("insight", serde_json::Map::new())
        .await
        .unwrap();
    assert_eq!(next.seq, 3);
    let frame: Value = serde_json::from_str(&next.text).unwrap();
    assert_eq!(
        (frame["type"].as_str(), frame["seq"].as_u64()),
        (Some("insight"), Some(3))
    );
    let replay = hub.replay_after_seq(0).await.unwrap();
    assert_eq!(
        replay.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let stored = app.state.store.events_after(id, 0, 10).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

/// Database first, then fan-out: an event the store refuses reaches no socket and uses no
/// seq, so what clients saw is always what `resume` can replay.
#[tokio::test]
async fn an_event_the_store_refuses_is_neither_sent_nor_numbered() {
    use voice_reference_server::ws::hub::HubMessage;

    let app = crate::common::TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let hub = app.state.hubs.get(id);
    let mut subscription = hub.subscribe().await;
    hub.publish("transcript", serde_json::Map::new())
        .await
        .unwrap();
    let side = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE session_events RENAME TO session_events_off")
        .execute(&side)
        .await
        .unwrap();
    assert!(
        hub.publish("insight", serde_json::Map::new())
            .await
            .is_err()
    );
    sqlx::query("ALTER TABLE session_events_off RENAME TO session_events")
        .execute(&side)
        .await
        .unwrap();
    let next = hub
        .publish("insight", serde_json::Map::new())
        .await
        .unwrap();
    assert_eq!(next.seq, 2);
    let mut delivered = Vec::new();
    while let Ok(HubMessage::Event(event)) = subscription.rx.try_recv() {
        delivered.push(event.seq);
    }
    assert_eq!(delivered, vec![1, 2]);
}

/// A socket that receives `seq > last + 1` first sends the missing events from the store (here
/// one written behind the hub's back, as another instance would), so it never skips one.
#[tokio::test]
async fn a_socket_fills_a_seq_gap_from_the_store() {
    let server = crate::ws::Server::start(&[]).await;
    let (token, url) = server.user_and_session("gap@example.com").await;
    let id = uuid::Uuid::parse_str(url.rsplit('/').next().unwrap()).unwrap();
    let mut ws = connect(&url, &token).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    let hub = server.handle.state.hubs.get(id);
    hub.publish("transcript", serde_json::Map::new())
        .await
        .unwrap();
    let behind = format!(r#"{{"type":"transcript","seq":2,"session_id":"{id}"}}"#);
    server
        .handle
        .state
        .store
        .append_event(id, 2, &behind)
        .await
        .unwrap();
    let third = hub
        .publish("insight", serde_json::Map::new())
        .await
        .unwrap();
    assert_eq!(third.seq, 3);
    let got = [
        next_json(&mut ws).await,
        next_json(&mut ws).await,
        next_json(&mut ws).await,
    ];
    assert_eq!(seqs(&got), vec![1, 2, 3]);
    assert_eq!(got[1], serde_json::from_str::<Value>(&behind).unwrap());
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        next_json(&mut ws).await["seq"],
        3,
        "nothing after the filled gap"
    );
}

/// An idle hub is evicted from memory, and the session's next hub numbers on from the store:
/// eviction loses neither events nor seq order. A hub someone holds or a socket watches stays.
#[tokio::test]
async fn an_evicted_hub_numbers_on_from_the_store_and_held_hubs_stay() {
    use std::time::Duration;

    let app = crate::common::TestApp::new().await;
    let (idle, held, watched) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    for id in [idle, held, watched] {
        let hub = app.state.hubs.get(id);
        hub.publish("transcript", serde_json::Map::new())
            .await
            .unwrap();
        hub.publish("insight", serde_json::Map::new())
            .await
            .unwrap();
    }
    let holding = app.state.hubs.get(held);
    let _subscription = app.state.hubs.get(watched).subscribe().await;
    assert_eq!(app.state.hubs.len(), 3);
    assert_eq!(
        app.state.hubs.evict_idle(Duration::from_secs(3600)),
        0,
        "recently used hubs stay"
    );
    assert_eq!(app.state.hubs.evict_idle(Duration::ZERO), 1);
    assert!(app.state.hubs.existing(idle).is_none());
    assert!(app.state.hubs.existing(held).is_some());
    assert!(app.state.hubs.existing(watched).is_some());

    let next = app
        .state
        .hubs
        .get(idle)
        .publish("transcript", serde_json::Map::new())
        .await
        .unwrap();
    assert_eq!(next.seq, 3, "numbering goes on after the stored events");
    let stored = app.state.store.events_after(idle, 0, 10).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    drop(holding);
}
