//! The stream's envelope as a binding describes it: how the frames the auditor sends are built
//! (templates for ping, text and resume) and how a frame the server sends is read (JSON pointers
//! to its type, sequence number, timestamp and payload; which type names mean which event).
//!
//! Probes render every frame and classify every received frame through this, so the probes and
//! checks never name a field or an event of one particular contract: a deployment with another
//! envelope (`{"event", "sequence", "payload"}`, say) is audited by writing its binding.

use super::Stream;
use super::template::{Vars, render};
use serde_json::Value;
use std::collections::BTreeMap;

/// The events the checks reason about, by their role (their wire names come from the binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    Transcript,
    Insight,
    ProviderSwitched,
    Pong,
    Error,
    CallStatus,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Transcript,
        EventKind::Insight,
        EventKind::ProviderSwitched,
        EventKind::Pong,
        EventKind::Error,
        EventKind::CallStatus,
    ];

    /// The role name used as a key of the binding's `events` section.
    pub fn role(self) -> &'static str {
        match self {
            EventKind::Transcript => "transcript",
            EventKind::Insight => "insight",
            EventKind::ProviderSwitched => "provider_switched",
            EventKind::Pong => "pong",
            EventKind::Error => "error",
            EventKind::CallStatus => "call_status",
        }
    }

    /// Session events carry the session's sequence number and advance it.
    pub fn is_session_event(self) -> bool {
        matches!(
            self,
            EventKind::Transcript
                | EventKind::Insight
                | EventKind::ProviderSwitched
                | EventKind::CallStatus
        )
    }

    /// Replies to one connection carry the last session sequence number and never advance it.
    pub fn is_reply(self) -> bool {
        matches!(self, EventKind::Pong | EventKind::Error)
    }
}

/// What a received frame is, read through the binding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classified {
    /// The type name found at the type pointer, as sent.
    pub name: Option<String>,
    /// The event it means, when the binding names it.
    pub kind: Option<EventKind>,
    pub seq: Option<u64>,
    pub timestamp: Option<Value>,
    /// The id of the client text an event answers (a transcript's), at the message_id pointer.
    pub message_id: Option<String>,
    /// The object holding the event's own fields (the whole frame for a flat envelope).
    pub payload: Option<Value>,
}

/// Frame templates and event pointers of one stream.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    frames: BTreeMap<String, Value>,
    type_pointer: String,
    sequence_pointer: String,
    timestamp_pointer: Option<String>,
    message_id_pointer: String,
    payload_pointer: String,
    events: BTreeMap<String, EventKind>,
}

impl Envelope {
    /// The envelope of a validated stream binding.
    pub fn of(stream: &Stream) -> Envelope {
        let pointer = |name: &str| stream.pointers.get(name).cloned();
        let events = EventKind::ALL
            .iter()
            .filter_map(|k| stream.events.get(k.role()).map(|name| (name.clone(), *k)))
            .collect();
        Envelope {
            frames: stream.frames.clone(),
            type_pointer: pointer("type").unwrap_or_default(),
            sequence_pointer: pointer("sequence").unwrap_or_default(),
            timestamp_pointer: pointer("timestamp"),
            // Without its own pointer, the answered text's id is read from the payload's
            // `message_id`, where the text frame's `${message_id}` usually comes back.
            message_id_pointer: pointer("message_id").unwrap_or_else(|| {
                format!("{}/message_id", pointer("payload").unwrap_or_default())
            }),
            payload_pointer: pointer("payload").unwrap_or_default(),
            events,
        }
    }

    /// The wire name of an event, when the binding names it.
    pub fn event_name(&self, kind: EventKind) -> Option<&str> {
        self.events
            .iter()
            .find(|(_, k)| **k == kind)
            .map(|(name, _)| name.as_str())
    }

    /// Renders the `ping`, `text` or `resume` frame with `vars`.
    pub fn frame(&self, name: &str, vars: &Vars) -> Result<Value, String> {
        let template = self
            .frames
            .get(name)
            .ok_or_else(|| format!("the stream frame {name} is not bound"))?;
        render(template, vars).map_err(|e| format!("frame {name}: {e}"))
    }

    /// A frame of a type no contract has: the `ping` frame with its type replaced by `name`.
    pub fn with_unknown_type(&self, vars: &Vars, name: &str) -> Result<Value, String> {
        let mut frame = self.frame("ping", vars)?;
        match frame.pointer_mut(&self.type_pointer) {
            Some(slot) => {
                *slot = Value::String(name.to_string());
                Ok(frame)
            }
            None => Err("the ping frame has nothing at the type pointer".into()),
        }
    }

    /// The `text` frame without the field that carries `${text}` (a required field missing).
    pub fn without_text(&self, vars: &Vars) -> Result<Value, String> {
        let template = self
            .frames
            .get("text")
            .ok_or("the stream frame text is not bound")?;
        let mut stripped = template.clone();
        if !remove_var(&mut stripped, "${text}") {
            return Err("the text frame has no field holding ${text}".into());
        }
        render(&stripped, vars).map_err(|e| format!("frame text: {e}"))
    }

    /// Builds a frame of type `name`, the inverse of `classify`: `fields` (an object) at the
    /// payload pointer, the name and `seq` at theirs. Fixtures use it to speak any envelope.
    pub fn compose(&self, name: &str, seq: Option<u64>, fields: Value) -> Value {
        let mut frame = Value::Object(serde_json::Map::new());
        set(&mut frame, &self.payload_pointer, fields);
        set(
            &mut frame,
            &self.type_pointer,
            Value::String(name.to_string()),
        );
        if let Some(seq) = seq {
            set(&mut frame, &self.sequence_pointer, Value::from(seq));
        }
        frame
    }

