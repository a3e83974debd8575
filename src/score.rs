//! Scoring: a pure function of the findings and the profile.
//!
//! Each check earns a credit in 0–1 from its measured value between the profile's `good` and
//! `poor` thresholds. Checks that could not be assessed leave the denominator. Points are
//! normalised so the assessed checks share 100 in proportion to the template's points (the
//! template's maxima sum to 108). Category scores are rounded to tenths by largest remainder so
//! that the total is always exactly the sum of its parts.

use crate::check::{Finding, Outcome};
use crate::model::{
    CategoryScore, CheckResult, Gap, Measurement, Readiness, Recommendation, Scorecard, Status,
};
use crate::profile::{CheckSpec, Curve, Profile};

pub struct Scored {
    pub scorecard: Scorecard,
    pub checks: Vec<CheckResult>,
}

/// Credit for a measured value: 1 at or beyond `good`, 0 at or beyond `poor`, and in between a
/// straight line (`linear`) or a smooth cosine ease on a log scale (`log`), Lighthouse-style.
pub fn credit(spec: &CheckSpec, value: f64) -> f64 {
    if value.is_nan() {
        return 0.0;
    }
    let (good, poor) = (spec.good, spec.poor);
    let better_or_equal = |a: f64, b: f64| {
        if spec.higher_is_better {
            a >= b
        } else {
            a <= b
        }
    };
    if better_or_equal(value, good) {
        return 1.0;
    }
    if !better_or_equal(value, poor) || value == poor {
        return 0.0;
    }
    match spec.curve {
        Curve::Linear => ((value - poor) / (good - poor)).clamp(0.0, 1.0),
        Curve::Log => {
            if value <= 0.0 {
                return if spec.higher_is_better { 0.0 } else { 1.0 };
            }
            let t = ((value.ln() - good.ln()) / (poor.ln() - good.ln())).clamp(0.0, 1.0);
            0.5 * (1.0 + (std::f64::consts::PI * t).cos())
        }
    }
}

pub fn status_for(credit: f64) -> Status {
    if credit >= 1.0 - 1e-9 {
        Status::Pass
    } else if credit <= 1e-9 {
        Status::Fail
    } else {
        Status::Partial
    }
}

