//! Client frames of the session stream and their validation, and the replies that go to one
//! connection only (`pong`, `error`; session events are in [`crate::events`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A validated client message.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// Heartbeat; `timestamp` is echoed as `client_timestamp`.
    Ping {
        /// Any client clock value.
        timestamp: Option<Value>,
    },
    /// An utterance.
    Text {
        /// What was said.
        text: String,
        /// Client id of the message.
        message_id: Option<String>,
    },
    /// Replay events after `last_seq`.
    Resume {
        /// The last seq the client saw.
        last_seq: u64,
    },
}

/// Why a frame was refused; maps to the `error` event's `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON, not an object, or no string `type`.
    Malformed(String),
    /// A `type` this server does not know.
    UnknownType(String),
    /// A known type whose fields break its schema.
    InvalidPayload(String),
}

impl FrameError {
    /// The `code` of the `error` event.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::Malformed(_) => "malformed_message",
            FrameError::UnknownType(_) => "unknown_type",
            FrameError::InvalidPayload(_) => "invalid_payload",
        }
    }

    /// The `message` of the `error` event.
    pub fn message(&self) -> &str {
        match self {
            FrameError::Malformed(m)
            | FrameError::UnknownType(m)
            | FrameError::InvalidPayload(m) => m,
        }
    }
}

/// `pong`: the fields of the reply to a `ping`.
#[derive(Debug, Serialize)]
pub struct Pong {
    /// Server clock, Unix milliseconds.
    pub server_timestamp: i64,
    /// The ping's `timestamp`, echoed (null when it had none).
    pub client_timestamp: Option<Value>,
}

/// `error`: the fields of the reply to a refused frame.
#[derive(Debug, Serialize)]
pub struct ErrorReply<'a> {
    /// Machine-readable code (`malformed_message`, `unknown_type`, …).
    pub code: &'a str,
    /// What was wrong.
    pub message: &'a str,
}

#[derive(Deserialize)]
struct PingFrame {
    #[serde(default)]
    timestamp: Option<Value>,
}

#[derive(Deserialize)]
struct TextFrame {
    text: String,
    #[serde(default)]
    message_id: Option<String>,
}

#[derive(Deserialize)]
struct ResumeFrame {
    last_seq: u64,
}

fn payload<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, FrameError> {
    serde_json::from_value(value).map_err(|e| FrameError::InvalidPayload(e.to_string()))
}

/// Parses and validates one text frame.
pub fn parse(frame: &str) -> Result<ClientMessage, FrameError> {
    let value: Value =
        serde_json::from_str(frame).map_err(|e| FrameError::Malformed(format!("not JSON: {e}")))?;
    let kind = value
        .as_object()
        .ok_or_else(|| FrameError::Malformed("a message must be a JSON object".into()))?
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| FrameError::Malformed("a message needs a string `type`".into()))?
        .to_owned();
    match kind.as_str() {
        "ping" => {
            let ping: PingFrame = payload(value)?;
            match &ping.timestamp {
                None | Some(Value::Number(_)) | Some(Value::String(_)) => Ok(ClientMessage::Ping {
                    timestamp: ping.timestamp,
                }),
                Some(_) => Err(FrameError::InvalidPayload(
                    "timestamp must be a number or a string".into(),
                )),
            }
        }
        "text" => {
            let text: TextFrame = payload(value)?;
            let len = text.text.chars().count();
            if !(1..=4000).contains(&len) {
                return Err(FrameError::InvalidPayload(
                    "text must have 1 to 4000 characters".into(),
                ));
            }
            if text
                .message_id
                .as_ref()
                .is_some_and(|id| id.chars().count() > 100)
            {
                return Err(FrameError::InvalidPayload(
                    "message_id must have at most 100 characters".into(),
                ));
            }
            Ok(ClientMessage::Text {
                text: text.text,
                message_id: text.message_id,
            })
        }
        "resume" => {
            let resume: ResumeFrame = payload(value)?;
            Ok(ClientMessage::Resume {
                last_seq: resume.last_seq,
            })
        }
        other => Err(FrameError::UnknownType(format!(
            "unknown message type `{other}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_bad_frames() {
        assert_eq!(
            parse("nope").err().map(|e| e.code()),
            Some("malformed_message")
        );
        assert_eq!(
            parse(r#"{"type":"dance"}"#).err().map(|e| e.code()),
            Some("unknown_type")
        );
        assert_eq!(
            parse(r#"{"type":"text"}"#).err().map(|e| e.code()),
            Some("invalid_payload")
        );
        assert_eq!(
            parse(r#"{"type":"resume","last_seq":-1}"#)
                .err()
                .map(|e| e.code()),
            Some("invalid_payload")
        );
        assert_eq!(
            parse(r#"{"type":"text","text":""}"#)
                .err()
                .map(|e| e.code()),
            Some("invalid_payload")
        );
        assert!(parse(r#"{"type":"ping","timestamp":5}"#).is_ok());
    }
}
