//! The socket faults, as a decorator around the stream of frames a connection receives:
//!
//! * `no-pong`: a `ping` reaches the connection as a WebSocket-level pong: activity (the idle
//!   timer restarts), no reply;
//! * `no-resume`: a `resume` is turned into a pong the same way: ignored;
//! * `malformed-closes`: a frame the server would refuse (malformed, unknown type, invalid
//!   payload, binary) reaches the connection as the peer's close 1003, which the connection
//!   echoes and so closes with 1003.
//!
//! These are protocol-level, which is why they cannot be a layer around an HTTP route: once
//! upgraded, the socket is a stream of frames, and that stream is the seam.

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use crate::state::AppState;
use crate::ws::messages::parse;

/// Close code of a refused frame under `malformed-closes`.
const UNSUPPORTED: u16 = 1003;

/// The socket faults that are on.
#[derive(Debug, Clone, Copy)]
pub struct FrameFaults {
    no_pong: bool,
    no_resume: bool,
    malformed_closes: bool,
}

impl FrameFaults {
    /// The socket faults of `state`, `None` when none is on (the stream is then not wrapped).
    pub fn of(state: &AppState) -> Option<FrameFaults> {
        let f = &state.faults;
        (f.no_pong || f.no_resume || f.malformed_closes).then_some(FrameFaults {
            no_pong: f.no_pong,
            no_resume: f.no_resume,
            malformed_closes: f.malformed_closes,
        })
    }

    /// `frames` as the connection receives them under these faults.
    pub fn wrap<S>(self, frames: S) -> impl Stream<Item = Result<Message, axum::Error>> + Unpin
    where
        S: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        frames.map(move |frame| frame.map(|message| self.rewrite(message)))
    }

    fn rewrite(self, message: Message) -> Message {
        let text = match &message {
            Message::Text(text) => text.as_str(),
            Message::Binary(_) if self.malformed_closes => return refused(),
            _ => return message,
        };
        if self.malformed_closes && parse(text).is_err() {
            return refused();
        }
        let kind = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
        match kind.as_deref() {
            Some("ping") if self.no_pong => Message::Pong(Default::default()),
            Some("resume") if self.no_resume => Message::Pong(Default::default()),
            _ => message,
        }
    }
}

fn refused() -> Message {
    Message::Close(Some(CloseFrame {
        code: UNSUPPORTED,
        reason: "malformed message".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(no_pong: bool, no_resume: bool, malformed_closes: bool) -> FrameFaults {
        FrameFaults {
            no_pong,
            no_resume,
            malformed_closes,
        }
    }

    #[test]
    fn rewrites_only_what_its_faults_break() {
        let ping = || Message::Text(r#"{"type":"ping"}"#.into());
        assert!(matches!(
            faults(true, false, false).rewrite(ping()),
            Message::Pong(_)
        ));
        assert!(matches!(
            faults(false, true, false).rewrite(ping()),
            Message::Text(_)
        ));
        let resume = Message::Text(r#"{"type":"resume","last_seq":0}"#.into());
        assert!(matches!(
            faults(false, true, false).rewrite(resume),
            Message::Pong(_)
        ));
        let bad = Message::Text("nope".into());
        match faults(false, false, true).rewrite(bad) {
            Message::Close(Some(frame)) => assert_eq!(frame.code, UNSUPPORTED),
            other => panic!("expected a close, got {other:?}"),
        }
        let bad = Message::Text("nope".into());
        assert!(matches!(
            faults(true, true, false).rewrite(bad),
            Message::Text(_)
        ));
    }
}