/// The threshold as text: `≤ 500 ms`, `≥ 1000 msg/s`, `100 %`.
pub fn target_text(spec: &CheckSpec) -> String {
    let op = if spec.higher_is_better { "≥" } else { "≤" };
    match spec.unit.as_str() {
        "ratio" if spec.good >= 1.0 => "100 %".to_string(),
        "ratio" => format!("{op} {} %", trim(spec.good * 100.0)),
        unit => format!("{op} {} {unit}", trim(spec.good)),
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn score(profile: &Profile, findings: &[Finding]) -> Scored {
    let find = |id: &str| findings.iter().find(|f| f.check_id == id);
    // (category index, spec, finding-derived credit or None)
    let mut rows = Vec::new();
    for (ci, category) in profile.categories.iter().enumerate() {
        for spec in &category.checks {
            let finding = find(&spec.id).cloned().unwrap_or_else(|| {
                let reason = spec
                    .not_assessed
                    .clone()
                    .unwrap_or_else(|| "no probe produced this check".to_string());
                Finding::not_assessed(&spec.id, &reason)
            });
            let credit = match &finding.outcome {
                Outcome::Measured { value, .. } => Some(credit(spec, *value)),
                Outcome::NotAssessed { .. } => None,
                Outcome::Failed { .. } => Some(0.0),
            };
            rows.push((ci, spec, finding, credit));
        }
    }
    let assessed_points: f64 = rows
        .iter()
        .filter(|r| r.3.is_some())
        .map(|r| r.1.points)
        .sum();
    let scale = if assessed_points > 0.0 {
        100.0 / assessed_points
    } else {
        0.0
    };

    let checks: Vec<CheckResult> = rows
        .iter()
        .map(|(ci, spec, finding, credit)| {
            let points_max = if credit.is_some() {
                spec.points * scale
            } else {
                0.0
            };
            let (measured, reason) = match &finding.outcome {
                Outcome::Measured { value, display } => (
                    Some(Measurement {
                        value: *value,
                        unit: spec.unit.clone(),
                        display: display.clone(),
                    }),
                    None,
                ),
                Outcome::NotAssessed { reason } => (None, Some(reason.clone())),
                // The summary carries why; there is no measurement and no "not assessed" reason.
                Outcome::Failed { .. } => (None, None),
            };
            CheckResult {
                id: spec.id.clone(),
                category: profile.categories[*ci].id.clone(),
                title: spec.title.clone(),
                status: credit.map_or(Status::NotAssessed, status_for),
                credit: *credit,
                points_max,
                points_earned: points_max * credit.unwrap_or(0.0),
                measured,
                target: target_text(spec),
                summary: finding.summary.clone(),
                details: finding.details.clone(),
                evidence: finding.evidence.clone(),
                severity: spec.severity.as_str().to_string(),
                remediation: spec.remediation.clone(),
                not_assessed_reason: reason,
            }
        })
        .collect();

    let earned: Vec<f64> = profile
        .categories
        .iter()
        .map(|c| {
            checks
                .iter()
                .filter(|k| k.category == c.id)
                .map(|k| k.points_earned)
                .sum()
        })
        .collect();
    let maxima: Vec<f64> = profile
        .categories
        .iter()
        .map(|c| {
            checks
                .iter()
                .filter(|k| k.category == c.id)
                .map(|k| k.points_max)
                .sum()
        })
        .collect();
    let earned_tenths = round_preserving_sum(&earned);
    let max_tenths = round_preserving_sum(&maxima);

    let categories: Vec<CategoryScore> = profile
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mine: Vec<&CheckResult> = checks.iter().filter(|k| k.category == c.id).collect();
            let assessed: Vec<&&CheckResult> = mine
                .iter()
                .filter(|k| k.status != Status::NotAssessed)
                .collect();
            let status = if assessed.is_empty() {
                Status::NotAssessed
            } else if assessed.iter().all(|k| k.status == Status::Pass) {
                Status::Pass
            } else if assessed.iter().all(|k| k.status == Status::Fail) {
                Status::Fail
            } else {
                Status::Partial
            };
            CategoryScore {
                id: c.id.clone(),
                title: c.title.clone(),
                template_max: c.template_max,
                max: max_tenths[i] as f64 / 10.0,
                score: earned_tenths[i] as f64 / 10.0,
                status,
                assessed_checks: assessed.len(),
                total_checks: mine.len(),
            }
        })
        .collect();
    let total = earned_tenths.iter().sum::<i64>() as f64 / 10.0;
    let readiness = crate::cap::capped(profile, readiness_for(profile, total), &checks);
    let template_total = profile.template_max_total();
    Scored {
        scorecard: Scorecard {
            total,
            max: 100.0,
            assessed_share: if template_total > 0.0 {
                assessed_points / template_total
            } else {
                0.0
            },
            readiness,
            categories,
        },
        checks,
    }
}

/// Rounds each value to tenths so that the rounded parts add up to the rounded whole
/// (largest-remainder method), in integer tenths.
pub fn round_preserving_sum(values: &[f64]) -> Vec<i64> {
    let scaled: Vec<f64> = values.iter().map(|v| v * 10.0).collect();
    let target = scaled.iter().sum::<f64>().round() as i64;
    let mut floors: Vec<i64> = scaled.iter().map(|v| (v + 1e-9).floor() as i64).collect();
    let mut shortfall = target - floors.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = scaled[a] - floors[a] as f64;
        let rb = scaled[b] - floors[b] as f64;
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(values.len().max(1) * 2) {
        if shortfall == 0 {
            break;
        }
        if shortfall > 0 {
            floors[i] += 1;
            shortfall -= 1;
        } else if floors[i] > 0 {
            floors[i] -= 1;
            shortfall += 1;
        }
    }
    floors
}

