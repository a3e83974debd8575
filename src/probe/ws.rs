//! A recording WebSocket client: every frame sent and received is logged as evidence with its
//! time, and every received message is kept with the `Instant` it arrived, for latency,
//! ordering and schema checks.
//!
//! Receiving always works against an absolute deadline checked inside the loop, because a
//! timeout around `next()` alone never fires while other traffic keeps arriving.

use crate::binding::TokenPlacement;
use crate::binding::envelope::{Classified, Envelope, EventKind};
use crate::binding::template::render;
use crate::evidence::EvidenceLog;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// One received frame: as sent (for evidence and schema checks) and as the binding reads it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub raw: String,
    pub value: Option<Value>,
    /// Boxed: a received frame travels by value through `Next` and the connection log.
    pub event: Box<Classified>,
}

impl Received {
    /// Parses and classifies `raw` through `envelope`.
    pub fn new(at: Instant, raw: String, envelope: &Envelope) -> Received {
        let value: Option<Value> = serde_json::from_str(&raw).ok();
        let event = Box::new(
            value
                .as_ref()
                .map(|v| envelope.classify(v))
                .unwrap_or_default(),
        );
        Received {
            at,
            raw,
            value,
            event,
        }
    }

    pub fn kind(&self) -> Option<EventKind> {
        self.event.kind
    }

    pub fn is(&self, kind: EventKind) -> bool {
        self.event.kind == Some(kind)
    }

    /// The type name as sent, bound or not.
    pub fn name(&self) -> Option<&str> {
        self.event.name.as_deref()
    }

    pub fn seq(&self) -> Option<u64> {
        self.event.seq
    }

    /// A field of the event's payload.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.event.payload.as_ref()?.get(name)
    }

    /// Whether this is the transcript of the text sent with `message_id`.
    pub fn is_transcript_of(&self, message_id: &str) -> bool {
        self.is(EventKind::Transcript) && self.event.message_id.as_deref() == Some(message_id)
    }
}

#[derive(Debug, Clone)]
pub enum Next {
    Message(Received),
    Closed { code: Option<u16>, at: Instant },
    Timeout,
    Failed(String),
}

/// Everything one connection received, handed to the checks when the connection is done.
#[derive(Debug, Clone, Default)]
pub struct ConnectionLog {
    pub connection: String,
    pub probe: String,
    pub messages: Vec<Received>,
    pub close_code: Option<u16>,
}

pub struct WsConn {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    log: EvidenceLog,
    envelope: Envelope,
    pub record: ConnectionLog,
    closed: bool,
}

#[derive(Debug, Clone)]
pub struct Refused {
    /// HTTP status of a refused upgrade, if the server answered one.
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "upgrade refused with HTTP {s}"),
            None => write!(f, "{}", self.message),
        }
    }
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A token placement, borrowed from the binding or built as the default.
pub type TokenPlacementRef<'a> = std::borrow::Cow<'a, TokenPlacement>;

/// The reference placement: `Authorization: Bearer <token>` on the upgrade.
pub fn bearer() -> TokenPlacement {
    TokenPlacement::Header {
        name: "authorization".into(),
        prefix: "Bearer ".into(),
    }
}

