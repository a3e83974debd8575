//! Checks of the WebSocket stream: turn the stream probe's observation and every recorded
//! connection into the nine `ws.*` findings of the profile.
//!
//! Schema and ordering are judged on every connection of the audit (not only the stream probe's),
//! because any event the server sends must honour the contract. The rest judges the stream
//! probe's own steps. Latency values come from HDR histograms (`stats::Latencies`); a sample
//! that never arrived is recorded as the wait it exhausted, so losses push the percentiles up
//! instead of silently shrinking the sample. `metrics` reads the very same histograms, so the
//! report's metrics and the findings cannot disagree.

mod connect;
mod delivery;
#[cfg(test)]
mod fixtures;
mod heartbeat;
mod resume;
mod schema;

use super::{Finding, Outcome};
use crate::contract::WsContract;
use crate::model::Percentiles;
use crate::probe::stream::StreamObservation;
use crate::probe::ws::ConnectionLog;
use crate::stats::Latencies;
use connect::{connect_latencies, connect_time, upgrade_refused};
use delivery::{event_latencies, event_latency, throughput, throughput_rate};
use heartbeat::{heartbeat, malformed_handling};
use resume::{reconnect_time, reconnect_value, resume_no_loss};
use schema::{event_schema, ordering};
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

/// A short, printable form of a received frame for details.
fn excerpt(raw: &str) -> String {
    let short: String = raw.chars().take(80).collect();
    if short.len() < raw.len() {
        format!("{short}…")
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixtures::*;
    use serde_json::json;

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
