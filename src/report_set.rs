//! The reports of every profile of one run, side by side in one output folder.
//!
//! A run scored under several profiles (`--profile integration,readiness,status`) writes each
//! profile's reports under its own names: the integration profile keeps the plain names
//! (`report.md`, `results.json`…), every other one prefixes its id (`readiness-report.md`).
//! JSON, JUnit and any other format render exactly as for a single profile; the Markdown report
//! uses the profile's own template (`readiness.md` for seed 002, `status.md` for seed 004),
//! which reads the usual [`ReportContext`] plus what those documents add: seed 002's component
//! scores out of 100, computed here from the checks, never typed.

use crate::model::{AuditReport, CheckResult};
use crate::profile::Profile;
use crate::report::{self, Format, ReportContext, ReportError};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Markdown templates embedded in the binary, by the name a profile's `template` gives.
pub const TEMPLATES: [(&str, &str); 2] = [
    ("readiness.md", include_str!("../templates/readiness.md")),
    ("status.md", include_str!("../templates/status.md")),
];

/// Check ids the embedded templates look up by name; a custom profile that lacks one still
/// renders (the check shows as not assessed).
const LOOKED_UP: &[&str] = &[
    "contract.service_layer",
    "contract.operations_implemented",
    "contract.response_schema",
    "contract.invalid_input_rejected",
    "contract.version_compat",
    "contract.unsecured_operations",
    "http.security_headers",
    "auth.token_lifecycle",
    "auth.enforced",
    "auth.revocation_rest",
    "auth.revocation_ws",
    "auth.cross_user_isolation",
    "auth.token_forgery",
    "auth.cors",
    "auth.login_rate_limit",
    "state.persistence_readback",
    "state.two_tier_storage",
    "state.readiness_consistent",
    "ws.event_schema",
    "ws.ordering",
    "ws.resume_no_loss",
    "ws.heartbeat",
    "ws.malformed_handling",
    "ws.reconnect_time",
    "ws.event_latency",
    "ws.connect_time",
    "ws.throughput",
    "switch.latency",
    "switch.auto_failover",
    "switch.context_preserved",
    "switch.no_message_loss",
    "switch.success_rate",
    "switch.announced",
    "errors.problem_json",
    "errors.availability",
    "errors.invalid_provider",
    "telephony.call_lifecycle",
    "telephony.webhook_signatures",
    "data.pii_handling",
    "resilience.circuit_breaker",
    "obs.structured_logs",
    "obs.metrics",
    "obs.correlation_id",
    "obs.alerting",
    "monitoring.cross_system_metrics",
];

/// Writes every format of every report into `out`; returns the paths in writing order.
pub fn write<'a>(
    reports: impl Iterator<Item = (&'a Profile, &'a AuditReport)>,
    formats: &[Format],
    out: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::CreateDir {
        path: out.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (profile, report) in reports {
        for &format in formats {
            let text = render(profile, report, format)?;
            let path = out.join(profile.file_name(format.file_name()));
            std::fs::write(&path, text).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
    }
    Ok(written)
}

/// One report in one format, with the profile's own Markdown template when it names one.
pub fn render(
    profile: &Profile,
    report: &AuditReport,
    format: Format,
) -> Result<String, ReportError> {
    if !matches!(format, Format::Markdown | Format::Html) || profile.template == "report.md" {
        return report::render(report, format, None);
    }
    if format == Format::Html {
        // The page around this profile's own Markdown report, not the integration template.
        let md = render(profile, report, Format::Markdown)?;
        return report::html_around_markdown(report, &md, report::EMBEDDED_HTML_TEMPLATE);
    }
    let Some((name, template)) = TEMPLATES.iter().find(|(n, _)| *n == profile.template) else {
        return Err(ReportError::ReadTemplate {
            path: PathBuf::from(&profile.template),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no embedded template has this name (report.md, readiness.md, status.md)",
            ),
        });
    };
    let render_err = |source: tera::Error| report::render_failed(*name, source);
    let context = tera::Context::from_value(context(profile, report)?).map_err(render_err)?;
    // Markdown is not HTML: no escaping.
    tera::Tera::one_off(template, &context, false).map_err(render_err)
}

