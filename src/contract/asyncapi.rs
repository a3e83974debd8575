//! The AsyncAPI 3.0 document of the session stream, reduced to what the WebSocket probes need:
//! the channel address, which messages each side sends, and each message's payload schema.
//!
//! In AsyncAPI 3 operations are written from the server's side: `send` messages are what the
//! server emits, `receive` messages what it accepts from clients.

use super::ContractError;
use super::openapi::resolve;
use super::schema::SchemaSet;
use super::source::parse_document;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct WsContract {
    pub title: String,
    pub version: String,
    pub spec_version: String,
    pub source_name: String,
    /// Channel address template, e.g. `/ws/sessions/{session_id}`.
    pub address: String,
    pub messages: Vec<WsMessage>,
    /// Close codes documented with `x-close-codes` on the channel.
    pub close_codes: BTreeMap<u16, String>,
    pub schemas: SchemaSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageDirection {
    /// Server → client.
    Send,
    /// Client → server.
    Receive,
}

#[derive(Debug, Clone)]
pub struct WsMessage {
    /// The message name, which is also its `type` discriminator on the wire.
    pub name: String,
    pub direction: MessageDirection,
    /// Pointer of the payload schema in the document.
    pub payload: String,
}

impl WsContract {
    pub fn parse(text: &str, source_name: &str) -> Result<WsContract, ContractError> {
        let document = parse_document(text, source_name)?;
        let structure = |reason: String| ContractError::Structure {
            source_name: source_name.to_string(),
            kind: "AsyncAPI",
            reason,
        };
        let spec_version = match document.get("asyncapi") {
            Some(Value::String(v)) => v.clone(),
            Some(other) => other.to_string(),
            None => return Err(structure("no `asyncapi` version field".to_string())),
        };
        if !spec_version.starts_with("3.") {
            return Err(ContractError::Version {
                source_name: source_name.to_string(),
                version: spec_version,
                supported: "AsyncAPI 3.x",
            });
        }
        let info = document.get("info");
        let text_of = |key: &str| {
            info.and_then(|i| i.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (channel_pointer, channel) = document
            .get("channels")
            .and_then(Value::as_object)
            .and_then(|channels| {
                channels
                    .iter()
                    .find(|(_, c)| c.get("address").and_then(Value::as_str).is_some())
                    .map(|(name, c)| (format!("/channels/{name}"), c))
            })
            .ok_or_else(|| structure("no channel with an `address`".to_string()))?;
        let address = channel
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut messages = Vec::new();
        for op in document
            .get("operations")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.values())
        {
            let refers_to_channel = op
                .get("channel")
                .and_then(|c| c.get("$ref"))
                .and_then(Value::as_str)
                .is_some_and(|r| r == format!("#{channel_pointer}"));
            if !refers_to_channel {
                continue;
            }
            let direction = match op.get("action").and_then(Value::as_str) {
                Some("send") => MessageDirection::Send,
                Some("receive") => MessageDirection::Receive,
                other => {
                    return Err(structure(format!(
                        "operation action {other:?} is neither send nor receive"
                    )));
                }
            };
            for m in op
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (pointer, message) = resolve(&document, m)
                    .ok_or_else(|| structure("unresolvable message $ref".to_string()))?;
                let pointer = pointer
                    .ok_or_else(|| structure("operation messages must be $refs".to_string()))?;
                let name = message
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| structure(format!("message {pointer} has no name")))?
                    .to_string();
                if message.get("payload").is_none() {
                    return Err(structure(format!("message {name} has no payload schema")));
                }
                messages.push(WsMessage {
                    name,
                    direction,
                    payload: format!("{pointer}/payload"),
                });
            }
        }
        if messages.is_empty() {
            return Err(structure(
                "no operation sends or receives messages on the channel".to_string(),
            ));
        }
        let close_codes = channel
            .get("x-close-codes")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        Some((k.parse().ok()?, v.as_str().unwrap_or("").to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let schemas =
            SchemaSet::new("urn:voice-audit:asyncapi", document.clone()).map_err(structure)?;
        for m in &messages {
            schemas
                .compile(&m.payload)
                .map_err(|reason| ContractError::Semantics {
                    source_name: source_name.to_string(),
                    reason,
                })?;
        }
        Ok(WsContract {
            title: text_of("title"),
            version: text_of("version"),
            spec_version,
            source_name: source_name.to_string(),
            address,
            messages,
            close_codes,
            schemas,
        })
    }

    /// The server message named `name` (its `type` on the wire).
    pub fn server_message(&self, name: &str) -> Option<&WsMessage> {
        self.messages
            .iter()
            .find(|m| m.direction == MessageDirection::Send && m.name == name)
    }

    /// Violations of a received server event against the schema of the message `name` (its type
    /// name as the binding's type pointer read it); an unknown or missing name is one.
    pub fn validate_event(&self, name: Option<&str>, event: &Value) -> Vec<String> {
        let Some(kind) = name else {
            return vec!["(root): no message type at the binding's type pointer".to_string()];
        };
        match self.server_message(kind) {
            Some(m) => self
                .schemas
                .validate(&m.payload, event)
                .iter()
                .map(ToString::to_string)
                .collect(),
            None => vec![format!("`{kind}` is not a server message of the contract")],
        }
    }

    /// Concrete path for a session id.
    pub fn path_for(&self, session_id: &str) -> String {
        let mut path = self.address.clone();
        if let (Some(start), Some(end)) = (path.find('{'), path.find('}')) {
            path.replace_range(start..=end, session_id);
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_bundled_stream_contract_loads() {
        let c = WsContract::parse(crate::contract::BUNDLED_ASYNCAPI, "bundled").expect("loads");
        assert_eq!(c.address, "/ws/sessions/{session_id}");
        assert_eq!(c.path_for("abc"), "/ws/sessions/abc");
        assert!(c.server_message("pong").is_some());
        assert!(
            c.server_message("ping").is_none(),
            "ping is a client message"
        );
        assert_eq!(
            c.close_codes.get(&4001).map(String::as_str),
            Some("the token was revoked")
        );
        let pong = json!({"type": "pong", "seq": 0, "timestamp": "2026-01-01T00:00:00Z",
            "session_id": "7d0f0a4e-4b8a-4a55-9b9e-0d7b4c9f1c11", "server_timestamp": 1});
        assert!(c.validate_event(Some("pong"), &pong).is_empty());
        let bad = json!({"type": "insight", "seq": 1, "timestamp": "2026-01-01T00:00:00Z",
            "session_id": "7d0f0a4e-4b8a-4a55-9b9e-0d7b4c9f1c11", "provider": "gemini",
            "insight_type": "sentiment", "content": "x", "confidence": "0.9"});
        assert!(!c.validate_event(Some("insight"), &bad).is_empty());
        assert!(
            !c.validate_event(Some("mystery"), &json!({"type": "mystery"}))
                .is_empty()
        );
        assert!(!c.validate_event(None, &json!({})).is_empty());
    }

    #[test]
    fn a_broken_asyncapi_document_is_a_clear_error() {
        let err = WsContract::parse("asyncapi: 2.6.0\nchannels: {}", "ws.yaml").expect_err("2.x");
        assert!(err.to_string().contains("unsupported version"));
        let err = WsContract::parse("asyncapi: 3.0.0\nchannels: {}", "ws.yaml").expect_err("empty");
        assert!(err.to_string().contains("no channel"));
    }
}
