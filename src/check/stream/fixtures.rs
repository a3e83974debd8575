//! Observations and received frames for the stream checks' tests, built through the reference
//! binding's envelope so no test names a field of one particular contract.

use super::*;
use crate::binding::envelope::{Envelope, EventKind};
use crate::contract;
use crate::probe::stream::{
    MalformedResult, PROBE_LIVE, PingResult, ResumeResult, ThroughputResult,
};
use crate::probe::ws::Received;
use serde_json::{Value, json};
use std::time::Instant;

pub const SID: &str = "7d0f0a4e-4b8a-4a55-9b9e-0d7b4c9f1c11";

pub fn contract() -> WsContract {
    WsContract::parse(contract::BUNDLED_ASYNCAPI, "bundled").expect("bundled contract")
}

pub fn msg(value: Value) -> Received {
    Received::new(
        Instant::now(),
        value.to_string(),
        &crate::binding::reference_envelope(),
    )
}

/// The reference binding's envelope, through which every fixture frame is built.
pub fn reference() -> Envelope {
    crate::binding::reference_envelope()
}

/// A server frame of `kind` with `seq` and the common fields plus `fields`.
pub fn event(kind: EventKind, seq: u64, mut fields: Value) -> Value {
    fields["timestamp"] = json!("2026-01-01T00:00:00Z");
    fields["session_id"] = json!(SID);
    reference().compose_event(kind, Some(seq), fields)
}

pub fn transcript(seq: u64) -> Received {
    msg(event(
        EventKind::Transcript,
        seq,
        json!({"provider": "gemini", "speaker": "agent", "text": "hi", "is_final": true}),
    ))
}

pub fn insight(seq: u64, confidence: Value) -> Received {
    msg(event(
        EventKind::Insight,
        seq,
        json!({"provider": "gemini", "insight_type": "sentiment", "content": "positive",
            "confidence": confidence}),
    ))
}

pub fn pong_value(seq: u64, echo: Value, session_id: &str) -> Value {
    let mut v = event(
        EventKind::Pong,
        seq,
        json!({"server_timestamp": 1_767_225_600_000_i64, "client_timestamp": echo}),
    );
    v["session_id"] = json!(session_id);
    v
}

pub fn conn(messages: Vec<Received>) -> ConnectionLog {
    ConnectionLog {
        connection: "ws-001".into(),
        probe: PROBE_LIVE.into(),
        messages,
        close_code: None,
    }
}

pub fn good() -> StreamObservation {
    let ms = Duration::from_millis;
    StreamObservation {
        session_id: SID.into(),
        connect_times: (1..=10).map(ms).collect(),
        connect_timeout: Duration::from_secs(10),
        no_token_status: Some(401),
        unknown_session_status: Some(404),
        pings: (0..5)
            .map(|i| PingResult {
                sent_timestamp: 1000 + i,
                pong: Some(pong_value(3, json!(1000 + i), SID)),
                rtt: Some(ms(1)),
            })
            .collect(),
        malformed: ["not JSON", "unknown type"]
            .iter()
            .map(|l| MalformedResult {
                label: l.to_string(),
                frame: "{oops".into(),
                error_event: Some(event(EventKind::Error, 3, json!({}))),
                alive_after: true,
                closed: false,
                close_code: None,
                send_error: None,
            })
            .collect(),
        resume: Some(ResumeResult {
            last_seen_seq: 4,
            missed_seqs: vec![5, 6, 7],
            replayed_seqs: vec![5, 6, 7],
            reconnect_to_first: Some(ms(12)),
            waited: Duration::from_secs(3),
            ..ResumeResult::default()
        }),
        latencies: (1..=20).map(|i| Some(ms(i))).collect(),
        step_wait: Duration::from_secs(2),
        throughput: Some(ThroughputResult {
            texts_sent: 100,
            events_expected: 200,
            events_received: 200,
            elapsed: ms(100),
            send_error: None,
        }),
        ..StreamObservation::default()
    }
}

pub fn measured(f: &Finding) -> f64 {
    match &f.outcome {
        Outcome::Measured { value, .. } => *value,
        Outcome::NotAssessed { reason } => panic!("{} not assessed: {reason}", f.check_id),
        Outcome::Failed { reason } => panic!("{} failed: {reason}", f.check_id),
    }
}

pub fn assessed(f: &Finding) -> bool {
    matches!(f.outcome, Outcome::Measured { .. })
}
