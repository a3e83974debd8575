//! What every connection of the audit received: each server message valid against its
//! AsyncAPI schema (named by the binding's type pointer), and sequence numbers in order.

use super::{EVENT_SCHEMA, Finding, MAX_DETAILS, ORDERING, capped, excerpt};
use crate::contract::WsContract;
use crate::probe::ws::ConnectionLog;
use std::collections::BTreeSet;

pub(super) fn event_schema(connections: &[ConnectionLog], contract: &WsContract) -> Finding {
    let mut total = 0;
    let mut valid = 0;
    let mut failed = 0;
    let mut details = Vec::new();
    let mut evidence = BTreeSet::new();
    for conn in connections {
        for m in &conn.messages {
            total += 1;
            let problems = match &m.value {
                Some(v) => contract.validate_event(m.name(), v),
                None => vec![format!("not JSON: {}", excerpt(&m.raw))],
            };
            if problems.is_empty() {
                valid += 1;
                continue;
            }
            failed += 1;
            evidence.insert(conn.connection.clone());
            if details.len() < MAX_DETAILS {
                let kind = m.name().unwrap_or("?");
                details.push(format!(
                    "{} `{kind}` #{}: {}",
                    conn.connection,
                    total,
                    problems.join("; ")
                ));
            }
        }
    }
    if total == 0 {
        return Finding::not_assessed(EVENT_SCHEMA, "no WebSocket message was received");
    }
    Finding::ratio(EVENT_SCHEMA, valid, total, "server messages")
        .with_summary(format!(
            "{valid} of {total} server messages match their AsyncAPI schema"
        ))
        .with_details(capped(details, failed))
        .with_evidence(evidence.into_iter().take(MAX_DETAILS).collect())
}

/// Ordering on one connection: how many messages were checked, and the failures (index, why).
///
/// A session event must carry a seq above every earlier session event's. A reply carries the
/// last seq sent before it, so it may not be below the last session event seen, and the next
/// session event must be above it (a reply "ahead" of the stream is caught there). A fresh
/// connection's first reply may legitimately be above anything it saw (events from before it
/// connected), which is why replies are not compared with the events *before* them from above.
pub(super) fn ordering_of(conn: &ConnectionLog) -> (usize, Vec<(usize, String)>) {
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut last_event: Option<u64> = None;
    let mut pending_replies: Vec<(usize, &str, u64)> = Vec::new();
    for (i, m) in conn.messages.iter().enumerate() {
        let (Some(event), Some(seq)) = (m.kind(), m.seq()) else {
            continue;
        };
        let kind = m.name().unwrap_or("?");
        if event.is_session_event() {
            checked += 1;
            match last_event {
                Some(prev) if seq <= prev => {
                    failures.push((
                        i,
                        format!(
                            "`{kind}` seq {seq} after session event seq {prev} (not increasing)"
                        ),
                    ));
                }
                _ => {
                    for (ri, rkind, rseq) in pending_replies.iter().filter(|(_, _, r)| *r >= seq) {
                        failures.push((
                            *ri,
                            format!(
                                "`{rkind}` seq {rseq} is ahead of the next session event seq {seq}"
                            ),
                        ));
                    }
                }
            }
            pending_replies.clear();
            last_event = last_event.max(Some(seq));
        } else if event.is_reply() {
            checked += 1;
            if let Some(prev) = last_event.filter(|prev| seq < *prev) {
                failures.push((
                    i,
                    format!("`{kind}` seq {seq} is behind the last session event seq {prev}"),
                ));
            }
            pending_replies.push((i, kind, seq));
        }
    }
    failures.sort_by_key(|(i, _)| *i);
    (checked, failures)
}

pub(super) fn ordering(connections: &[ConnectionLog]) -> Finding {
    let mut checked = 0;
    let mut failed = 0;
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    for conn in connections {
        let (n, failures) = ordering_of(conn);
        checked += n;
        failed += failures.len();
        if !failures.is_empty() {
            evidence.push(conn.connection.clone());
        }
        for (i, why) in failures {
            if details.len() < MAX_DETAILS {
                details.push(format!("{} message #{}: {why}", conn.connection, i + 1));
            }
        }
    }
    if checked == 0 {
        return Finding::not_assessed(ORDERING, "no message with a seq was received");
    }
    let passed = checked.saturating_sub(failed);
    Finding::ratio(ORDERING, passed, checked, "sequenced messages")
        .with_summary(format!("{passed} of {checked} sequenced messages in order"))
        .with_details(capped(details, failed))
        .with_evidence(evidence.into_iter().take(MAX_DETAILS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::stream::fixtures::*;
    use crate::probe::ws::Received;
    use serde_json::json;
    use std::time::Instant;

    #[test]
    fn ordering_catches_regressions_and_replies_out_of_line() {
        let cases: [(&str, Vec<Received>, f64); 6] = [
            (
                "in order",
                vec![transcript(1), insight(2, json!(0.5)), transcript(3)],
                1.0,
            ),
            (
                "repeated seq",
                vec![transcript(1), insight(1, json!(0.5)), transcript(2)],
                2.0 / 3.0,
            ),
            ("backwards", vec![transcript(5), transcript(4)], 0.5),
            (
                "reply ahead",
                vec![
                    transcript(1),
                    msg(pong_value(5, json!(1), SID)),
                    transcript(2),
                ],
                2.0 / 3.0,
            ),
            (
                "reply behind",
                vec![transcript(4), msg(pong_value(3, json!(1), SID))],
                0.5,
            ),
            // A fresh connection's first pong carries the session's seq, above anything it saw.
            (
                "fresh connection",
                vec![msg(pong_value(9, json!(1), SID)), transcript(10)],
                1.0,
            ),
        ];
        for (name, messages, expected) in cases {
            let f = ordering(&[conn(messages)]);
            assert!((measured(&f) - expected).abs() < 1e-9, "{name}: {f:?}");
            assert_eq!(
                f.details.is_empty(),
                expected == 1.0,
                "{name}: {:?}",
                f.details
            );
        }
        assert!(!assessed(&ordering(&[])));
    }

    #[test]
    fn schema_counts_invalid_events_and_garbage() {
        let garbage = Received::new(Instant::now(), "<html>oops</html>".into(), &reference());
        let connections = vec![conn(vec![
            transcript(1),
            insight(2, json!("0.9")),
            garbage,
            msg(reference().compose("mystery", Some(3), json!({}))),
        ])];
        let f = event_schema(&connections, &contract());
        assert_eq!(measured(&f), 0.25);
        assert_eq!(f.details.len(), 3, "{:?}", f.details);
        assert!(f.details[1].contains("not JSON"));
        assert_eq!(f.evidence, vec!["ws-001".to_string()]);
        assert!(!assessed(&event_schema(&[], &contract())));
    }
}
