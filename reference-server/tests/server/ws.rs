//! End-to-end: a port-0 server, reqwest for REST, tokio-tungstenite for the stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use voice_reference_server::{Application, Faults, ServerHandle};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) struct Server {
    pub(crate) handle: ServerHandle,
    pub(crate) http: reqwest::Client,
    _dir: TempDir,
}

impl Server {
    pub(crate) async fn start(faults: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            crate::common::settings(&dir).with_faults(Faults::from_names(faults).unwrap());
        let app = Application::build(settings).await.unwrap();
        assert_ne!(app.port(), 0);
        Server {
            handle: app.spawn(),
            http: crate::common::http_client(),
            _dir: dir,
        }
    }

    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.handle.base_url()))
            .json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.handle.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Switches a session's provider; returns the status and body.
    pub(crate) async fn switch_provider(
        &self,
        session_id: &str,
        token: &str,
        provider: &str,
    ) -> (u16, Value) {
        self.post(
            &format!("/api/v1/sessions/{session_id}/switch-provider"),
            Some(token),
            json!({"provider": provider}),
        )
        .await
    }

    /// A user token and a session (with its websocket_url).
    pub(crate) async fn user_and_session(&self, email: &str) -> (String, String) {
        let (_, auth) = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        let token = auth["access_token"].as_str().unwrap().to_owned();
        let (status, session) = self
            .post(
                "/api/v1/sessions",
                Some(&token),
                json!({"provider": "gemini"}),
            )
            .await;
        assert_eq!(status, 201);
        let url = session["websocket_url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&self.handle.ws_base_url()), "{url}");
        (token, url)
    }
}

pub(crate) async fn connect(url: &str, token: &str) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    connect_async(request).await.unwrap().0
}

pub(crate) async fn next_json(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("stream ended")
            .expect("socket error");
        match msg {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

pub(crate) async fn expect_close(ws: &mut Socket) -> u16 {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("timed out waiting for close");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return 0,
            Some(Ok(_)) => continue,
        }
    }
}

pub(crate) async fn send(ws: &mut Socket, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn upgrade_needs_a_valid_token_and_own_session() {
    let server = Server::start(&[]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let err = connect_async(url.as_str()).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status().as_u16(), 401);
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
    let (other_token, _) = server.user_and_session("b@example.com").await;
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {other_token}").parse().unwrap(),
    );
    match connect_async(request).await.unwrap_err() {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status().as_u16(), 404)
        }
        other => panic!("expected 404, got {other:?}"),
    }
    // ?token= works, and so does the alias path.
    let (mut ws, _) = connect_async(format!("{url}?token={token}")).await.unwrap();
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    let alias = url.replace("/ws/sessions/", "/ai/ws/");
    let mut ws = connect(&alias, &token).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn ping_text_resume_and_errors() {
    let server = Server::start(&[]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let session_id = url.rsplit('/').next().unwrap().to_owned();
    let mut ws = connect(&url, &token).await;

    send(&mut ws, json!({"type": "ping", "timestamp": 42})).await;
    let pong = next_json(&mut ws).await;
    assert_eq!(pong["type"], "pong");
    assert_eq!(pong["seq"], 0);
    assert_eq!(pong["client_timestamp"], 42);
    assert_eq!(pong["session_id"], session_id.as_str());
    assert!(pong["server_timestamp"].as_i64().unwrap() > 0);
    assert!(chrono::DateTime::parse_from_rfc3339(pong["timestamp"].as_str().unwrap()).is_ok());

    send(
        &mut ws,
        json!({"type": "text", "text": "this is great, thanks", "message_id": "m1"}),
    )
    .await;
    let transcript = next_json(&mut ws).await;
    assert_eq!(transcript["type"], "transcript");
    assert_eq!(transcript["seq"], 1);
    assert_eq!(transcript["text"], "this is great, thanks");
    assert_eq!(transcript["speaker"], "customer");
    assert_eq!(transcript["provider"], "gemini");
    assert_eq!(transcript["message_id"], "m1");
    let insight = next_json(&mut ws).await;
    assert_eq!(insight["type"], "insight");
    assert_eq!(insight["seq"], 2);
    assert_eq!(insight["content"], "positive");
    let confidence = insight["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence));

    // Malformed frames answer `error` and keep the socket open.
    ws.send(Message::Text("not json".into())).await.unwrap();
    let error = next_json(&mut ws).await;
    assert_eq!(
        (
            error["type"].as_str(),
            error["code"].as_str(),
            error["seq"].as_u64()
        ),
        (Some("error"), Some("malformed_message"), Some(2))
    );
    send(&mut ws, json!({"type": "dance"})).await;
    assert_eq!(next_json(&mut ws).await["code"], "unknown_type");
    send(&mut ws, json!({"type": "text", "text": ""})).await;
    assert_eq!(next_json(&mut ws).await["code"], "invalid_payload");
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["code"], "malformed_message");

    // A second connection resumes from seq 1.
    let mut again = connect(&url, &token).await;
    send(&mut again, json!({"type": "resume", "last_seq": 1})).await;
    let replayed = next_json(&mut again).await;
    assert_eq!(
        (replayed["type"].as_str(), replayed["seq"].as_u64()),
        (Some("insight"), Some(2))
    );
    send(&mut again, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut again).await["seq"], 2);

    // Live events reach both connections with the same seq.
    send(&mut ws, json!({"type": "text", "text": "terrible"})).await;
    for socket in [&mut ws, &mut again] {
        assert_eq!(next_json(socket).await["seq"], 3);
        assert_eq!(next_json(socket).await["seq"], 4);
    }
    server.handle.shutdown().await;
}

