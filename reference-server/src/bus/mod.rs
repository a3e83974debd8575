//! The event bus: how one instance tells the others about stream events and revocations.
//!
//! A server that runs as several instances behind a load balancer has sockets of one session
//! (or one token) on every instance, while a switch, a message or a logout is handled by one
//! of them. The bus carries those facts to the others. It is deliberately *not* the source of
//! truth: every stream event is written to the durable event log (`store`) before it is
//! published, and revocations are in the database and the cache tier before they are pushed.
//! So the bus only has to be fast, not reliable — a receiver repairs whatever it missed from
//! the store (a socket fills a `seq` gap with `events_after`, and after a reconnect of the bus
//! every hub catches up from the store and every socket re-checks its token).
//!
//! Two implementations behind [`EventBus`]:
//! - [`InProcessBus`] (default, one instance): publishing is a no-op, because the publishing
//!   instance already delivered to its own sockets and there is nobody else.
//! - [`RedisBus`] (`--cache-url`): Redis pub/sub on one channel under the cache prefix.
//!
//! Each instance delivers its own publications to its own sockets directly and ignores its
//! own messages when they come back from Redis (every message carries the publisher's
//! instance id), so nothing is delivered twice by the bus itself; whatever still arrives
//! twice or out of order (a gap fill racing the bus) is dropped by `seq` at the socket.

mod redis;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Revocation;

pub use self::redis::RedisBus;

/// The bus could not publish (the message is not lost for good: see the module header).
#[derive(Debug, thiserror::Error)]
#[error("event bus unavailable: {0}")]
pub struct BusError(pub String);

/// A stream event already stored in the durable event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEvent {
    /// The session.
    pub session_id: Uuid,
    /// Its `seq` (allocated by the store's `(session_id, seq)` key).
    pub seq: u64,
    /// The event `type` (`provider_switched`, `call_status`, …).
    pub kind: String,
    /// The serialized frame, byte for byte as sent to sockets.
    pub frame: String,
}

/// What travels between instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusMessage {
    /// A session event.
    Event(StreamEvent),
    /// A revocation to push to open sockets.
    Revocation {
        /// What was revoked.
        revocation: Revocation,
    },
    /// The publisher could not publish for a while: receivers repair from durable state.
    Resync,
}

/// Publishes to the other instances of the deployment.
pub trait EventBus: Send + Sync + 'static {
    /// Sends `message` to every other instance (best effort; see the module header).
    fn publish<'a>(&'a self, message: &'a BusMessage) -> BoxFuture<'a, Result<(), BusError>>;
    /// `in-process` or `redis`, for logs.
    fn kind(&self) -> &'static str;
}

/// What an instance does with messages from the others.
pub trait Inbox: Send + Sync + 'static {
    /// Delivers a message published by another instance.
    fn deliver(&self, message: BusMessage);
    /// The bus (re)connected: messages may have been missed, repair from durable state.
    fn resync(&self);
}

/// One instance only: nothing to tell anybody.
#[derive(Debug, Default, Clone, Copy)]
pub struct InProcessBus;

impl EventBus for InProcessBus {
    fn publish<'a>(&'a self, _message: &'a BusMessage) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async { Ok(()) })
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}

/// Publishes and logs a failure instead of returning it: the store already holds the truth.
pub async fn publish_or_warn(bus: &Arc<dyn EventBus>, message: &BusMessage) {
    if let Err(e) = bus.publish(message).await {
        tracing::warn!(bus = bus.kind(), error = %e, "event bus publish failed; other instances repair from the store");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_json() {
        let event = BusMessage::Event(StreamEvent {
            session_id: Uuid::nil(),
            seq: 7,
            kind: "provider_switched".into(),
            frame: r#"{"type":"provider_switched","seq":7}"#.into(),
        });
        let revocation = BusMessage::Revocation {
            revocation: Revocation::User {
                user_id: Uuid::nil(),
                cutoff_ms: 42,
            },
        };
        for message in [event, revocation] {
            let text = serde_json::to_string(&message).expect("serializes");
            let back: BusMessage = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, message);
        }
    }
}
