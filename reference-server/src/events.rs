//! The events a session publishes on its stream, as typed structs, and the one seam they go
//! through on their way to the session hub.
//!
//! The structs are the `fields` of `websocket.yaml`'s server events; the hub adds the envelope
//! (`type`, `seq`, `timestamp`, `session_id`). [`Events`] is where a decorator can stand
//! between the conversation and the hub (the stream faults of [`crate::faults`] do): a
//! correct server holds [`Events::Direct`] and pays one branch for the seam, no boxing, no
//! virtual call.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::ProviderName;
use crate::store::StoreError;
use crate::ws::hub::SessionHub;

/// `provider_switched`.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSwitched {
    /// Provider before the switch.
    pub from_provider: ProviderName,
    /// Provider after the switch.
    pub to_provider: ProviderName,
    /// Messages carried over.
    pub context_preserved: i64,
    /// Why (null when not given).
    pub reason: Option<String>,
}

/// `call_status`.
#[derive(Debug, Clone, Serialize)]
pub struct CallStatus {
    /// `completed` when the session ended.
    pub status: &'static str,
    /// The call (the session id, until telephony brings calls of their own).
    pub call_id: String,
}

/// `transcript`.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// The provider that answered.
    pub provider: ProviderName,
    /// `customer` or `agent`.
    pub speaker: String,
    /// What was recognised.
    pub text: String,
    /// Always true for text input.
    pub is_final: bool,
    /// The client's id of the message (null when not given).
    pub message_id: Option<String>,
}

/// `insight`.
#[derive(Debug, Clone, Serialize)]
pub struct Insight {
    /// The provider that answered.
    pub provider: ProviderName,
    /// `sentiment`, `intent` or `suggestion`.
    pub insight_type: String,
    /// The insight.
    pub content: String,
    /// In [0, 1].
    pub confidence: f64,
}

/// A session event before the hub numbers it.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// The provider changed.
    ProviderSwitched(ProviderSwitched),
    /// The call's state changed.
    CallStatus(CallStatus),
    /// An utterance was recognised.
    Transcript(Transcript),
    /// An utterance was analysed.
    Insight(Insight),
}

fn object(value: Result<Value, serde_json::Error>) -> Map<String, Value> {
    // These structs hold strings, numbers and options only: serialising cannot fail.
    match value {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

impl SessionEvent {
    /// The wire `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionEvent::ProviderSwitched(_) => "provider_switched",
            SessionEvent::CallStatus(_) => "call_status",
            SessionEvent::Transcript(_) => "transcript",
            SessionEvent::Insight(_) => "insight",
        }
    }

    /// The event's own fields (without the envelope).
    pub fn fields(&self) -> Map<String, Value> {
        object(match self {
            SessionEvent::ProviderSwitched(e) => serde_json::to_value(e),
            SessionEvent::CallStatus(e) => serde_json::to_value(e),
            SessionEvent::Transcript(e) => serde_json::to_value(e),
            SessionEvent::Insight(e) => serde_json::to_value(e),
        })
    }
}

/// Something standing between the conversation and the session hub.
pub trait EventSink: Send + Sync {
    /// Publishes `event` on `hub` (or decides otherwise).
    fn publish<'a>(
        &'a self,
        hub: &'a SessionHub,
        event: SessionEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Publishes straight to the hub: numbered, stored, then delivered.
pub async fn publish_direct(hub: &SessionHub, event: SessionEvent) -> Result<(), StoreError> {
    hub.publish(event.kind(), event.fields()).await.map(|_| ())
}

/// Where the conversation's events go.
#[derive(Clone, Default)]
pub enum Events {
    /// Straight to the hub (a correct server).
    #[default]
    Direct,
    /// Through a decorator.
    Decorated(Arc<dyn EventSink>),
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Events::Direct => "Direct",
            Events::Decorated(_) => "Decorated",
        })
    }
}

impl Events {
    /// Publishes `event` on `hub`.
    pub async fn publish(&self, hub: &SessionHub, event: SessionEvent) -> Result<(), StoreError> {
        match self {
            Events::Direct => publish_direct(hub, event).await,
            Events::Decorated(sink) => sink.publish(hub, event).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_the_contract_names_and_nulls() {
        let event = SessionEvent::Transcript(Transcript {
            provider: ProviderName::OpenAi,
            speaker: "customer".into(),
            text: "hi".into(),
            is_final: true,
            message_id: None,
        });
        let fields = event.fields();
        assert_eq!(event.kind(), "transcript");
        assert_eq!(fields.get("provider"), Some(&Value::from("openai")));
        assert_eq!(fields.get("message_id"), Some(&Value::Null));
        assert_eq!(fields.len(), 5);
        let switched = SessionEvent::ProviderSwitched(ProviderSwitched {
            from_provider: ProviderName::Gemini,
            to_provider: ProviderName::Deepgram,
            context_preserved: 3,
            reason: None,
        })
        .fields();
        assert_eq!(switched.get("reason"), Some(&Value::Null));
        assert_eq!(switched.get("context_preserved"), Some(&Value::from(3)));
    }
}
