//! One WebSocket connection: forwards hub events, answers client frames, and closes on
//! session end (1000), revocation (4001, pushed), idle timeout (4008) or shutdown (1001); a
//! close from the peer is echoed with its code. The frames it receives are any stream (the
//! socket's, or the socket faults' decorator around it, see [`crate::faults::ws`]).
//!
//! A socket delivers strictly increasing `seq`s whatever order events reach it in (its own
//! instance's publications directly, other instances' through the bus, gap fills from the
//! store): `seq <= last` is dropped, and `seq > last + 1` is preceded by the missing events
//! read from the store. A lagging receiver also catches up from the store.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, Stream, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::{Instant, sleep_until};
use uuid::Uuid;

use super::hub::{HubEvent, HubMessage, SessionHub, envelope};
use super::messages::{ClientMessage, ErrorReply, FrameError, Pong, parse};
use crate::auth::{Claims, Revocation};
use crate::conversation::{TextError, process_text};
use crate::state::AppState;

/// Close codes of the contract.
mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const REVOKED: u16 = 4001;
    pub const IDLE: u16 = 4008;
}

enum Flow {
    Continue,
    Stop,
}

struct Conn {
    sink: SplitSink<WebSocket, Message>,
    state: AppState,
    hub: Arc<SessionHub>,
    session_id: Uuid,
    claims: Claims,
    /// Seq of the last event forwarded.
    last_seq: u64,
}

impl Conn {
    async fn send_text(&mut self, text: String) -> Flow {
        match self.sink.send(Message::Text(text.into())).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) -> Flow {
        tracing::debug!(session_id = %self.session_id, code, reason, "closing socket");
        let _ = self
            .sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
        let _ = self.sink.close().await;
        Flow::Stop
    }

    /// Answers the peer's close with the same code, as RFC 6455 (5.5.1) asks.
    async fn echo_close(&mut self, frame: Option<CloseFrame>) -> Flow {
        tracing::debug!(session_id = %self.session_id, code = frame.as_ref().map(|f| f.code), "peer closed the socket");
        let _ = self.sink.send(Message::Close(frame)).await;
        let _ = self.sink.close().await;
        Flow::Stop
    }

    async fn send_event(&mut self, event: &HubEvent) -> Flow {
        self.last_seq = self.last_seq.max(event.seq);
        self.send_text(event.text.clone()).await
    }

    async fn forward(&mut self, event: &HubEvent) -> Flow {
        if event.reused {
            return self.send_event(event).await;
        }
        if event.seq <= self.last_seq {
            return Flow::Continue;
        }
        if event.seq > self.last_seq + 1
            && let Flow::Stop = self.fill(Some(event.seq)).await
        {
            return Flow::Stop;
        }
        self.send_event(event).await
    }

    /// Sends the stored events after `last_seq` (and before `before`, when given).
    async fn fill(&mut self, before: Option<u64>) -> Flow {
        match self.hub.stored_between(self.last_seq, before).await {
            Ok(events) => {
                for event in events {
                    if let Flow::Stop = self.send_event(&event).await {
                        return Flow::Stop;
                    }
                }
                Flow::Continue
            }
            Err(e) => {
                tracing::warn!(session_id = %self.session_id, error = %e, "cannot fill a seq gap from the store");
                self.reply_error(
                    "resume_unavailable",
                    "events could not be read for this connection",
                )
                .await
            }
        }
    }

    async fn on_hub(&mut self, message: Result<HubMessage, RecvError>) -> Flow {
        match message {
            Ok(HubMessage::Event(event)) => self.forward(&event).await,
            Ok(HubMessage::Close { code, reason }) => self.close(code, reason).await,
            Err(RecvError::Lagged(_)) => self.fill(None).await,
            Err(RecvError::Closed) => Flow::Stop,
        }
    }

    /// Forwards events already published, so a reply never overtakes them.
    async fn drain(&mut self, rx: &mut tokio::sync::broadcast::Receiver<HubMessage>) -> Flow {
        loop {
            let message = match rx.try_recv() {
                Ok(message) => Ok(message),
                Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => Err(RecvError::Closed),
                Err(TryRecvError::Empty) => return Flow::Continue,
            };
            if let Flow::Stop = self.on_hub(message).await {
                return Flow::Stop;
            }
        }
    }

