//! Checks of the WebSocket stream: turn the stream probe's observation and every recorded
//! connection into the nine `ws.*` findings of the profile.
//!
//! Schema and ordering are judged on every connection of the audit (not only the stream probe's),
//! because any event the server sends must honour the contract. The rest judges the stream
//! probe's own steps. Latency values come from HDR histograms (`stats::Latencies`); a sample
//! that never arrived is recorded as the wait it exhausted, so losses push the percentiles up
//! instead of silently shrinking the sample. `metrics` reads the very same histograms, so the
//! report's metrics and the findings cannot disagree.

use super::{Finding, Outcome};
use crate::contract::WsContract;
use crate::model::Percentiles;
use crate::probe::stream::{
    PROBE_CONNECT, PROBE_LIVE, PROBE_MALFORMED, PROBE_RESUME, PROBE_THROUGHPUT, PingResult,
    ResumeResult, StreamObservation,
};
use crate::probe::ws::ConnectionLog;
use crate::stats::Latencies;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

pub const CONNECT_TIME: &str = "ws.connect_time";
pub const HEARTBEAT: &str = "ws.heartbeat";
pub const RESUME_NO_LOSS: &str = "ws.resume_no_loss";
pub const RECONNECT_TIME: &str = "ws.reconnect_time";
pub const EVENT_SCHEMA: &str = "ws.event_schema";
pub const ORDERING: &str = "ws.ordering";
pub const EVENT_LATENCY: &str = "ws.event_latency";
pub const THROUGHPUT: &str = "ws.throughput";
pub const MALFORMED_HANDLING: &str = "ws.malformed_handling";
pub const UPGRADE_REFUSED: &str = "auth.ws_upgrade_refused";

/// Most failed items listed in a finding's details.
const MAX_DETAILS: usize = 10;

/// One finding per `ws.*` check id, in the profile's order.
///
/// `stream` is the stream probe's result (`None`: it did not run); `connections` is every
/// connection of the audit, judged for `ws.event_schema` and `ws.ordering`.
pub fn findings(
    stream: Option<&Result<StreamObservation, String>>,
    connections: &[ConnectionLog],
    contract: &WsContract,
) -> Vec<Finding> {
    let own = |id: &str, judge: fn(&StreamObservation) -> Finding| match stream {
        Some(Ok(obs)) => judge(obs),
        Some(Err(reason)) => Finding::not_assessed(id, reason),
        None => Finding::not_assessed(id, "the stream probes did not run"),
    };
    vec![
        own(CONNECT_TIME, connect_time),
        own(HEARTBEAT, heartbeat),
        own(RESUME_NO_LOSS, resume_no_loss),
        own(RECONNECT_TIME, reconnect_time),
        event_schema(connections, contract),
        ordering(connections),
        own(EVENT_LATENCY, event_latency),
        own(THROUGHPUT, throughput),
        own(MALFORMED_HANDLING, malformed_handling),
        own(UPGRADE_REFUSED, upgrade_refused),
    ]
}

/// Figures for `model::Metrics` (`ws_connect_ms`, `ws_event_latency_ms`, `ws_throughput_msg_s`,
/// `ws_reconnect_ms`), from the same data as the findings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamMetrics {
    /// Handshakes; a failed connect counts as the handshake timeout.
    pub connect_ms: Option<Percentiles>,
    /// Text → transcript; a transcript that never came counts as the wait.
    pub event_latency_ms: Option<Percentiles>,
    pub throughput_msg_s: Option<f64>,
    /// The one reconnect → first replayed event (the wait if nothing was replayed).
    pub reconnect_ms: Option<Percentiles>,
}

pub fn metrics(stream: &StreamObservation) -> StreamMetrics {
    StreamMetrics {
        connect_ms: connect_latencies(stream).percentiles(),
        event_latency_ms: event_latencies(stream).percentiles(),
        throughput_msg_s: throughput_rate(stream),
        reconnect_ms: reconnect_value(stream).ok().and_then(|(d, _)| {
            let mut l = Latencies::new();
            l.record(d);
            l.percentiles()
        }),
    }
}

fn connect_latencies(obs: &StreamObservation) -> Latencies {
    let mut l = Latencies::new();
    obs.connect_times.iter().for_each(|d| l.record(*d));
    obs.connect_failures
        .iter()
        .for_each(|_| l.record(obs.connect_timeout));
    l
}

