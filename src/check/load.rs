//! `perf.load`: does the backend keep answering under load? The measured value is the share of
//! load requests answered (2xx–4xx: a refusal such as a 429 is an answer) within the timeout;
//! 5xx, transport failures and timeouts count against it. A server whose `/health` no longer
//! answers after the load fails the check outright, whatever the share: a collapse is scored
//! as one, never hidden behind a latency figure. Each step's figures are listed so the report
//! shows where the service bent.

use super::{Finding, Outcome};
use crate::probe::load::{LoadObservation, StepResult};

pub const ID: &str = "perf.load";

pub fn finding(obs: Option<&Result<LoadObservation, String>>) -> Finding {
    let o = match obs {
        None => return Finding::not_assessed(ID, "no load phase was requested (--load)"),
        Some(Err(reason)) => return Finding::not_assessed(ID, reason),
        Some(Ok(o)) => o,
    };
    let mut details: Vec<String> = o.steps.iter().map(line).collect();
    details.extend(
        o.skipped
            .iter()
            .map(|(role, why)| format!("role {} not driven: {why}", role.name())),
    );
    let sent: u64 = o.steps.iter().map(|s| s.sent).sum();
    let answered: u64 = o.steps.iter().map(StepResult::answered).sum();
    let failed = sent - answered;
    let peak = o
        .steps
        .iter()
        .max_by(|a, b| a.throughput().total_cmp(&b.throughput()))
        .map(|s| {
            format!(
                "; peak {:.0} req/s ({} at {})",
                s.throughput(),
                s.role.name(),
                s.step
            )
        })
        .unwrap_or_default();
    let h = &o.health_after;
    let health_ok = h.status.is_some_and(|s| s < 500);
    let health = match (h.status, &h.error) {
        (Some(s), _) => format!("/health answered {s} after the load"),
        (None, Some(e)) => format!("/health did not answer after the load ({e})"),
        (None, None) => "/health did not answer after the load".to_string(),
    };
    details.push(format!("{health} in {} ms", h.elapsed.as_millis()));
    if !health_ok {
        return Finding::failed(ID, &format!("the server collapsed: {health}"))
            .with_details(details);
    }
    let f = Finding::ratio(ID, answered as usize, sent as usize, "load requests");
    let share = match f.outcome {
        Outcome::Measured { value, .. } => value,
        _ => return f.with_details(details),
    };
    f.with_summary(format!(
        "{answered} of {sent} load requests answered ({:.2} %), {failed} errors or timeouts{peak}; {health}",
        share * 100.0
    ))
    .with_details(details)
}

fn line(s: &StepResult) -> String {
    let pct = |n: u64| n as f64 * 100.0 / (s.sent.max(1)) as f64;
    format!(
        "{} at {}: {:.0} req/s over {:.1} s ({} sent); p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; errors {} ({:.1} %), timeouts {} ({:.1} %), refused (4xx) {}",
        s.role.name(),
        s.step,
        s.throughput(),
        s.elapsed.as_secs_f64(),
        s.sent,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.max_ms,
        s.errors,
        pct(s.errors),
        s.timeouts,
        pct(s.timeouts),
        s.refused
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::load::{HealthAfter, LoadRole, LoadStep};
    use std::time::Duration;

    fn step(ok: u64, errors: u64, timeouts: u64) -> StepResult {
        StepResult {
            role: LoadRole::Health,
            step: LoadStep::Concurrency(8),
            elapsed: Duration::from_secs(1),
            sent: ok + errors + timeouts,
            ok,
            refused: 0,
            errors,
            timeouts,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: 3.0,
            max_ms: 4.0,
        }
    }

    fn obs(steps: Vec<StepResult>, status: Option<u16>) -> LoadObservation {
        LoadObservation {
            steps,
            skipped: Vec::new(),
            health_after: HealthAfter {
                status,
                error: status.is_none().then(|| "timed out".to_string()),
                elapsed: Duration::from_millis(3),
            },
        }
    }

    #[test]
    fn errors_and_timeouts_lower_the_share() {
        let f = finding(Some(&Ok(obs(vec![step(90, 5, 5)], Some(200)))));
        assert!(matches!(f.outcome, Outcome::Measured { value, .. } if (value - 0.9).abs() < 1e-9));
        assert!(f.details[0].contains("timeouts 5"), "{:?}", f.details);
    }

    #[test]
    fn a_silent_health_endpoint_after_the_load_fails_the_check() {
        let f = finding(Some(&Ok(obs(vec![step(100, 0, 0)], None))));
        assert!(matches!(f.outcome, Outcome::Failed { .. }), "{f:?}");
        assert!(f.summary.contains("collapsed"));
    }

    #[test]
    fn no_load_phase_is_not_assessed() {
        assert!(matches!(finding(None).outcome, Outcome::NotAssessed { .. }));
    }
}
