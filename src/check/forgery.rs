//! `auth.token_forgery`: every token forged from the audit's own (expired, `alg: none`, signed
//! with another key, `kid` injection, algorithm confusion with a published key) must be refused
//! with 401 by the `me` role. Any other answer — 200 above all — means the server trusts what
//! the token says about itself.

use super::Finding;
use crate::probe::forgery::ForgeryObservation;
use crate::probe::revocation::AuthObservation;

pub const TOKEN_FORGERY: &str = "auth.token_forgery";

pub fn finding(obs: Option<&Result<AuthObservation, String>>) -> Finding {
    match obs.map(|o| o.as_ref().map(|a| a.forgery.as_ref())) {
        Some(Ok(Some(Ok(f)))) => judge(f),
        Some(Ok(Some(Err(reason)))) | Some(Err(reason)) => {
            Finding::not_assessed(TOKEN_FORGERY, reason)
        }
        Some(Ok(None)) | None => {
            Finding::not_assessed(TOKEN_FORGERY, "the forged-token scenario did not run")
        }
    }
}

fn judge(f: &ForgeryObservation) -> Finding {
    if f.attempts.is_empty() {
        return Finding::not_assessed(TOKEN_FORGERY, "no forged token could be built");
    }
    let mut passed = 0;
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    for a in &f.attempts {
        if a.status == Some(401) {
            passed += 1;
            continue;
        }
        let answer = a
            .status
            .map_or("no answer".to_string(), |s| format!("HTTP {s}"));
        details.push(format!(
            "{}: {answer}, expected 401 ({})",
            a.label, a.exchange_id
        ));
        evidence.push(a.exchange_id.clone());
    }
    for (label, reason) in &f.skipped {
        details.push(format!("not tried — {label}: {reason}"));
    }
    let total = f.attempts.len();
    Finding::ratio(TOKEN_FORGERY, passed, total, "forged tokens")
        .with_summary(format!(
            "{passed} of {total} forged tokens refused with 401{}",
            if f.skipped.is_empty() {
                String::new()
            } else {
                format!(" ({} not tried)", f.skipped.len())
            }
        ))
        .with_details(details)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::probe::forgery::ForgeryAttempt;

    fn attempt(label: &str, status: Option<u16>) -> ForgeryAttempt {
        ForgeryAttempt {
            label: label.into(),
            status,
            exchange_id: format!("x-{label}"),
        }
    }

    fn observed(attempts: Vec<ForgeryAttempt>) -> Result<AuthObservation, String> {
        Ok(AuthObservation {
            forgery: Some(Ok(ForgeryObservation {
                genuine_status: Some(200),
                attempts,
                skipped: vec![("confusion".into(), "role jwks is not bound".into())],
            })),
            ..AuthObservation::default()
        })
    }

    fn value(f: &Finding) -> f64 {
        match &f.outcome {
            Outcome::Measured { value, .. } => *value,
            other => panic!("not measured: {other:?}"),
        }
    }

    #[test]
    fn every_forged_token_must_get_401() {
        let all = observed(vec![attempt("none", Some(401)), attempt("exp", Some(401))]);
        assert_eq!(value(&finding(Some(&all))), 1.0);
        let accepted = observed(vec![attempt("none", Some(200)), attempt("exp", None)]);
        let f = finding(Some(&accepted));
        assert_eq!(value(&f), 0.0);
        assert!(f.details[0].contains("none: HTTP 200"), "{:?}", f.details);
        assert!(f.details[1].contains("no answer"), "{:?}", f.details);
        assert!(
            f.details[2].contains("role jwks is not bound"),
            "{:?}",
            f.details
        );
        assert_eq!(f.evidence, vec!["x-none".to_string(), "x-exp".to_string()]);
    }

    #[test]
    fn no_scenario_means_not_assessed() {
        assert!(matches!(finding(None).outcome, Outcome::NotAssessed { .. }));
        let err: Result<AuthObservation, String> = Ok(AuthObservation {
            forgery: Some(Err("role me is not bound".into())),
            ..AuthObservation::default()
        });
        match finding(Some(&err)).outcome {
            Outcome::NotAssessed { reason } => assert!(reason.contains("role me")),
            other => panic!("{other:?}"),
        }
    }
}
