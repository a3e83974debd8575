//! Authentication checks: the token lifecycle, how fast a revoked token stops working on REST
//! and on an open stream, and whether one user can reach another user's resources.
//!
//! Object-level authorization is one promise, so it is one check: `auth.cross_user_isolation`
//! counts both the session scenario's attempts and the contract walk's (every operation with a
//! path id, called with a second user's token on the audit user's resource). Attempts that got
//! no answer are not evidence either way and are left out (see `errors.availability`).

use super::Finding;
use crate::probe::revocation::{AuthObservation, CrossUserAttempt, RevocationResult};

pub fn findings(
    obs: Option<&Result<AuthObservation, String>>,
    walk_cross_user: Option<&[CrossUserAttempt]>,
) -> Vec<Finding> {
    let obs = match obs {
        Some(Ok(o)) => o,
        Some(Err(reason)) => {
            return [
                "auth.token_lifecycle",
                "auth.revocation_rest",
                "auth.revocation_ws",
                "auth.cross_user_isolation",
            ]
            .iter()
            .map(|id| Finding::not_assessed(id, reason))
            .collect();
        }
        None => {
            return findings(
                Some(&Err("the authentication scenarios did not run".to_string())),
                walk_cross_user,
            );
        }
    };
    let mut out = vec![lifecycle(obs)];
    out.extend(revocation(obs));
    out.push(cross_user(obs, walk_cross_user));
    out
}

fn lifecycle(obs: &AuthObservation) -> Finding {
    let id = "auth.token_lifecycle";
    let steps = match &obs.lifecycle {
        Some(Ok(steps)) => steps,
        Some(Err(reason)) => return Finding::not_assessed(id, reason),
        None => {
            return Finding::not_assessed(
                id,
                "rotation and reuse detection revoke a user's tokens, so they need a throwaway user (registration disabled)",
            );
        }
    };
    let mut passed = 0;
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    for (i, (label, reply)) in steps.iter().enumerate() {
        // The first four steps expect success, the rest a refusal with 401.
        let ok = if i < 4 {
            reply.is_success()
        } else {
            reply.status == Some(401)
        };
        if ok {
            passed += 1;
        } else {
            details.push(format!(
                "{label}: got {:?} ({})",
                reply.status, reply.exchange_id
            ));
            evidence.push(reply.exchange_id.clone());
        }
    }
    Finding::ratio(id, passed, steps.len(), "lifecycle steps")
        .with_details(details)
        .with_evidence(evidence)
}

fn revocation(obs: &AuthObservation) -> [Finding; 2] {
    let (rest_id, ws_id) = ("auth.revocation_rest", "auth.revocation_ws");
    let r = match &obs.revocation {
        Some(Ok(r)) => r,
        Some(Err(reason)) => {
            return [
                Finding::not_assessed(rest_id, reason),
                Finding::not_assessed(ws_id, reason),
            ];
        }
        None => {
            let reason = "the revocation scenario did not run";
            return [
                Finding::not_assessed(rest_id, reason),
                Finding::not_assessed(ws_id, reason),
            ];
        }
    };
    let waited_ms = r.waited.as_secs_f64() * 1000.0;
    let logout_ok = r.logout.is_success();
    let evidence = vec![r.logout.exchange_id.clone()];
    let rest = match r.rest_rejected_after {
        Some(d) if logout_ok => {
            let ms = d.as_secs_f64() * 1000.0;
            Finding::millis(
                rest_id,
                ms,
                format!(
                    "the token was rejected {ms:.1} ms after logout answered (rejected on poll {})",
                    r.rest_polls
                ),
            )
        }
        _ => Finding::millis(
            rest_id,
            waited_ms,
            format!(
                "the token still worked {waited_ms:.0} ms after logout ({} polls)",
                r.rest_polls
            ),
        )
        .with_details(vec![format!(
            "logout answered {:?} ({})",
            r.logout.status, r.logout.exchange_id
        )]),
    }
    .with_evidence(evidence.clone());
    let ws = revocation_ws(ws_id, r, logout_ok, waited_ms).with_evidence(evidence);
    [rest, ws]
}