fn readiness_for(profile: &Profile, total: f64) -> Readiness {
    let mut bands = profile.readiness.clone();
    bands.sort_by(|a, b| b.min.total_cmp(&a.min));
    let band = bands
        .iter()
        .find(|b| total >= b.min)
        .or(bands.last())
        .cloned()
        .map(|b| Readiness {
            band: b.band,
            emoji: b.emoji,
            label: b.label,
            capped_by: Vec::new(),
        });
    band.unwrap_or(Readiness {
        band: "poor".to_string(),
        emoji: "🔴".to_string(),
        label: "Poor".to_string(),
        capped_by: Vec::new(),
    })
}

/// Failed and partial checks as the template's gap tables, most severe first.
pub fn gaps(checks: &[CheckResult], profile: &Profile) -> Vec<Gap> {
    let mut failing: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Partial))
        .collect();
    failing.sort_by_key(|c| (severity_rank(&c.severity), c.status != Status::Fail));
    let mut counters = [0usize; 3];
    failing
        .iter()
        .map(|c| {
            let rank = severity_rank(&c.severity);
            counters[rank] += 1;
            let prefix = ["B", "H", "M"][rank];
            let component = profile
                .categories
                .iter()
                .find(|k| k.id == c.category)
                .map(|k| k.title.clone())
                .unwrap_or_else(|| c.category.clone());
            let measured = c
                .measured
                .as_ref()
                .map(|m| m.display.clone())
                .unwrap_or_default();
            Gap {
                id: format!("{prefix}{:03}", counters[rank]),
                priority: c.severity.clone(),
                component,
                check_id: c.id.clone(),
                gap: format!(
                    "{}: {} (measured {measured}, target {})",
                    c.title, c.summary, c.target
                ),
                impact: format!(
                    "{:.1} of {:.1} points lost",
                    c.points_max - c.points_earned,
                    c.points_max
                ),
            }
        })
        .collect()
}

pub fn recommendations(checks: &[CheckResult]) -> Vec<Recommendation> {
    let mut failing: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Partial))
        .collect();
    failing.sort_by_key(|c| severity_rank(&c.severity));
    failing
        .iter()
        .map(|c| Recommendation {
            horizon: ["immediate", "short_term", "long_term"][severity_rank(&c.severity)]
                .to_string(),
            check_id: c.id.clone(),
            text: c.remediation.clone(),
        })
        .collect()
}

