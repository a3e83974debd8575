//! Reconnection: the events missed while away replayed exactly once and in order after a
//! resume, and how long the first replayed event took.

use super::{Finding, MAX_DETAILS, RECONNECT_TIME, RESUME_NO_LOSS, evidence, ms};
use crate::probe::stream::{PROBE_LIVE, PROBE_RESUME, ResumeResult, StreamObservation};
use std::collections::BTreeSet;
use std::time::Duration;

/// The reconnect time and whether anything was replayed; `Err(reason)` when not measurable.
pub(super) fn reconnect_value(obs: &StreamObservation) -> Result<(Duration, bool), String> {
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

/// Missed events replayed exactly once and in order; duplicates, re-sent old events and
/// out-of-order replays each cost one.
pub(super) fn resume_score(r: &ResumeResult) -> (usize, Vec<String>) {
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

pub(super) fn resume_no_loss(obs: &StreamObservation) -> Finding {
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

pub(super) fn reconnect_time(obs: &StreamObservation) -> Finding {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::check::stream::fixtures::*;

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
}
