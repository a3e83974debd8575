//! The foreign stream: accepts the upgrade at `/v2/stream/{id}` with the token in
//! `X-Access-Token`, opens the reference stream of the same session on the same server, and
//! pumps frames both ways, re-shaping each between the reference envelope (`type`, `seq`, flat
//! fields) and the foreign one (`event`, `sequence`, `payload`). A refused inner upgrade is
//! answered with the same status; close codes (4001 on revocation) are passed on.

use super::INTERNAL;
use super::contract::{RENAMED_EVENTS, foreign_event};
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

pub async fn proxy(req: Request, session: String) -> Response {
    let (mut parts, _) = req.into_parts();
    let Ok(upgrade) = WebSocketUpgrade::from_request_parts(&mut parts, &()).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let Ok(mut inner) = format!("ws://{host}/ws/sessions/{session}").into_client_request() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    inner
        .headers_mut()
        .insert(INTERNAL, axum::http::HeaderValue::from_static("1"));
    if let Some(token) = parts
        .headers
        .get("x-access-token")
        .and_then(|t| t.to_str().ok())
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        inner.headers_mut().insert(header::AUTHORIZATION, value);
    }
    match tokio_tungstenite::connect_async(inner).await {
        Ok((inner, _)) => upgrade.on_upgrade(move |client| pump(client, inner)),
        Err(WsError::Http(response)) => StatusCode::from_u16(response.status().as_u16())
            .unwrap_or(StatusCode::BAD_GATEWAY)
            .into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

type Inner =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn pump(client: WebSocket, inner: Inner) {
    let (mut to_client, mut from_client) = client.split();
    let (mut to_inner, mut from_inner) = inner.split();
    let up = tokio::spawn(async move {
        while let Some(Ok(m)) = from_client.next().await {
            let out = match m {
                ws::Message::Text(t) => Message::text(to_reference(t.as_str())),
                ws::Message::Binary(b) => Message::Binary(b),
                ws::Message::Close(_) => break,
                ws::Message::Ping(_) | ws::Message::Pong(_) => continue,
            };
            if to_inner.send(out).await.is_err() {
                return;
            }
        }
        // The client is gone or closing: close the inner stream, which ends `down`.
        let _ = to_inner.send(Message::Close(None)).await;
    });
    while let Some(Ok(m)) = from_inner.next().await {
        let out = match m {
            Message::Text(t) => ws::Message::Text(to_foreign(t.as_str()).into()),
            Message::Binary(b) => ws::Message::Binary(b),
            Message::Close(frame) => {
                let frame = frame.map(|CloseFrame { code, reason }| ws::CloseFrame {
                    code: code.into(),
                    reason: reason.as_str().into(),
                });
                let _ = to_client.send(ws::Message::Close(frame)).await;
                break;
            }
            _ => continue,
        };
        if to_client.send(out).await.is_err() {
            break;
        }
    }
    up.abort();
}

/// Reference server frame → foreign envelope.
fn to_foreign(raw: &str) -> String {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(raw) else {
        return raw.to_string();
    };
    let event = match map.remove("type") {
        Some(Value::String(t)) => json!(foreign_event(&t)),
        Some(other) => other,
        None => Value::Null,
    };
    let mut out = Map::new();
    out.insert("event".into(), event);
    if let Some(seq) = map.remove("seq") {
        out.insert("sequence".into(), seq);
    }
    out.insert("payload".into(), Value::Object(map));
    Value::Object(out).to_string()
}

/// Foreign client frame → reference frame; anything else passes unchanged (and is answered
/// with the reference server's error event).
fn to_reference(raw: &str) -> String {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(raw) else {
        return raw.to_string();
    };
    let Some(event) = map.remove("event") else {
        return raw.to_string();
    };
    let event = match event {
        Value::String(name) => json!(
            RENAMED_EVENTS
                .iter()
                .find(|(_, foreign)| *foreign == name)
                .map_or(name.as_str(), |(reference, _)| reference)
        ),
        other => other,
    };
    let mut out = match map.remove("payload") {
        Some(Value::Object(payload)) => payload,
        _ => Map::new(),
    };
    out.insert("type".into(), event);
    Value::Object(out).to_string()
}
