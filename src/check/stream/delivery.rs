//! Delivery: text → transcript latency (losses counted as the wait) and events per second for
//! texts sent back to back.

use super::{
    EVENT_LATENCY, Finding, MAX_DETAILS, Outcome, THROUGHPUT, capped, evidence, ms, p95_finding,
};
use crate::probe::stream::{PROBE_LIVE, PROBE_THROUGHPUT, StreamObservation};
use crate::stats::Latencies;

pub(super) fn event_latencies(obs: &StreamObservation) -> Latencies {
    let mut l = Latencies::new();
    obs.latencies
        .iter()
        .for_each(|d| l.record(d.unwrap_or(obs.step_wait)));
    l
}

pub(super) fn throughput_rate(obs: &StreamObservation) -> Option<f64> {
    let t = obs.throughput.as_ref().filter(|t| t.texts_sent > 0)?;
    Some(t.events_received as f64 / t.elapsed.as_secs_f64().max(1e-6))
}

pub(super) fn event_latency(obs: &StreamObservation) -> Finding {
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

pub(super) fn throughput(obs: &StreamObservation) -> Finding {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::stream::connect::connect_time;
    use crate::check::stream::fixtures::*;
    use crate::probe::stream::ThroughputResult;
    use std::time::Duration;

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
}
