//! Liveness of one connection: pings answered with a correct pong, and malformed frames
//! answered with an error event on a connection that stays usable.

use super::{Finding, HEARTBEAT, MALFORMED_HANDLING, evidence};
use crate::probe::stream::{PROBE_LIVE, PROBE_MALFORMED, PingResult, StreamObservation};
use crate::stats::Latencies;
use serde_json::Value;

/// Why a pong does not answer its ping correctly (empty: it does).
pub(super) fn pong_problems(ping: &PingResult, session_id: &str) -> Vec<String> {
    let Some(pong) = &ping.pong else {
        return vec!["no pong".to_string()];
    };
    let mut problems = Vec::new();
    let echo = pong.get("client_timestamp");
    let echoed = echo.is_some_and(|v| {
        v.as_i64() == Some(ping.sent_timestamp) || v.as_f64() == Some(ping.sent_timestamp as f64)
    });
    if !echoed {
        problems.push(format!(
            "client_timestamp {} does not echo {}",
            show(echo),
            ping.sent_timestamp
        ));
    }
    if !pong
        .get("server_timestamp")
        .is_some_and(|v| v.is_i64() || v.is_u64())
    {
        problems.push(format!(
            "server_timestamp {} is not an integer",
            show(pong.get("server_timestamp"))
        ));
    }
    if pong.get("session_id").and_then(Value::as_str) != Some(session_id) {
        problems.push(format!(
            "session_id {} is not the session's",
            show(pong.get("session_id"))
        ));
    }
    problems
}

pub(super) fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(missing)".to_string(), Value::to_string)
}

pub(super) fn heartbeat(obs: &StreamObservation) -> Finding {
    if obs.pings.is_empty() {
        let reason = obs
            .skipped_reason("heartbeat")
            .unwrap_or("no ping was sent");
        return Finding::not_assessed(HEARTBEAT, reason);
    }
    let mut passed = 0;
    let mut details = Vec::new();
    let mut rtt = Latencies::new();
    for (i, ping) in obs.pings.iter().enumerate() {
        let problems = pong_problems(ping, &obs.session_id);
        if problems.is_empty() {
            passed += 1;
            if let Some(d) = ping.rtt {
                rtt.record(d);
            }
        } else {
            details.push(format!(
                "ping {} (timestamp {}): {}",
                i + 1,
                ping.sent_timestamp,
                problems.join("; ")
            ));
        }
    }
    let rtt = rtt.percentiles().map_or(String::new(), |p| {
        format!(", round trip p95 {:.1} ms", p.p95)
    });
    let total = obs.pings.len();
    Finding::ratio(HEARTBEAT, passed, total, "pings")
        .with_summary(format!(
            "{passed} of {total} pings answered with a correct pong{rtt}"
        ))
        .with_details(details)
        .with_evidence(evidence(obs, &[PROBE_LIVE]))
}

pub(super) fn malformed_handling(obs: &StreamObservation) -> Finding {
    let mut passed = 0;
    let mut details = Vec::new();
    for m in &obs.malformed {
        let mut problems = Vec::new();
        if let Some(e) = &m.send_error {
            problems.push(format!("could not be sent: {e}"));
        } else if m.error_event.is_none() {
            problems.push("no error event".to_string());
        }
        if m.closed {
            let code = m
                .close_code
                .map_or("no close code".to_string(), |c| format!("code {c}"));
            problems.push(format!("the server closed the connection ({code})"));
        } else if m.send_error.is_none() && !m.alive_after {
            problems.push("the connection stopped answering".to_string());
        }
        if problems.is_empty() && m.alive_after {
            passed += 1;
        } else {
            details.push(format!(
                "{} `{}`: {}",
                m.label,
                m.frame,
                problems.join("; ")
            ));
        }
    }
    let total = obs.malformed.len();
    let finding = if total == 0 {
        let reason = obs
            .skipped_reason("malformed")
            .unwrap_or("no malformed frame was sent");
        Finding::not_assessed(MALFORMED_HANDLING, reason)
    } else {
        Finding::ratio(MALFORMED_HANDLING, passed, total, "malformed frames").with_summary(format!(
            "{passed} of {total} malformed frames answered with an error event on a live connection"
        ))
    };
    finding
        .with_details(details)
        .with_evidence(evidence(obs, &[PROBE_MALFORMED]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::stream::fixtures::*;
    use crate::probe::stream::MalformedResult;
    use serde_json::json;

    #[test]
    fn heartbeat_fails_each_wrong_pong() {
        let cases: [(Option<Value>, &str); 5] = [
            (None, "no pong"),
            (Some(pong_value(1, Value::Null, SID)), "does not echo"),
            (Some(pong_value(1, json!(999), SID)), "does not echo"),
            (Some(pong_value(1, json!(1000), "another")), "session_id"),
            (
                Some({
                    let mut v = pong_value(1, json!(1000), SID);
                    v["server_timestamp"] = json!("now");
                    v
                }),
                "server_timestamp",
            ),
        ];
        for (pong, why) in cases {
            let mut obs = good();
            obs.pings = vec![PingResult {
                sent_timestamp: 1000,
                pong,
                rtt: None,
            }];
            let f = heartbeat(&obs);
            assert_eq!(measured(&f), 0.0, "{why}");
            assert!(f.details[0].contains(why), "{:?}", f.details);
        }
    }

    #[test]
    fn malformed_handling_needs_an_error_and_a_live_connection() {
        let base = good().malformed[0].clone();
        let closed = MalformedResult {
            error_event: None,
            alive_after: false,
            closed: true,
            close_code: Some(1003),
            ..base.clone()
        };
        let silent = MalformedResult {
            error_event: None,
            ..base.clone()
        };
        let dead = MalformedResult {
            alive_after: false,
            ..base.clone()
        };
        for (case, why) in [
            (closed, "code 1003"),
            (silent, "no error event"),
            (dead, "stopped answering"),
        ] {
            let mut obs = good();
            obs.malformed = vec![base.clone(), case];
            let f = malformed_handling(&obs);
            assert_eq!(measured(&f), 0.5, "{why}");
            assert!(f.details[0].contains(why), "{:?}", f.details);
        }
    }
}