/// Revocation on the stream counts only for a socket shown alive before logout and then closed
/// with a close code the contract documents for revocation; any other close is a stream failure.
fn revocation_ws(id: &str, r: &RevocationResult, logout_ok: bool, waited_ms: f64) -> Finding {
    let codes = r
        .revocation_codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let code_text = |c: Option<u16>| c.map_or("none".to_string(), |c| c.to_string());
    if let Some(code) = r.ws_closed_before_logout {
        return Finding::failed(
            id,
            &format!(
                "the stream closed before logout (close code {}), so no revocation could be shown: a stream failure",
                code_text(code)
            ),
        );
    }
    if !r.ws_alive {
        return Finding::failed(
            id,
            "the stream never answered a ping or a text after connecting, so its close after logout could not show a revocation",
        );
    }
    if r.revocation_codes.is_empty() {
        return Finding::failed(
            id,
            "the stream contract documents no revocation close code (x-close-codes), so no close can be told apart from a failure",
        );
    }
    match (r.ws_closed_after, r.ws_close_code) {
        (Some(d), Some(code)) if logout_ok && r.revocation_codes.contains(&code) => {
            let ms = d.as_secs_f64() * 1000.0;
            Finding::millis(
                id,
                ms,
                format!("the open stream was closed {ms:.1} ms after logout (close code {code})"),
            )
        }
        (Some(_), code) if logout_ok => Finding::failed(
            id,
            &format!(
                "after logout the stream closed with code {}, not a documented revocation code ({codes}): a stream failure, not a revocation",
                code_text(code)
            ),
        ),
        _ => Finding::millis(
            id,
            waited_ms,
            format!("the stream stayed open {waited_ms:.0} ms after logout"),
        )
        .with_details(
            std::iter::once(format!(
                "logout answered {:?} ({})",
                r.logout.status, r.logout.exchange_id
            ))
            .chain(r.ws_error.iter().cloned())
            .collect(),
        ),
    }
}

fn cross_user(obs: &AuthObservation, walk: Option<&[CrossUserAttempt]>) -> Finding {
    let id = "auth.cross_user_isolation";
    if obs.cross_user.is_none() && walk.is_none() {
        return Finding::not_assessed(
            id,
            "needs a second, throwaway user (registration disabled or refused)",
        );
    }
    let attempts: Vec<&CrossUserAttempt> = obs
        .cross_user
        .iter()
        .flatten()
        .chain(walk.into_iter().flatten())
        .filter(|a| a.status.is_some())
        .collect();
    let mut passed = 0;
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    for a in &attempts {
        let refused = a.status.is_some_and(|s| s == 404 || s == 403);
        if refused && !a.leaked {
            passed += 1;
        } else {
            details.push(format!(
                "{}: status {:?}, other user's session visible: {}",
                a.label, a.status, a.leaked
            ));
            evidence.extend(a.exchange_id.clone());
        }
    }
    Finding::ratio(id, passed, attempts.len(), "cross-user attempts")
        .with_summary(format!(
            "{passed} of {} attempts on another user's resources were refused without data",
            attempts.len()
        ))
        .with_details(details)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::finding::Outcome;
    use crate::probe::client::Reply;
    use std::time::Duration;

    /// A logout that succeeded, a stream shown alive, closed 3 ms later with `code`.
    fn result(alive: bool, before: Option<Option<u16>>, code: Option<u16>) -> RevocationResult {
        RevocationResult {
            logout: Reply {
                exchange_id: "x1".into(),
                status: Some(204),
                body: String::new(),
                elapsed: Duration::from_millis(1),
                error: None,
                headers: Vec::new(),
            },
            rest_rejected_after: Some(Duration::from_millis(2)),
            rest_polls: 1,
            ws_alive: alive,
            ws_closed_before_logout: before,
            ws_closed_after: Some(Duration::from_millis(3)),
            ws_close_code: code,
            ws_error: None,
            revocation_codes: vec![4001],
            waited: Duration::from_secs(3),
        }
    }

    fn ws_finding(r: RevocationResult) -> Finding {
        let obs = AuthObservation {
            revocation: Some(Ok(r)),
            ..AuthObservation::default()
        };
        revocation(&obs)[1].clone()
    }

    fn failed_reason(f: &Finding) -> &str {
        match &f.outcome {
            Outcome::Failed { reason } => reason,
            other => panic!("{} should fail, got {other:?}", f.check_id),
        }
    }

    #[test]
    fn a_live_stream_closed_with_the_revocation_code_is_measured() {
        let f = ws_finding(result(true, None, Some(4001)));
        assert!(matches!(f.outcome, Outcome::Measured { value, .. } if (value - 3.0).abs() < 1e-9));
        assert_eq!(
            result(true, None, Some(4001)).ws_revoked_after(),
            Some(Duration::from_millis(3))
        );
    }

    #[test]
    fn a_normal_close_after_logout_is_a_stream_failure_not_a_revocation() {
        let r = result(true, None, Some(1000));
        assert_eq!(r.ws_revoked_after(), None);
        let f = ws_finding(r);
        assert!(failed_reason(&f).contains("code 1000"), "{}", f.summary);
    }

    #[test]
    fn a_stream_that_closes_at_once_fails_revocation() {
        let r = result(false, Some(Some(1000)), Some(1000));
        assert_eq!(r.ws_revoked_after(), None);
        let f = ws_finding(r);
        assert!(failed_reason(&f).contains("before logout"), "{}", f.summary);
    }

    #[test]
    fn a_silent_stream_cannot_show_a_revocation() {
        let f = ws_finding(result(false, None, Some(4001)));
        assert!(
            failed_reason(&f).contains("never answered"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn a_stream_left_open_after_logout_fails_on_the_wait() {
        let mut r = result(true, None, None);
        r.ws_closed_after = None;
        let f = ws_finding(r);
        assert!(matches!(f.outcome, Outcome::Measured { value, .. } if value >= 3000.0));
    }
}