    /// A reply to this connection only: carries the last seq, never advances it.
    async fn reply(&mut self, kind: &str, fields: &impl Serialize) -> Flow {
        let fields = match serde_json::to_value(fields) {
            Ok(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        let frame = envelope(kind, self.last_seq, self.session_id, fields);
        self.send_text(frame.to_string()).await
    }

    async fn reply_error(&mut self, code: &str, message: &str) -> Flow {
        self.reply("error", &ErrorReply { code, message }).await
    }

    async fn on_frame_error(&mut self, error: FrameError) -> Flow {
        self.reply_error(error.code(), error.message()).await
    }

    async fn on_client(&mut self, message: ClientMessage) -> Flow {
        match message {
            ClientMessage::Ping { timestamp } => {
                let pong = Pong {
                    server_timestamp: chrono::Utc::now().timestamp_millis(),
                    client_timestamp: timestamp,
                };
                self.reply("pong", &pong).await
            }
            ClientMessage::Text { text, message_id } => {
                match process_text(&self.state, self.session_id, &text, message_id).await {
                    Ok(()) => Flow::Continue,
                    Err(TextError::Provider(e)) => {
                        tracing::warn!(session_id = %self.session_id, error = %e, "provider failed");
                        self.reply_error("provider_error", &e.to_string()).await
                    }
                    Err(TextError::Inactive) => {
                        self.reply_error("invalid_payload", "the session is not active")
                            .await
                    }
                    Err(TextError::App(e)) => {
                        tracing::error!(session_id = %self.session_id, error = %e, "text processing failed");
                        self.reply_error("provider_error", "the message could not be processed")
                            .await
                    }
                }
            }
            ClientMessage::Resume { last_seq } => match self.hub.replay_after_seq(last_seq).await {
                Ok(events) => {
                    for event in events {
                        self.last_seq = event.seq;
                        if let Flow::Stop = self.send_text(event.text.clone()).await {
                            return Flow::Stop;
                        }
                    }
                    Flow::Continue
                }
                Err(_) => {
                    self.reply_error(
                        "resume_unavailable",
                        &format!("events after seq {last_seq} are no longer available"),
                    )
                    .await
                }
            },
        }
    }
}

/// Serves one upgraded socket (its sending half and the frames it receives) until it closes.
pub(super) async fn run<S>(
    sink: SplitSink<WebSocket, Message>,
    mut stream: S,
    state: AppState,
    session_id: Uuid,
    claims: Claims,
    ended: bool,
) where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let hub = state.hubs.get(session_id);
    let mut revocations = state.revocations.subscribe();
    let mut shutdown = state.shutdown_signal();
    let subscription = hub.subscribe().await;
    let mut events = subscription.rx;
    let idle_timeout = state.config.ws_idle_timeout;
    let mut conn = Conn {
        sink,
        state,
        hub,
        session_id,
        claims,
        last_seq: subscription.last_seq,
    };
    tracing::info!(%session_id, "socket opened");

    // A revocation between authentication and subscribing must not be missed.
    if conn.state.revocations.check(&conn.claims).await.is_err() {
        conn.close(close::REVOKED, "token revoked").await;
        return;
    }
    if ended {
        conn.close(close::NORMAL, "session ended").await;
        return;
    }

    let mut deadline = Instant::now() + idle_timeout;
    loop {
        let flow = tokio::select! {
            biased;
            _ = shutdown.changed() => conn.close(close::GOING_AWAY, "server shutting down").await,
            revocation = revocations.recv() => match revocation {
                Ok(r) if r.covers(&conn.claims) => conn.close(close::REVOKED, "token revoked").await,
                Ok(Revocation::Recheck) | Err(RecvError::Lagged(_)) => {
                    if conn.state.revocations.check(&conn.claims).await.is_err() {
                        conn.close(close::REVOKED, "token revoked").await
                    } else {
                        Flow::Continue
                    }
                }
                Ok(_) => Flow::Continue,
                Err(RecvError::Closed) => Flow::Stop,
            },
            message = events.recv() => conn.on_hub(message).await,
            frame = stream.next() => {
                deadline = Instant::now() + idle_timeout;
                match frame {
                    None | Some(Err(_)) => Flow::Stop,
                    Some(Ok(Message::Close(frame))) => conn.echo_close(frame).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Flow::Continue,
                    Some(Ok(Message::Binary(_))) => {
                        match conn.drain(&mut events).await {
                            Flow::Stop => Flow::Stop,
                            Flow::Continue => conn.on_frame_error(FrameError::Malformed("binary frames are not supported".into())).await,
                        }
                    }
                    Some(Ok(Message::Text(text))) => match conn.drain(&mut events).await {
                        Flow::Stop => Flow::Stop,
                        Flow::Continue => match parse(text.as_str()) {
                            Ok(message) => conn.on_client(message).await,
                            Err(error) => conn.on_frame_error(error).await,
                        },
                    },
                }
            },
            () = sleep_until(deadline) => conn.close(close::IDLE, "heartbeat timeout").await,
        };
        if let Flow::Stop = flow {
            break;
        }
    }
    tracing::info!(%session_id, "socket closed");
}