/// The usual report context plus the components and bands of the profile.
fn context(profile: &Profile, report: &AuditReport) -> Result<serde_json::Value, ReportError> {
    let mut ctx = serde_json::to_value(ReportContext::new(report))?;
    let missing: Vec<(String, serde_json::Value)> = LOOKED_UP
        .iter()
        .filter(|id| ctx["checks"].get(**id).is_none())
        .map(|id| {
            serde_json::to_value(report::CheckView::missing(id)).map(|v| ((*id).to_string(), v))
        })
        .collect::<Result<_, _>>()?;
    if let Some(checks) = ctx.get_mut("checks").and_then(|c| c.as_object_mut()) {
        checks.extend(missing);
    }
    let components = components(profile, report);
    let bands = bands(profile, &components);
    ctx["components"] = serde_json::to_value(&components)?;
    ctx["bands"] = serde_json::to_value(bands)?;
    Ok(ctx)
}

#[derive(Debug, Serialize)]
pub struct ComponentView {
    pub id: String,
    pub title: String,
    /// `85/100`, or `not assessed: …`.
    pub score: String,
    /// The score out of 100, when any check of the component was assessed.
    pub value: Option<f64>,
    pub emoji: String,
    pub items: Vec<ItemView>,
}

#[derive(Debug, Serialize)]
pub struct ItemView {
    pub id: String,
    pub title: String,
    /// `20/20` in the component's own points, or `not assessed`.
    pub points: String,
    pub emoji: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct BandView {
    pub emoji: String,
    pub label: String,
    pub range: String,
    /// `Session Management (90), Observability (93)`, or `none`.
    pub components: String,
}

/// Each category as a component scored out of 100: the points its assessed checks earned over
/// the points they could earn, in the profile's own (un-normalised) points.
pub fn components(profile: &Profile, report: &AuditReport) -> Vec<ComponentView> {
    profile
        .categories
        .iter()
        .map(|cat| {
            let mut earned = 0.0;
            let mut max = 0.0;
            let mut reasons = Vec::new();
            let items = cat
                .checks
                .iter()
                .map(|spec| {
                    let result: Option<&CheckResult> =
                        report.checks.iter().find(|c| c.id == spec.id);
                    let credit = result.and_then(|c| c.credit);
                    if let Some(credit) = credit {
                        earned += spec.points * credit;
                        max += spec.points;
                    } else if let Some(r) = result.and_then(|c| c.not_assessed_reason.clone()) {
                        reasons.push(r);
                    }
                    let view = result.map(|c| {
                        let v = report::CheckView::new(c);
                        (v.emoji, v.value)
                    });
                    let (emoji, value) = view.unwrap_or_else(|| {
                        let v = report::CheckView::missing(&spec.id);
                        (v.emoji, v.value)
                    });
                    ItemView {
                        id: spec.id.clone(),
                        title: report::cell(&spec.title),
                        points: match credit {
                            Some(c) => format!(
                                "{}/{}",
                                report::num(spec.points * c),
                                report::num(spec.points)
                            ),
                            None => "not assessed".to_string(),
                        },
                        emoji,
                        value,
                    }
                })
                .collect();
            let value = (max > 0.0).then(|| earned / max * 100.0);
            let (score, emoji) = match value {
                Some(v) => (
                    format!("{}/100", report::num(v)),
                    band_of(profile, v)
                        .map_or("⚪", |b| b.emoji.as_str())
                        .to_string(),
                ),
                None => (
                    format!(
                        "not assessed: {}",
                        report::cell(
                            reasons
                                .first()
                                .map_or("no check of this component ran", String::as_str)
                        )
                    ),
                    "⚪".to_string(),
                ),
            };
            ComponentView {
                id: cat.id.clone(),
                title: report::cell(&cat.title),
                score,
                value,
                emoji,
                items,
            }
        })
        .collect()
}

fn band_of(profile: &Profile, value: f64) -> Option<&crate::profile::ReadinessBand> {
    let mut bands: Vec<&crate::profile::ReadinessBand> = profile.readiness.iter().collect();
    bands.sort_by(|a, b| b.min.total_cmp(&a.min));
    bands.into_iter().find(|b| value + 1e-9 >= b.min)
}

/// The profile's bands with the components that fall in each (seed 002's "Score Breakdown").
fn bands(profile: &Profile, components: &[ComponentView]) -> Vec<BandView> {
    let mut sorted: Vec<&crate::profile::ReadinessBand> = profile.readiness.iter().collect();
    sorted.sort_by(|a, b| b.min.total_cmp(&a.min));
    let mut upper: Option<f64> = None;
    sorted
        .into_iter()
        .map(|b| {
            let range = match upper {
                Some(u) => format!("{}–{}", report::num(b.min), report::num(u - 0.1)),
                None => format!("{}–100", report::num(b.min)),
            };
            upper = Some(b.min);
            let names: Vec<String> = components
                .iter()
                .filter(|c| {
                    c.value
                        .is_some_and(|v| band_of(profile, v).is_some_and(|x| x.band == b.band))
                })
                .map(|c| format!("{} ({})", c.title, report::num(c.value.unwrap_or_default())))
                .collect();
            BandView {
                emoji: b.emoji.clone(),
                label: report::cell(&b.label),
                range,
                components: if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Finding;
    use crate::model::{ContractInfo, Metrics, TargetInfo, ToolInfo};
    use crate::observed::Observed;

    fn observed(findings: Vec<Finding>) -> Observed {
        let contract = ContractInfo {
            title: "Voice".into(),
            version: "1".into(),
            spec_version: "3.1.0".into(),
            source: "bundled".into(),
            operations: 4,
        };
        Observed {
            schema_version: crate::observed::OBSERVATIONS_VERSION.into(),
            tool: ToolInfo {
                name: "voice-audit".into(),
                version: "0".into(),
            },
            audit_id: "FE-BE-INT-20261201-abcdef".into(),
            target: TargetInfo {
                base_url: "http://127.0.0.1:1".into(),
                contract: contract.clone(),
                ws_contract: contract,
                read_only: false,
            },
            started_at: chrono::DateTime::UNIX_EPOCH,
            finished_at: chrono::DateTime::UNIX_EPOCH,
            duration_ms: 1,
            findings,
            operations: Vec::new(),
            metrics: Metrics::default(),
        }
    }

    #[test]
    fn component_scores_are_computed_from_the_checks() {
        let profile = Profile::resolve("readiness").expect("bundled");
        // 3 of 4 operations implemented: half credit between poor 0.5 and good 1.0.
        let obs = observed(vec![
            Finding::ratio("contract.operations_implemented", 3, 4, "operations"),
            Finding::ratio("auth.enforced", 12, 12, "requests"),
            Finding::ratio("auth.token_forgery", 5, 5, "forged tokens"),
        ]);
        let report = obs.assemble(&profile);
        let md = render(&profile, &report, Format::Markdown).expect("renders");
        // (20 × 0.5 + 20) / 40 points assessed in the API gateway.
        assert!(md.contains("**API Gateway: 75/100**"), "{md}");
        assert!(md.contains("API Gateway: 75/100 🟠"), "{md}");
        assert!(md.contains("**Security: 100/100**"), "{md}");
        assert!(
            md.contains("**Observability: not assessed: "),
            "a component with nothing assessed carries no number"
        );
        assert!(md.contains("| **B001** | API Gateway |"), "{md}");
        let views = components(&profile, &report);
        assert_eq!(views[0].value, Some(75.0));
        assert!(views.iter().any(|c| c.value.is_none()));
    }

    #[test]
    fn an_unknown_template_name_is_an_error() {
        let mut profile = Profile::resolve("status").expect("bundled");
        profile.template = "nope.md".into();
        let report = observed(Vec::new()).assemble(&profile);
        let err = render(&profile, &report, Format::Markdown).expect_err("unknown");
        assert!(err.to_string().contains("nope.md"), "{err}");
    }
}