fn event_latencies(obs: &StreamObservation) -> Latencies {
    let mut l = Latencies::new();
    obs.latencies
        .iter()
        .for_each(|d| l.record(d.unwrap_or(obs.step_wait)));
    l
}

fn throughput_rate(obs: &StreamObservation) -> Option<f64> {
    let t = obs.throughput.as_ref().filter(|t| t.texts_sent > 0)?;
    Some(t.events_received as f64 / t.elapsed.as_secs_f64().max(1e-6))
}

/// The reconnect time and whether anything was replayed; `Err(reason)` when not measurable.
fn reconnect_value(obs: &StreamObservation) -> Result<(Duration, bool), String> {
    let Some(resume) = &obs.resume else {
        return Err(obs
            .skipped_reason("resume")
            .unwrap_or("the resume step did not run")
            .to_string());
    };
    if let Some(d) = resume.reconnect_to_first {
        return Ok((d, true));
    }
    if resume.missed_seqs.is_empty() {
        return Err(resume
            .error
            .clone()
            .unwrap_or_else(|| "no event was missed, nothing to replay".into()));
    }
    Ok((resume.waited, false))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A latency finding valued at p95, displayed with p50 and the sample size.
fn p95_finding(id: &str, p: &Percentiles, summary: String) -> Finding {
    let mut f = Finding::millis(id, p.p95, summary);
    f.outcome = Outcome::Measured {
        value: p.p95,
        display: format!("p95 {:.1} ms (p50 {:.1}, n={})", p.p95, p.p50, p.count),
    };
    f
}

/// Connection ids of the stream probe's connections with one of `probes` as label.
fn evidence(obs: &StreamObservation, probes: &[&str]) -> Vec<String> {
    obs.connections
        .iter()
        .filter(|c| probes.contains(&c.probe.as_str()))
        .map(|c| c.connection.clone())
        .collect()
}

fn capped(mut details: Vec<String>, failed: usize) -> Vec<String> {
    if failed > details.len() {
        details.push(format!("… and {} more", failed - details.len()));
    }
    details
}

/// The stream's door: an upgrade without a token, and one with a valid token to a session that
/// does not exist, must both be refused with a 4xx before any frame flows. A socket accepted in
/// either case, or no HTTP answer at all, fails its item.
fn upgrade_refused(obs: &StreamObservation) -> Finding {
    let items = [
        (
            "upgrade without a token",
            obs.no_token_status,
            &obs.no_token_error,
        ),
        (
            "upgrade to a session that does not exist",
            obs.unknown_session_status,
            &obs.unknown_session_error,
        ),
    ];
    let mut passed = 0;
    let mut details = Vec::new();
    for (label, status, error) in items {
        match (status, error) {
            (Some(s), None) if (400..500).contains(&s) => passed += 1,
            (Some(s), _) => details.push(format!("{label}: HTTP {s}, expected a 4xx refusal")),
            (None, Some(e)) => details.push(format!("{label}: {e}")),
            (None, None) => details.push(format!("{label}: no answer")),
        }
    }
    Finding::ratio(UPGRADE_REFUSED, passed, items.len(), "refusals")
        .with_summary(format!(
            "{passed} of {} stream upgrades that must be refused were refused",
            items.len()
        ))
        .with_details(details)
}

fn connect_time(obs: &StreamObservation) -> Finding {
    let Some(p) = connect_latencies(obs).percentiles() else {
        return Finding::not_assessed(CONNECT_TIME, "no connect was attempted");
    };
    let details: Vec<String> = obs
        .connect_failures
        .iter()
        .map(|f| {
            format!(
                "connect failed (counted as the {} ms timeout): {f}",
                obs.connect_timeout.as_millis()
            )
        })
        .collect();
    let summary = format!(
        "{} of {} connects succeeded; handshake p95 {:.1} ms, p50 {:.1} ms",
        obs.connect_times.len(),
        obs.connect_times.len() + obs.connect_failures.len(),
        p.p95,
        p.p50
    );
    p95_finding(CONNECT_TIME, &p, summary)
        .with_details(details)
        .with_evidence(evidence(obs, &[PROBE_CONNECT]))
}

/// Why a pong does not answer its ping correctly (empty: it does).
fn pong_problems(ping: &PingResult, session_id: &str) -> Vec<String> {
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

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(missing)".to_string(), Value::to_string)
}

fn heartbeat(obs: &StreamObservation) -> Finding {
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

fn malformed_handling(obs: &StreamObservation) -> Finding {
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

/// Missed events replayed exactly once and in order; duplicates, re-sent old events and
/// out-of-order replays each cost one.
fn resume_score(r: &ResumeResult) -> (usize, Vec<String>) {
    let missed: BTreeSet<u64> = r.missed_seqs.iter().copied().collect();
    let mut seen = BTreeSet::new();
    let mut in_order = BTreeSet::new();
    let mut highest: Option<u64> = None;
    let mut penalties = 0;
    let mut details = Vec::new();
    for &seq in &r.replayed_seqs {
        if !seen.insert(seq) {
            penalties += 1;
            details.push(format!("seq {seq} replayed more than once"));
            continue;
        }
        if seq <= r.last_seen_seq {
            penalties += 1;
            details.push(format!(
                "seq {seq} replayed although the client had it (resume from {})",
                r.last_seen_seq
            ));
        }
        match highest {
            Some(h) if seq < h => {
                details.push(format!("seq {seq} replayed after seq {h} (out of order)"))
            }
            _ => {
                if missed.contains(&seq) {
                    in_order.insert(seq);
                }
            }
        }
        highest = highest.max(Some(seq));
    }
    let lost: Vec<u64> = missed
        .iter()
        .copied()
        .filter(|s| !seen.contains(s))
        .collect();
    if !lost.is_empty() {
        let list: Vec<String> = lost.iter().take(MAX_DETAILS).map(u64::to_string).collect();
        let more = if lost.len() > MAX_DETAILS {
            format!(" and {} more", lost.len() - MAX_DETAILS)
        } else {
            String::new()
        };
        details.push(format!("never replayed: seq {}{more}", list.join(", ")));
    }
    (in_order.len().saturating_sub(penalties), details)
}

fn resume_no_loss(obs: &StreamObservation) -> Finding {
    let Some(r) = &obs.resume else {
        let reason = obs
            .skipped_reason("resume")
            .unwrap_or("the resume step did not run");
        return Finding::not_assessed(RESUME_NO_LOSS, reason);
    };
    if r.missed_seqs.is_empty() {
        let reason = r
            .error
            .as_deref()
            .unwrap_or("no event was produced while the client was away");
        return Finding::not_assessed(RESUME_NO_LOSS, reason);
    }
    let (passed, mut details) = resume_score(r);
    if let Some(e) = &r.error {
        details.push(e.clone());
    }
    let total = r.missed_seqs.len();
    let mut evidence = evidence(obs, &[PROBE_LIVE, PROBE_RESUME]);
    evidence.extend(r.switch_exchange.clone());
    Finding::ratio(RESUME_NO_LOSS, passed, total, "missed events")
        .with_summary(format!(
            "{passed} of {total} events missed after seq {} replayed once, in order",
            r.last_seen_seq
        ))
        .with_details(details)
        .with_evidence(evidence)
}

fn reconnect_time(obs: &StreamObservation) -> Finding {
    let (d, replayed) = match reconnect_value(obs) {
        Ok(v) => v,
        Err(reason) => return Finding::not_assessed(RECONNECT_TIME, &reason),
    };
    let value = ms(d);
    let mut evidence = evidence(obs, &[PROBE_RESUME]);
    evidence.extend(obs.resume.as_ref().and_then(|r| r.switch_exchange.clone()));
    let finding = if replayed {
        Finding::millis(
            RECONNECT_TIME,
            value,
            format!("first replayed event {value:.1} ms after the reconnect began"),
        )
    } else {
        Finding::millis(
            RECONNECT_TIME,
            value,
            format!("nothing was replayed within {value:.0} ms (counted as the wait)"),
        )
        .with_details(vec![format!(
            "no event replayed within {value:.0} ms of reconnecting"
        )])
    };
    finding.with_evidence(evidence)
}

fn event_latency(obs: &StreamObservation) -> Finding {
    let histogram = event_latencies(obs);
    let Some(p) = histogram.percentiles() else {
        let reason = obs
            .skipped_reason("latency")
            .unwrap_or("no latency sample was taken");
        return Finding::not_assessed(EVENT_LATENCY, reason);
    };
    let wait_ms = ms(obs.step_wait);
    let missing: Vec<usize> = obs
        .latencies
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_none())
        .map(|(i, _)| i)
        .collect();
    let total = obs.latencies.len();
    let mut details: Vec<String> = missing
        .iter()
        .take(MAX_DETAILS)
        .map(|i| {
            format!(
                "text lat-{i}: no transcript within {wait_ms:.0} ms (counted as {wait_ms:.0} ms)"
            )
        })
        .collect();
    details = capped(details, missing.len());
    let evidence = evidence(obs, &[PROBE_LIVE]);
    if missing.len() * 2 > total {
        let summary = format!(
            "{} of {total} transcripts never arrived within {wait_ms:.0} ms",
            missing.len()
        );
        let mut f = Finding::millis(EVENT_LATENCY, wait_ms, summary);
        f.outcome = Outcome::Measured {
            value: wait_ms,
            display: format!(
                "timeout {wait_ms:.0} ms ({} of {total} missing)",
                missing.len()
            ),
        };
        return f.with_details(details).with_evidence(evidence);
    }
    let summary = format!(
        "text → transcript p95 {:.1} ms, p50 {:.1} ms over {total} texts ({} missing)",
        p.p95,
        p.p50,
        missing.len()
    );
    p95_finding(EVENT_LATENCY, &p, summary)
        .with_details(details)
        .with_evidence(evidence)
}

fn throughput(obs: &StreamObservation) -> Finding {
    let (Some(t), Some(rate)) = (&obs.throughput, throughput_rate(obs)) else {
        let reason = obs
            .skipped_reason("throughput")
            .unwrap_or("no text could be sent for the throughput test");
        return Finding::not_assessed(THROUGHPUT, reason);
    };
    let mut details = Vec::new();
    if t.events_received < t.events_expected {
        details.push(format!(
            "{} of {} expected events arrived within {:.0} ms",
            t.events_received,
            t.events_expected,
            ms(t.elapsed)
        ));
    }
    if let Some(e) = &t.send_error {
        details.push(format!("sending stopped after {} texts: {e}", t.texts_sent));
    }
    let summary = format!(
        "{} events for {} texts sent back to back in {:.0} ms",
        t.events_received,
        t.texts_sent,
        ms(t.elapsed)
    );
    Finding::rate(THROUGHPUT, rate, summary)
        .with_details(details)
        .with_evidence(evidence(obs, &[PROBE_THROUGHPUT]))
}

/// A short, printable form of a received frame for details.
fn excerpt(raw: &str) -> String {
    let short: String = raw.chars().take(80).collect();
    if short.len() < raw.len() {
        format!("{short}…")
    } else {
        short
    }
}

fn event_schema(connections: &[ConnectionLog], contract: &WsContract) -> Finding {
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
fn ordering_of(conn: &ConnectionLog) -> (usize, Vec<(usize, String)>) {
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

fn ordering(connections: &[ConnectionLog]) -> Finding {
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
    use crate::contract::{self, WsContract};
    use crate::probe::stream::{MalformedResult, ThroughputResult};
    use crate::probe::ws::Received;
    use serde_json::json;
    use std::time::Instant;

    const SID: &str = "7d0f0a4e-4b8a-4a55-9b9e-0d7b4c9f1c11";

    fn contract() -> WsContract {
        WsContract::parse(contract::BUNDLED_ASYNCAPI, "bundled").expect("bundled contract")
    }

    fn msg(value: Value) -> Received {
        Received::new(
            Instant::now(),
            value.to_string(),
            &crate::binding::reference_envelope(),
        )
    }

    fn envelope(kind: &str, seq: u64) -> Value {
        json!({"type": kind, "seq": seq, "timestamp": "2026-01-01T00:00:00Z", "session_id": SID})
    }

    fn transcript(seq: u64) -> Received {
        let mut v = envelope("transcript", seq);
        v["provider"] = json!("gemini");
        v["speaker"] = json!("agent");
        v["text"] = json!("hi");
        v["is_final"] = json!(true);
        msg(v)
    }

    fn insight(seq: u64, confidence: Value) -> Received {
        let mut v = envelope("insight", seq);
        v["provider"] = json!("gemini");
        v["insight_type"] = json!("sentiment");
        v["content"] = json!("positive");
        v["confidence"] = confidence;
        msg(v)
    }

    fn pong_value(seq: u64, echo: Value, session_id: &str) -> Value {
        let mut v = envelope("pong", seq);
        v["server_timestamp"] = json!(1_767_225_600_000_i64);
        v["client_timestamp"] = echo;
        v["session_id"] = json!(session_id);
        v
    }

    fn conn(messages: Vec<Received>) -> ConnectionLog {
        ConnectionLog {
            connection: "ws-001".into(),
            probe: PROBE_LIVE.into(),
            messages,
            close_code: None,
        }
    }

    fn good() -> StreamObservation {
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
                    error_event: Some(envelope("error", 3)),
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

    fn measured(f: &Finding) -> f64 {
        match &f.outcome {
            Outcome::Measured { value, .. } => *value,
            Outcome::NotAssessed { reason } => panic!("{} not assessed: {reason}", f.check_id),
            Outcome::Failed { reason } => panic!("{} failed: {reason}", f.check_id),
        }
    }

    fn assessed(f: &Finding) -> bool {
        matches!(f.outcome, Outcome::Measured { .. })
    }

    #[test]
    fn upgrades_that_must_be_refused_fail_when_accepted() {
        let mut obs = good();
        obs.no_token_status = None;
        obs.no_token_error = Some("the upgrade was accepted without a token".into());
        let f = upgrade_refused(&obs);
        assert_eq!(measured(&f), 0.5);
        assert!(f.details[0].contains("without a token"), "{:?}", f.details);
        obs.unknown_session_status = Some(200);
        assert_eq!(measured(&upgrade_refused(&obs)), 0.0);
    }

    #[test]
    fn good_observations_pass_every_check() {
        let obs = good();
        let connections = vec![conn(vec![
            transcript(1),
            insight(2, json!(0.9)),
            msg(pong_value(2, json!(1), SID)),
            transcript(3),
        ])];
        let found = findings(Some(&Ok(obs)), &connections, &contract());
        let ids: Vec<&str> = found.iter().map(|f| f.check_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                CONNECT_TIME,
                HEARTBEAT,
                RESUME_NO_LOSS,
                RECONNECT_TIME,
                EVENT_SCHEMA,
                ORDERING,
                EVENT_LATENCY,
                THROUGHPUT,
                MALFORMED_HANDLING,
                UPGRADE_REFUSED
            ]
        );
        for f in &found {
            assert!(f.details.is_empty(), "{}: {:?}", f.check_id, f.details);
        }
        let by = |id: &str| measured(found.iter().find(|f| f.check_id == id).expect(id));
        for id in [
            HEARTBEAT,
            RESUME_NO_LOSS,
            EVENT_SCHEMA,
            ORDERING,
            MALFORMED_HANDLING,
            UPGRADE_REFUSED,
        ] {
            assert_eq!(by(id), 1.0, "{id}");
        }
        assert!((by(CONNECT_TIME) - 10.0).abs() < 0.1);
        assert!((by(EVENT_LATENCY) - 19.0).abs() < 0.1);
        assert!((by(RECONNECT_TIME) - 12.0).abs() < 0.1);
        assert!((by(THROUGHPUT) - 2000.0).abs() < 1.0);
        let f = connect_time(&good());
        assert!(
            matches!(&f.outcome, Outcome::Measured { display, .. } if display == "p95 10.0 ms (p50 5.0, n=10)")
        );
    }

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
        let garbage = Received::new(
            Instant::now(),
            "<html>oops</html>".into(),
            &crate::binding::reference_envelope(),
        );
        let connections = vec![conn(vec![
            transcript(1),
            insight(2, json!("0.9")),
            garbage,
            msg(json!({"type": "mystery", "seq": 3})),
        ])];
        let f = event_schema(&connections, &contract());
        assert_eq!(measured(&f), 0.25);
        assert_eq!(f.details.len(), 3, "{:?}", f.details);
        assert!(f.details[1].contains("not JSON"));
        assert_eq!(f.evidence, vec!["ws-001".to_string()]);
        assert!(!assessed(&event_schema(&[], &contract())));
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

    #[test]
    fn resume_counts_losses_duplicates_and_disorder() {
        let cases: [(Vec<u64>, f64, &str); 5] = [
            (vec![], 0.0, "never replayed: seq 5, 6, 7"),
            (vec![5, 7], 2.0 / 3.0, "never replayed: seq 6"),
            (vec![5, 6, 6, 7], 2.0 / 3.0, "more than once"),
            (vec![5, 7, 6], 2.0 / 3.0, "out of order"),
            (vec![4, 5, 6, 7], 2.0 / 3.0, "although the client had it"),
        ];
        for (replayed, expected, why) in cases {
            let mut obs = good();
            if let Some(r) = obs.resume.as_mut() {
                r.reconnect_to_first = (!replayed.is_empty()).then_some(Duration::from_millis(5));
                r.replayed_seqs = replayed;
            }
            let f = resume_no_loss(&obs);
            assert!((measured(&f) - expected).abs() < 1e-9, "{why}: {f:?}");
            assert!(
                f.details.iter().any(|d| d.contains(why)),
                "{why}: {:?}",
                f.details
            );
        }
        // Nothing replayed: the reconnect time is the whole wait.
        let mut obs = good();
        if let Some(r) = obs.resume.as_mut() {
            r.replayed_seqs.clear();
            r.reconnect_to_first = None;
        }
        assert_eq!(measured(&reconnect_time(&obs)), 3000.0);
        // No resume at all: both resume checks are not assessed, with the reason.
        obs.resume = None;
        obs.skipped
            .push(("resume".into(), "connecting failed: HTTP 500".into()));
        for f in [resume_no_loss(&obs), reconnect_time(&obs)] {
            assert_eq!(
                f.outcome,
                Outcome::NotAssessed {
                    reason: "connecting failed: HTTP 500".into()
                }
            );
        }
    }

    #[test]
    fn latency_and_connect_time_count_losses_as_the_timeout() {
        let mut obs = good();
        // 2 of 20 missing: p95 reaches the 2 s wait.
        obs.latencies[3] = None;
        obs.latencies[7] = None;
        let f = event_latency(&obs);
        assert!((measured(&f) - 2000.0).abs() < 2.0, "{f:?}");
        assert_eq!(f.details.len(), 2);
        // Slow but complete: the value is the measured p95 (partial credit in scoring).
        let mut slow = good();
        slow.latencies = (0..20)
            .map(|i| Some(Duration::from_millis(300 + i)))
            .collect();
        assert!((measured(&event_latency(&slow)) - 318.0).abs() < 0.5);
        // More than half missing: the value is the timeout itself.
        slow.latencies = vec![Some(Duration::from_millis(5)), None, None];
        let f = event_latency(&slow);
        assert_eq!(measured(&f), 2000.0);
        assert!(
            matches!(&f.outcome, Outcome::Measured { display, .. } if display.contains("2 of 3 missing"))
        );
        // A refused connect counts as the handshake timeout.
        let mut obs = good();
        obs.connect_failures = vec!["upgrade refused with HTTP 503".into(); 2];
        let f = connect_time(&obs);
        assert!(measured(&f) > 9000.0, "{f:?}");
        assert_eq!(f.details.len(), 2);
    }

    #[test]
    fn throughput_is_events_per_second_and_flags_losses() {
        let mut obs = good();
        obs.throughput = Some(ThroughputResult {
            texts_sent: 100,
            events_expected: 200,
            events_received: 50,
            elapsed: Duration::from_secs(10),
            send_error: None,
        });
        let f = throughput(&obs);
        assert_eq!(measured(&f), 5.0);
        assert_eq!(f.details.len(), 1);
        obs.throughput = None;
        assert!(!assessed(&throughput(&obs)));
    }

    #[test]
    fn a_failed_or_missing_probe_leaves_stream_checks_not_assessed() {
        let connections = vec![conn(vec![transcript(1)])];
        let failed: Result<StreamObservation, String> =
            Err("creating a session failed (HTTP 500)".into());
        for stream in [Some(&failed), None] {
            let found = findings(stream, &connections, &contract());
            for f in &found {
                let shared = f.check_id == EVENT_SCHEMA || f.check_id == ORDERING;
                assert_eq!(assessed(f), shared, "{}", f.check_id);
            }
        }
        let found = findings(Some(&failed), &connections, &contract());
        assert!(found[0].summary.contains("creating a session failed"));
    }

    #[test]
    fn metrics_read_the_same_figures() {
        let m = metrics(&good());
        assert_eq!(m.connect_ms.as_ref().map(|p| p.count), Some(10));
        assert_eq!(m.event_latency_ms.as_ref().map(|p| p.count), Some(20));
        assert_eq!(m.throughput_msg_s, Some(2000.0));
        assert!(m.reconnect_ms.is_some_and(|p| (p.p95 - 12.0).abs() < 0.1));
    }
}
