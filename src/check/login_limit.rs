//! Judges the failed-login budget: repeated wrong passwords must end in 429 with
//! `Retry-After`, and a changed `X-Forwarded-For` must not buy a fresh budget. Three promises,
//! scored as a share; when no 429 ever came the other two cannot hold either.

use super::Finding;
use crate::probe::client::Reply;
use crate::probe::security::{LOGIN_ATTEMPTS, LoginLimitObservation};

fn retry_after(reply: &Reply) -> Option<&str> {
    reply
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

pub fn finding(id: &str, obs: &Result<LoginLimitObservation, String>) -> Finding {
    let obs = match obs {
        Ok(o) => o,
        Err(reason) => return Finding::not_assessed(id, reason),
    };
    let answered = obs.attempts.iter().filter(|r| r.status.is_some()).count();
    if answered == 0 {
        return Finding::failed(id, "no sign-in attempt got an answer");
    }
    let mut evidence: Vec<String> = obs.attempts.iter().map(|r| r.exchange_id.clone()).collect();
    let Some(limited) = obs.limited() else {
        let last = obs
            .attempts
            .last()
            .and_then(|r| r.status)
            .map_or("no answer".to_string(), |s| format!("HTTP {s}"));
        return Finding::ratio(id, 0, 3, "rate-limit promises")
            .with_summary(format!(
                "{} wrong passwords for one account were all answered without 429 (the last: {last}): passwords can be guessed at full speed",
                obs.attempts.len().min(LOGIN_ATTEMPTS)
            ))
            .with_details(vec![format!(
                "no 429 within {LOGIN_ATTEMPTS} failed sign-ins; exchanges {} … {}",
                obs.attempts.first().map_or("", |r| r.exchange_id.as_str()),
                obs.attempts.last().map_or("", |r| r.exchange_id.as_str())
            )])
            .with_evidence(evidence);
    };
    let mut details = Vec::new();
    let has_retry = retry_after(limited).is_some();
    if !has_retry {
        details.push(format!(
            "the 429 ({}) has no `Retry-After`",
            limited.exchange_id
        ));
    }
    let spoof_held = match &obs.spoofed {
        Some(r) => {
            evidence.push(r.exchange_id.clone());
            if r.status == Some(429) {
                true
            } else {
                details.push(format!(
                    "with a new `X-Forwarded-For` the next wrong password got {} ({}): a client-sent header resets the budget",
                    r.status.map_or("no answer".to_string(), |s| format!("HTTP {s}")),
                    r.exchange_id
                ));
                false
            }
        }
        None => false,
    };
    let passed = 1 + usize::from(has_retry) + usize::from(spoof_held);
    Finding::ratio(id, passed, 3, "rate-limit promises")
        .with_summary(format!(
            "429 after {} wrong passwords{}; a changed X-Forwarded-For {}",
            obs.attempts.len() - 1,
            if has_retry {
                " with Retry-After"
            } else {
                " but without Retry-After"
            },
            if spoof_held {
                "is still refused"
            } else {
                "gets a fresh budget"
            }
        ))
        .with_details(details)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn reply(status: u16, retry: bool) -> Reply {
        Reply {
            exchange_id: format!("x{status}"),
            status: Some(status),
            body: String::new(),
            elapsed: Duration::ZERO,
            error: None,
            headers: if retry {
                vec![("retry-after".into(), "300".into())]
            } else {
                vec![]
            },
        }
    }

    fn credit(f: &Finding) -> f64 {
        match f.outcome {
            crate::check::Outcome::Measured { value, .. } => value,
            _ => -1.0,
        }
    }

    #[test]
    fn all_three_promises_must_hold() {
        let mut attempts = vec![reply(401, false); 10];
        attempts.push(reply(429, true));
        let good = LoginLimitObservation {
            attempts: attempts.clone(),
            spoofed: Some(reply(429, true)),
        };
        assert_eq!(credit(&finding("x", &Ok(good))), 1.0);

        let spoofable = LoginLimitObservation {
            attempts,
            spoofed: Some(reply(401, false)),
        };
        let f = finding("x", &Ok(spoofable));
        assert!((credit(&f) - 2.0 / 3.0).abs() < 1e-9);
        assert!(f.details[0].contains("X-Forwarded-For"), "{:?}", f.details);

        let unlimited = LoginLimitObservation {
            attempts: vec![reply(401, false); LOGIN_ATTEMPTS],
            spoofed: None,
        };
        let f = finding("x", &Ok(unlimited));
        assert_eq!(credit(&f), 0.0);
        assert!(f.summary.contains("without 429"), "{}", f.summary);

        let f = finding("x", &Err("no throwaway account".into()));
        assert!(matches!(
            f.outcome,
            crate::check::Outcome::NotAssessed { .. }
        ));
    }
}
