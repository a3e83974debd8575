//! Authentication checks: the token lifecycle, how fast a revoked token stops working on REST
//! and on an open stream, and whether one user can reach another user's sessions.

use super::Finding;
use crate::probe::revocation::AuthObservation;

pub fn findings(obs: Option<&Result<AuthObservation, String>>) -> Vec<Finding> {
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
            return findings(Some(&Err(
                "the authentication scenarios did not run".to_string()
            )));
        }
    };
    let mut out = vec![lifecycle(obs)];
    out.extend(revocation(obs));
    out.push(cross_user(obs));
    out
}

fn lifecycle(obs: &AuthObservation) -> Finding {
    let id = "auth.token_lifecycle";
    let Some(steps) = &obs.lifecycle else {
        return Finding::not_assessed(
            id,
            "rotation and reuse detection revoke a user's tokens, so they need a throwaway user (registration disabled)",
        );
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
    let ws = match (r.ws_closed_after, r.ws_close_code) {
        (Some(d), code) if logout_ok => {
            let ms = d.as_secs_f64() * 1000.0;
            let mut f = Finding::millis(
                ws_id,
                ms,
                format!(
                    "the open stream was closed {ms:.1} ms after logout (close code {})",
                    code.map_or("none".to_string(), |c| c.to_string())
                ),
            );
            if code != Some(4001) {
                f = f.with_details(vec![format!(
                    "close code {code:?}; the contract documents 4001 for revocation"
                )]);
            }
            f
        }
        _ => Finding::millis(
            ws_id,
            waited_ms,
            format!("the stream stayed open {waited_ms:.0} ms after logout"),
        )
        .with_details(r.ws_error.iter().cloned().collect()),
    }
    .with_evidence(evidence);
    [rest, ws]
}

fn cross_user(obs: &AuthObservation) -> Finding {
    let id = "auth.cross_user_isolation";
    let Some(attempts) = &obs.cross_user else {
        return Finding::not_assessed(
            id,
            "needs a second, throwaway user (registration disabled or refused)",
        );
    };
    let mut passed = 0;
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    for a in attempts {
        let refused = a.status.is_none_or(|s| s == 404 || s == 403);
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
            "{passed} of {} attempts on another user's session were refused without data",
            attempts.len()
        ))
        .with_details(details)
        .with_evidence(evidence)
}