/// Events evicted from the in-memory buffer are replayed from the durable store; only a seq
/// that was never published is refused.
#[tokio::test]
async fn resume_falls_back_to_the_store_when_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::common::settings(&dir);
    settings.replay_buffer = 2;
    let server = Server {
        handle: Application::build(settings).await.unwrap().spawn(),
        http: crate::common::http_client(),
        _dir: dir,
    };
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    for _ in 0..2 {
        send(&mut ws, json!({"type": "text", "text": "hi"})).await;
        next_json(&mut ws).await;
        next_json(&mut ws).await;
    }
    send(&mut ws, json!({"type": "resume", "last_seq": 0})).await;
    for seq in 1..=4 {
        assert_eq!(next_json(&mut ws).await["seq"], seq);
    }
    send(&mut ws, json!({"type": "resume", "last_seq": 99})).await;
    assert_eq!(next_json(&mut ws).await["code"], "resume_unavailable");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn logout_closes_the_socket_with_4001() {
    let server = Server::start(&[]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    send(&mut ws, json!({"type": "ping"})).await;
    next_json(&mut ws).await;
    let (status, _) = server
        .post("/api/v1/auth/logout", Some(&token), json!({}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(expect_close(&mut ws).await, 4001);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn logout_all_closes_the_socket_with_4001() {
    let server = Server::start(&[]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    let (status, _) = server
        .post("/api/v1/auth/logout-all", Some(&token), json!({}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(expect_close(&mut ws).await, 4001);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn ending_the_session_sends_call_status_then_1000() {
    let server = Server::start(&[]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let session_id = url.rsplit('/').next().unwrap().to_owned();
    let mut ws = connect(&url, &token).await;
    let (status, _) = server.switch_provider(&session_id, &token, "openai").await;
    assert_eq!(status, 200);
    let switched = next_json(&mut ws).await;
    assert_eq!(switched["type"], "provider_switched");
    assert_eq!(switched["seq"], 1);
    assert_eq!(switched["to_provider"], "openai");
    let (status, _) = server
        .post(
            &format!("/api/v1/sessions/{session_id}/end"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let event = next_json(&mut ws).await;
    assert_eq!(
        (
            event["type"].as_str(),
            event["status"].as_str(),
            event["seq"].as_u64()
        ),
        (Some("call_status"), Some("completed"), Some(2))
    );
    assert_eq!(expect_close(&mut ws).await, 1000);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn idle_sockets_are_closed_with_4008() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::common::settings(&dir);
    settings.ws_idle_timeout = Duration::from_millis(300);
    let server = Server {
        handle: Application::build(settings).await.unwrap().spawn(),
        http: crate::common::http_client(),
        _dir: dir,
    };
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    assert_eq!(expect_close(&mut ws).await, 4008);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn socket_faults() {
    let server = Server::start(&["no-pong"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    send(&mut ws, json!({"type": "ping"})).await;
    send(&mut ws, json!({"type": "dance"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "error");

    let server = Server::start(&["seq-disorder", "bad-event-schema"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    send(&mut ws, json!({"type": "text", "text": "hi"})).await;
    assert_eq!(next_json(&mut ws).await["seq"], 1);
    let insight = next_json(&mut ws).await;
    assert_eq!(insight["seq"], 1);
    assert!(insight["confidence"].is_string());

    let server = Server::start(&["malformed-closes"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    ws.send(Message::Text("nope".into())).await.unwrap();
    assert_eq!(expect_close(&mut ws).await, 1003);

    let server = Server::start(&["no-resume"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    send(&mut ws, json!({"type": "text", "text": "hi"})).await;
    next_json(&mut ws).await;
    next_json(&mut ws).await;
    send(&mut ws, json!({"type": "resume", "last_seq": 0})).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");

    let server = Server::start(&["ws-ignores-revocation"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    // Open before the logout: a socket still opening re-checks its token and closes anyway.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    let (status, _) = server
        .post("/api/v1/auth/logout", Some(&token), json!({}))
        .await;
    assert_eq!(status, 204);
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");

    let server = Server::start(&["slow-events"]).await;
    let (token, url) = server.user_and_session("a@example.com").await;
    let mut ws = connect(&url, &token).await;
    let started = std::time::Instant::now();
    send(&mut ws, json!({"type": "text", "text": "hi"})).await;
    next_json(&mut ws).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
}