    /// `compose` for a bound event (an unbound one is named by its role).
    pub fn compose_event(&self, kind: EventKind, seq: Option<u64>, fields: Value) -> Value {
        let name = self.event_name(kind).unwrap_or(kind.role()).to_string();
        self.compose(&name, seq, fields)
    }

    /// Reads a received frame.
    pub fn classify(&self, value: &Value) -> Classified {
        let name = value
            .pointer(&self.type_pointer)
            .and_then(Value::as_str)
            .map(str::to_string);
        let kind = name.as_ref().and_then(|n| self.events.get(n)).copied();
        Classified {
            kind,
            name,
            seq: value
                .pointer(&self.sequence_pointer)
                .and_then(Value::as_u64),
            timestamp: self
                .timestamp_pointer
                .as_ref()
                .and_then(|p| value.pointer(p))
                .cloned(),
            message_id: value
                .pointer(&self.message_id_pointer)
                .and_then(Value::as_str)
                .map(str::to_string),
            payload: value.pointer(&self.payload_pointer).cloned(),
        }
    }
}

/// Writes `value` at an RFC 6901 pointer, creating objects on the way (the empty pointer
/// replaces the whole document).
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let mut slot = doc;
    for token in pointer.split('/').skip(1) {
        let key = token.replace("~1", "/").replace("~0", "~");
        if !slot.is_object() {
            *slot = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = slot else { return };
        slot = map.entry(key).or_insert(Value::Null);
    }
    *slot = value;
}

/// Removes the object member whose value is exactly `var`, wherever it is; whether one was.
fn remove_var(v: &mut Value, var: &str) -> bool {
    match v {
        Value::Object(map) => {
            let key = map
                .iter()
                .find(|(_, val)| val.as_str() == Some(var))
                .map(|(k, _)| k.clone());
            match key {
                Some(k) => map.remove(&k).is_some(),
                None => map.values_mut().any(|child| remove_var(child, var)),
            }
        }
        Value::Array(items) => items.iter_mut().any(|child| remove_var(child, var)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::Binding;
    use crate::contract::{ApiContract, BUNDLED_OPENAPI};
    use serde_json::json;

    fn reference() -> Envelope {
        let api = ApiContract::parse(BUNDLED_OPENAPI, "bundled").expect("bundled contract");
        let b = Binding::reference(&api).expect("reference binding");
        Envelope::of(b.stream().expect("stream bound"))
    }

    fn nested() -> Envelope {
        let stream = Stream {
            url: Some("/ws".into()),
            url_output: None,
            token: crate::binding::TokenPlacement::Query { name: "t".into() },
            frames: [
                (
                    "ping",
                    json!({"event": "ping", "payload": {"at": "${timestamp}"}}),
                ),
                (
                    "text",
                    json!({"event": "say", "payload": {"words": "${text}", "id": "${message_id}"}}),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            pointers: [
                ("type", "/event"),
                ("sequence", "/sequence"),
                ("payload", "/payload"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            events: [("transcript", "heard"), ("pong", "pong")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            close_codes: Default::default(),
        };
        Envelope::of(&stream)
    }

    fn vars() -> Vars {
        crate::probe::vars(&[
            ("timestamp", json!(7)),
            ("text", json!("hi")),
            ("message_id", json!("m1")),
        ])
    }

    #[test]
    fn frames_are_rendered_from_the_templates() {
        let e = nested();
        assert_eq!(
            e.frame("text", &vars()),
            Ok(json!({"event": "say", "payload": {"words": "hi", "id": "m1"}}))
        );
        assert_eq!(
            e.with_unknown_type(&vars(), "teleport"),
            Ok(json!({"event": "teleport", "payload": {"at": 7}}))
        );
        assert_eq!(
            e.without_text(&vars()),
            Ok(json!({"event": "say", "payload": {"id": "m1"}}))
        );
        assert!(e.frame("resume", &vars()).is_err());
    }

    #[test]
    fn events_are_classified_through_the_pointers() {
        let e = nested();
        let c = e.classify(&json!({"event": "heard", "sequence": 4, "payload": {"id": "m1"}}));
        assert_eq!(c.kind, Some(EventKind::Transcript));
        assert_eq!(c.seq, Some(4));
        assert_eq!(c.payload, Some(json!({"id": "m1"})));
        let unknown = e.classify(&json!({"event": "mystery"}));
        assert_eq!(
            (unknown.name.as_deref(), unknown.kind),
            (Some("mystery"), None)
        );
        let r = reference();
        let flat = json!({"type": r.event_name(EventKind::Pong), "seq": 2});
        let c = r.classify(&flat);
        assert_eq!((c.kind, c.seq), (Some(EventKind::Pong), Some(2)));
        assert_eq!(c.payload, Some(flat));
    }

    #[test]
    fn compose_is_the_inverse_of_classify() {
        for e in [reference(), nested()] {
            let frame = e.compose_event(EventKind::Transcript, Some(3), json!({"message_id": "m"}));
            let c = e.classify(&frame);
            assert_eq!((c.kind, c.seq), (Some(EventKind::Transcript), Some(3)));
            assert_eq!(c.message_id.as_deref(), Some("m"));
            assert_eq!(
                c.payload.and_then(|p| p.get("message_id").cloned()),
                Some(json!("m"))
            );
        }
        assert_eq!(
            nested().compose("x", None, json!({"a": 1})),
            json!({"event": "x", "payload": {"a": 1}})
        );
    }
}