fn severity_rank(s: &str) -> usize {
    match s {
        "critical" => 0,
        "high" => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Severity;

    fn spec(unit: &str, good: f64, poor: f64, curve: Curve) -> CheckSpec {
        CheckSpec {
            id: "x".into(),
            title: "x".into(),
            points: 1.0,
            unit: unit.into(),
            good,
            poor,
            higher_is_better: good > poor,
            curve,
            severity: Severity::High,
            remediation: String::new(),
            not_assessed: None,
        }
    }

    #[test]
    fn credit_curves() {
        let latency = spec("ms", 500.0, 2000.0, Curve::Log);
        for (value, expected) in [
            (1.0, 1.0),
            (500.0, 1.0),
            (2000.0, 0.0),
            (9000.0, 0.0),
            (1000.0, 0.5),
        ] {
            assert!((credit(&latency, value) - expected).abs() < 1e-9, "{value}");
        }
        let mid = credit(&latency, 700.0);
        assert!(mid > 0.5 && mid < 1.0, "{mid}");
        let share = spec("ratio", 1.0, 0.5, Curve::Linear);
        for (value, expected) in [(1.0, 1.0), (0.75, 0.5), (0.5, 0.0), (0.1, 0.0)] {
            assert!((credit(&share, value) - expected).abs() < 1e-9, "{value}");
        }
        let rate = spec("msg/s", 1000.0, 100.0, Curve::Log);
        assert_eq!(credit(&rate, 5000.0), 1.0);
        assert_eq!(credit(&rate, 50.0), 0.0);
        assert_eq!(credit(&rate, f64::NAN), 0.0);
    }

    #[test]
    fn rounding_preserves_the_sum() {
        for values in [
            vec![33.333, 33.333, 33.334],
            vec![10.06, 20.06, 69.88],
            vec![0.0, 0.0],
            vec![],
        ] {
            let tenths = round_preserving_sum(&values);
            let whole = (values.iter().sum::<f64>() * 10.0).round() as i64;
            assert_eq!(tenths.iter().sum::<i64>(), whole, "{values:?}");
        }
    }

    fn findings_all(profile: &Profile, value: f64) -> Vec<Finding> {
        profile
            .checks()
            .filter(|(_, c)| c.not_assessed.is_none())
            .map(|(_, c)| Finding {
                check_id: c.id.clone(),
                outcome: Outcome::Measured {
                    value: if c.higher_is_better {
                        c.good * value
                    } else {
                        c.good / value.max(1e-6)
                    },
                    display: String::new(),
                },
                summary: String::new(),
                details: vec![],
                evidence: vec![],
            })
            .collect()
    }

    #[test]
    fn a_perfect_run_scores_100_and_the_total_is_the_sum_of_its_parts() {
        let profile = Profile::bundled().expect("profile");
        let scored = score(&profile, &findings_all(&profile, 1.0));
        assert_eq!(scored.scorecard.total, 100.0);
        let parts: f64 = scored.scorecard.categories.iter().map(|c| c.score).sum();
        assert!((parts - scored.scorecard.total).abs() < 1e-9);
        assert!(
            scored.scorecard.assessed_share < 1.0,
            "frontend-only checks are left out"
        );
        assert!(
            scored
                .checks
                .iter()
                .any(|c| c.status == Status::NotAssessed)
        );
    }

    #[test]
    fn the_total_equals_the_sum_of_categories_for_many_mixed_runs() {
        let profile = Profile::bundled().expect("profile");
        let ids: Vec<String> = profile.checks().map(|(_, c)| c.id.clone()).collect();
        // Deterministic pseudo-random mixes of pass/partial/fail/not-assessed.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300 {
            let findings: Vec<Finding> = ids
                .iter()
                .map(|id| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    if seed.is_multiple_of(5) {
                        Finding::not_assessed(id, "skipped")
                    } else {
                        Finding::ratio(id, (seed % 11) as usize, 10, "items")
                    }
                })
                .collect();
            let s = score(&profile, &findings).scorecard;
            let parts: i64 = s
                .categories
                .iter()
                .map(|c| (c.score * 10.0).round() as i64)
                .sum();
            assert_eq!(parts, (s.total * 10.0).round() as i64);
            assert!(s.total >= 0.0 && s.total <= 100.0);
            let maxima: f64 = s.categories.iter().map(|c| c.max).sum();
            assert!(maxima == 0.0 || (maxima - 100.0).abs() < 1e-6, "{maxima}");
        }
    }

    #[test]
    fn a_failing_check_lowers_the_score_and_lands_in_the_gaps() {
        let profile = Profile::bundled().expect("profile");
        let mut findings = findings_all(&profile, 1.0);
        let i = findings
            .iter()
            .position(|f| f.check_id == "auth.revocation_rest")
            .expect("check");
        findings[i] = Finding::millis("auth.revocation_rest", 60_000.0, "never rejected".into());
        let scored = score(&profile, &findings);
        assert!(scored.scorecard.total < 100.0);
        let gaps = gaps(&scored.checks, &profile);
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].id, "B001");
        assert_eq!(recommendations(&scored.checks)[0].horizon, "immediate");
    }
}
