//! The readiness cap and the severity gate: a failed critical check holds the readiness band
//! at the profile's `cap_on_critical` however high the score (SSL Labs caps a grade for a
//! critical flaw the same way), and `--fail-on` fails CI on any failed check of a severity.
//!
//! Both leave the score alone: it stays the sum of its parts, and only the band and the exit
//! code say that one flaw outweighs the points around it.

use crate::model::{AuditReport, CheckResult, Readiness, Status};
use crate::profile::{Profile, Severity};

/// Whether a check counts as failed for the readiness cap and `--fail-on`: assessed and short
/// of full credit (the same checks the gap tables list).
pub fn fell_short(check: &CheckResult) -> bool {
    matches!(check.status, Status::Fail | Status::Partial)
}

/// Holds the band at the profile's `cap_on_critical` while a critical check fell short; the
/// score is untouched. A band already at or below the cap stays as it is, uncapped.
pub fn capped(profile: &Profile, readiness: Readiness, checks: &[CheckResult]) -> Readiness {
    let Some(cap) = &profile.cap_on_critical else {
        return readiness;
    };
    let rank = |band: &str| {
        profile
            .readiness
            .iter()
            .find(|b| b.band == band)
            .map(|b| b.min)
    };
    let (Some(cap_min), Some(band_min)) = (rank(cap), rank(&readiness.band)) else {
        return readiness;
    };
    let culprits: Vec<String> = checks
        .iter()
        .filter(|c| c.severity == "critical" && fell_short(c))
        .map(|c| c.id.clone())
        .collect();
    if culprits.is_empty() || band_min <= cap_min {
        return readiness;
    }
    match profile.readiness.iter().find(|b| &b.band == cap) {
        Some(b) => Readiness {
            band: b.band.clone(),
            emoji: b.emoji.clone(),
            label: b.label.clone(),
            capped_by: culprits,
        },
        None => readiness,
    }
}

/// The severity gate of `--fail-on`: `Err(reasons)` when any check of `threshold` severity or
/// worse fell short (failed or partly failed), `Ok(())` otherwise.
pub fn gate_severity(report: &AuditReport, threshold: Option<Severity>) -> Result<(), Vec<String>> {
    let Some(threshold) = threshold else {
        return Ok(());
    };
    let reasons: Vec<String> = report
        .checks
        .iter()
        .filter(|c| fell_short(c))
        .filter(|c| Severity::parse(&c.severity).is_some_and(|s| s <= threshold))
        .map(|c| format!("{} ({}) {:?}: {}", c.id, c.severity, c.status, c.summary))
        .collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons
            .into_iter()
            .map(|r| format!("--fail-on {}: {r}", threshold.as_str()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Finding, Outcome};
    use crate::score::score;

    fn findings_all(profile: &Profile) -> Vec<Finding> {
        profile
            .checks()
            .filter(|(_, c)| c.not_assessed.is_none())
            .map(|(_, c)| Finding {
                check_id: c.id.clone(),
                outcome: Outcome::Measured {
                    value: c.good,
                    display: String::new(),
                },
                summary: String::new(),
                details: vec![],
                evidence: vec![],
            })
            .collect()
    }

    fn one_failure(profile: &Profile, id: &str) -> Vec<Finding> {
        let mut findings = findings_all(profile);
        let i = findings
            .iter()
            .position(|f| f.check_id == id)
            .expect("check");
        findings[i] = Finding::millis(id, 60_000.0, "never happened".into());
        findings
    }

    #[test]
    fn a_failed_critical_check_caps_the_band_but_not_the_score() {
        let profile = Profile::bundled().expect("profile");
        let scored = score(&profile, &one_failure(&profile, "auth.revocation_rest"));
        let s = &scored.scorecard;
        assert!(s.total >= 88.0, "one small check lost: {}", s.total);
        let parts: f64 = s.categories.iter().map(|c| c.score).sum();
        assert!(
            (parts - s.total).abs() < 1e-9,
            "the score is still the sum of its parts"
        );
        assert_eq!(s.readiness.band, "fair");
        assert_eq!(
            s.readiness.capped_by,
            vec!["auth.revocation_rest".to_string()]
        );

        // A high-severity failure of the same size does not cap.
        let s = score(&profile, &one_failure(&profile, "auth.revocation_ws")).scorecard;
        assert_eq!(s.readiness.band, "excellent");
        assert!(s.readiness.capped_by.is_empty());

        // Without the setting there is no cap.
        let mut uncapped = profile.clone();
        uncapped.cap_on_critical = None;
        let s = score(&uncapped, &one_failure(&profile, "auth.revocation_rest")).scorecard;
        assert_eq!(s.readiness.band, "excellent");
    }
}
