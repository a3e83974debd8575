//! Availability: every request the audit sent must get an answer. A timeout or a reset is a
//! finding of its own, listed request by request, and never evidence about authentication or
//! schemas (the contract and auth checks leave such exchanges out). A walk cut short by its
//! budget is reported here too, with the operations it did not reach.

use super::Finding;
use crate::evidence::{Exchange, Purpose};
use crate::probe::walk::WalkObservation;

/// At most this many unanswered requests are listed one by one.
const LISTED: usize = 40;

pub fn finding(exchanges: &[Exchange], walk: &WalkObservation) -> Finding {
    let id = "errors.availability";
    // The polls while a restarted target comes back are expected to go unanswered.
    let waiting = |e: &&Exchange| matches!(&e.purpose, Purpose::Scenario(s) if s == crate::probe::recovery::WAIT_SCENARIO);
    let exchanges: Vec<&Exchange> = exchanges.iter().filter(|e| !waiting(e)).collect();
    let unanswered: Vec<&Exchange> = exchanges
        .iter()
        .copied()
        .filter(|e| e.status.is_none())
        .collect();
    let total = exchanges.len();
    let answered = total - unanswered.len();
    let mut details: Vec<String> = unanswered
        .iter()
        .take(LISTED)
        .map(|e| {
            format!(
                "{} {}: {} after {} ms ({})",
                e.method,
                e.path,
                e.error.as_deref().unwrap_or("no answer"),
                e.elapsed.as_millis(),
                e.id
            )
        })
        .collect();
    if unanswered.len() > LISTED {
        details.push(format!(
            "… and {} more unanswered requests",
            unanswered.len() - LISTED
        ));
    }
    if walk.budget_exhausted {
        let not_reached = walk
            .skipped
            .iter()
            .filter(|(_, why)| why.contains("budget"))
            .count();
        details.push(format!(
            "the contract walk ran out of its budget after {:.1} s; {not_reached} operations were not reached",
            walk.elapsed.as_secs_f64()
        ));
    }
    let evidence = unanswered
        .iter()
        .take(LISTED)
        .map(|e| e.id.clone())
        .collect();
    Finding::ratio(id, answered, total, "requests")
        .with_summary(format!(
            "{answered} of {total} requests got an answer; {} timed out or were cut",
            unanswered.len()
        ))
        .with_details(details)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::evidence::Purpose;
    use std::time::Duration;

    fn exchange(id: &str, status: Option<u16>) -> Exchange {
        Exchange {
            id: id.into(),
            purpose: Purpose::Valid,
            operation_id: None,
            method: "GET".into(),
            url: "http://x/a".into(),
            path: "/a".into(),
            request_headers: Vec::new(),
            request_body: None,
            status,
            response_headers: Vec::new(),
            content_type: None,
            response_body: None,
            started_at: chrono::Utc::now(),
            elapsed: Duration::from_millis(5),
            error: status.is_none().then(|| "timed out".to_string()),
        }
    }

    #[test]
    fn unanswered_requests_are_listed_and_lower_the_share() {
        let ex = [exchange("h1", Some(200)), exchange("h2", None)];
        let f = finding(&ex, &WalkObservation::default());
        assert!(matches!(f.outcome, Outcome::Measured { value, .. } if (value - 0.5).abs() < 1e-9));
        assert_eq!(f.evidence, vec!["h2".to_string()]);
        assert!(f.details[0].contains("timed out"), "{:?}", f.details);
    }

    #[test]
    fn every_answer_passes() {
        let f = finding(&[exchange("h1", Some(500))], &WalkObservation::default());
        assert!(matches!(f.outcome, Outcome::Measured { value, .. } if (value - 1.0).abs() < 1e-9));
        assert!(f.details.is_empty());
    }
}