/// Opens a connection carrying `token` where the binding says (query parameter, header,
/// subprotocol, or a first message sent right after the upgrade); received frames are read
/// through `envelope`.
pub async fn connect_placed(
    url: &str,
    token: Option<&str>,
    placement: &TokenPlacement,
    envelope: &Envelope,
    log: &EvidenceLog,
    probe: &str,
    timeout: Duration,
) -> Result<(WsConn, Duration), Refused> {
    super::client::install_crypto();
    let refused = |message: String| Refused {
        status: None,
        message,
    };
    let url = match (token, placement) {
        (Some(t), TokenPlacement::Query { name }) => {
            let encoded: String = url::form_urlencoded::byte_serialize(t.as_bytes()).collect();
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}{name}={encoded}")
        }
        _ => url.to_string(),
    };
    let url = url.as_str();
    let mut request = url
        .into_client_request()
        .map_err(|e| refused(e.to_string()))?;
    let header = match (token, placement) {
        (Some(t), TokenPlacement::Header { name, prefix }) => {
            Some((name.clone(), format!("{prefix}{t}")))
        }
        (Some(t), TokenPlacement::Subprotocol { prefix }) => {
            Some(("sec-websocket-protocol".to_string(), format!("{prefix}{t}")))
        }
        _ => None,
    };
    if let Some((name, value)) = header {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| refused(format!("{name:?} is not a valid header name")))?;
        let value = value
            .parse()
            .map_err(|_| refused("token is not a valid header value".into()))?;
        request.headers_mut().insert(name, value);
    }
    let first_message = match (token, placement) {
        (Some(t), TokenPlacement::FirstMessage { template }) => {
            let vars = super::vars(&[("token", Value::String(t.to_string()))]);
            Some(render(template, &vars).map_err(refused)?)
        }
        _ => None,
    };
    let id = format!(
        "ws-{:03}",
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    );
    let start = Instant::now();
    let attempt = tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_with_config(request, None, true),
    )
    .await;
    let elapsed = start.elapsed();
    let redacted_url = log.redactor.url(url);
    match attempt {
        Err(_) => {
            log.ws(
                &id,
                probe,
                "refused",
                &format!("{redacted_url}: handshake timed out"),
            );
            Err(refused(format!("handshake timed out after {timeout:?}")))
        }
        Ok(Err(WsError::Http(response))) => {
            let status = response.status().as_u16();
            log.ws(
                &id,
                probe,
                "refused",
                &format!("{redacted_url}: HTTP {status}"),
            );
            Err(Refused {
                status: Some(status),
                message: format!("HTTP {status}"),
            })
        }
        Ok(Err(e)) => {
            log.ws(&id, probe, "refused", &format!("{redacted_url}: {e}"));
            Err(refused(e.to_string()))
        }
        Ok(Ok((stream, _))) => {
            log.ws(
                &id,
                probe,
                "open",
                &format!("{redacted_url} ({:.1} ms)", elapsed.as_secs_f64() * 1000.0),
            );
            let mut conn = WsConn {
                stream,
                log: log.clone(),
                envelope: envelope.clone(),
                record: ConnectionLog {
                    connection: id,
                    probe: probe.to_string(),
                    ..ConnectionLog::default()
                },
                closed: false,
            };
            if let Some(message) = first_message {
                conn.send_json(&message)
                    .await
                    .map_err(|e| refused(format!("sending the token message failed: {e}")))?;
            }
            Ok((conn, elapsed))
        }
    }
}

impl WsConn {
    pub fn id(&self) -> &str {
        &self.record.connection
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub async fn send_json(&mut self, value: &Value) -> Result<(), String> {
        self.send_text(&value.to_string()).await
    }

    /// Renders the binding's `ping`, `text` or `resume` frame with `vars` and sends it.
    pub async fn send_frame(
        &mut self,
        frame: &str,
        vars: &crate::binding::template::Vars,
    ) -> Result<(), String> {
        let value = self.envelope.frame(frame, vars)?;
        self.send_json(&value).await
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.log
            .ws(&self.record.connection, &self.record.probe, "sent", text);
        self.stream
            .send(Message::text(text))
            .await
            .map_err(|e| e.to_string())
    }

    /// The next data message or close before `deadline`; every message is recorded.
    pub async fn next(&mut self, deadline: Instant) -> Next {
        if self.closed {
            return Next::Closed {
                code: self.record.close_code,
                at: Instant::now(),
            };
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Next::Timeout;
            }
            let item = tokio::time::timeout(deadline - now, self.stream.next()).await;
            let message = match item {
                Err(_) => return Next::Timeout,
                Ok(None) => return self.mark_closed(None),
                Ok(Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed))) => {
                    return self.mark_closed(None);
                }
                Ok(Some(Err(WsError::Protocol(_) | WsError::Io(_)))) => {
                    return self.mark_closed(None);
                }
                Ok(Some(Err(e))) => return Next::Failed(e.to_string()),
                Ok(Some(Ok(m))) => m,
            };
            let at = Instant::now();
            let raw = match message {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => format!("<binary {} bytes>", b.len()),
                Message::Close(frame) => {
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    return self.mark_closed(code);
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            self.log.ws(
                &self.record.connection,
                &self.record.probe,
                "received",
                &raw,
            );
            let received = Received::new(at, raw, &self.envelope);
            self.record.messages.push(received.clone());
            return Next::Message(received);
        }
    }

    fn mark_closed(&mut self, code: Option<u16>) -> Next {
        self.closed = true;
        self.record.close_code = code;
        let text = code.map_or("closed without a close frame".to_string(), |c| {
            format!("closed with code {c}")
        });
        self.log
            .ws(&self.record.connection, &self.record.probe, "close", &text);
        Next::Closed {
            code,
            at: Instant::now(),
        }
    }

    /// Waits for the first message satisfying `pred`; other messages are recorded and skipped.
    pub async fn wait_for(
        &mut self,
        deadline: Instant,
        pred: impl Fn(&Received) -> bool,
    ) -> Option<Received> {
        loop {
            match self.next(deadline).await {
                Next::Message(m) if pred(&m) => return Some(m),
                Next::Message(_) => continue,
                _ => return None,
            }
        }
    }

    /// Closes politely and returns what the connection received.
    pub async fn finish(mut self) -> ConnectionLog {
        if !self.closed {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.stream.close(None)).await;
            // Drain until the server acknowledges, briefly, so late events are still recorded.
            let deadline = Instant::now() + Duration::from_millis(200);
            while let Next::Message(_) = self.next(deadline).await {}
        }
        self.record
    }
}
