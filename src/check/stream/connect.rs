//! The stream's door: the handshake time of repeated connects, and upgrades that must be
//! refused (no token, a session that does not exist).

use super::{CONNECT_TIME, Finding, UPGRADE_REFUSED, evidence, p95_finding};
use crate::probe::stream::{PROBE_CONNECT, StreamObservation};
use crate::stats::Latencies;

pub(super) fn connect_latencies(obs: &StreamObservation) -> Latencies {
    let mut l = Latencies::new();
    obs.connect_times.iter().for_each(|d| l.record(*d));
    obs.connect_failures
        .iter()
        .for_each(|_| l.record(obs.connect_timeout));
    l
}

/// The stream's door: an upgrade without a token, and one with a valid token to a session that
/// does not exist, must both be refused with a 4xx before any frame flows. A socket accepted in
/// either case, or no HTTP answer at all, fails its item.
pub(super) fn upgrade_refused(obs: &StreamObservation) -> Finding {
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

pub(super) fn connect_time(obs: &StreamObservation) -> Finding {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::stream::fixtures::*;

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
        // The refusal is judged once, here: the connect time says nothing about it.
        assert_eq!(connect_time(&obs).details, Vec::<String>::new());
    }
}
