//! `state.recovery_after_restart` and `state.two_tier_storage`: the share of recovery items
//! (sessions kept, streams resumed, revocations kept, readiness back) that held.
//!
//! Without the hook the check is "not assessed" (the tool was not given the means). A hook that
//! exits non-zero or times out fails the check: the command is the operator's, but a restart
//! command that fails is most often a service that did not come back (`systemctl restart`
//! exits non-zero when the unit fails to start), and nothing shows the promise holds; the
//! summary quotes the hook's own output so a mistyped command is plain to see.

use super::Finding;
use crate::probe::recovery::RecoveryObservation;

pub const RESTART: &str = "state.recovery_after_restart";
pub const OUTAGE: &str = "state.two_tier_storage";

pub fn restart(obs: Option<&Result<RecoveryObservation, String>>) -> Finding {
    finding(
        RESTART,
        obs,
        "no --restart-cmd was given, so the target was never restarted",
        "recovery items after the restart",
    )
}

pub fn outage(obs: Option<&Result<RecoveryObservation, String>>) -> Finding {
    finding(
        OUTAGE,
        obs,
        "no --cache-down-cmd and --cache-up-cmd were given, so the cache never went away",
        "items during and after the cache outage",
    )
}

fn finding(
    id: &str,
    obs: Option<&Result<RecoveryObservation, String>>,
    no_hook: &str,
    what: &str,
) -> Finding {
    let obs = match obs {
        None => return Finding::not_assessed(id, no_hook),
        Some(Err(reason)) if reason.starts_with(crate::run::READ_ONLY) => {
            return Finding::not_assessed(id, reason);
        }
        Some(Err(reason)) => {
            return Finding::failed(id, &format!("could not prepare: {reason}"));
        }
        Some(Ok(o)) => o,
    };
    let evidence: Vec<String> = obs
        .hooks
        .iter()
        .map(|(label, run)| {
            let out = if run.output.is_empty() {
                String::new()
            } else {
                format!(", output: {}", run.output)
            };
            format!("hook `{label}` took {} ms{out}", run.took.as_millis())
        })
        .collect();
    if let Some(err) = &obs.hook_error {
        return Finding::failed(id, &format!("the hook failed: {err}"))
            .with_details(item_lines(obs))
            .with_evidence(evidence);
    }
    let passed = obs.items.iter().filter(|i| i.ok).count();
    let mut f = Finding::ratio(id, passed, obs.items.len(), what).with_details(item_lines(obs));
    if let Some(t) = obs.ready_after {
        let summary = format!(
            "{}; ready again after {:.0} ms",
            f.summary,
            t.as_secs_f64() * 1000.0
        );
        f = f.with_summary(summary);
    }
    f.with_evidence(evidence)
}

/// One line per item: the failed ones first as they are, then the ones that held, marked so,
/// so the report shows the evidence behind the points as well as behind the losses.
fn item_lines(obs: &RecoveryObservation) -> Vec<String> {
    let failed = obs.items.iter().filter(|i| !i.ok);
    let held = obs.items.iter().filter(|i| i.ok);
    failed
        .map(|i| format!("{}: {}", i.what, i.detail))
        .chain(held.map(|i| format!("held: {}: {}", i.what, i.detail)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::probe::recovery::Item;

    #[test]
    fn no_hook_is_not_assessed_and_a_failed_item_costs_its_share() {
        assert!(matches!(restart(None).outcome, Outcome::NotAssessed { .. }));
        let obs = RecoveryObservation {
            items: vec![
                Item::new("session kept", true, "ok"),
                Item::new("revoked token", false, "accepted again"),
            ],
            ..RecoveryObservation::default()
        };
        let f = outage(Some(&Ok(obs.clone())));
        assert!(matches!(f.outcome, Outcome::Measured { value, .. } if (value - 0.5).abs() < 1e-9));
        assert_eq!(
            f.details,
            vec![
                "revoked token: accepted again".to_string(),
                "held: session kept: ok".to_string()
            ]
        );
        let hook_failed = RecoveryObservation {
            hook_error: Some("exit 1".into()),
            ..obs
        };
        assert!(matches!(
            restart(Some(&Ok(hook_failed))).outcome,
            Outcome::Failed { .. }
        ));
    }
}
