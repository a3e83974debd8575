//! The view-model the Markdown template reads.
//!
//! Tera templates cannot format numbers or dates the way the report needs (and `tera` is built
//! without its chrono filters), and a table cell breaks on a stray `|` or newline. So everything
//! the template prints is prepared here: numbers already formatted, text already made safe for a
//! Markdown table cell, and every check the template looks up by id present in `checks`, even
//! when the run did not produce it, so a template lookup can never fail at render time.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{AuditReport, CheckResult, OperationRow, Percentiles, Status};

/// Every check id the embedded template looks up. A report that lacks one of them (an older
/// profile, a run that stopped early) still renders: the missing check shows as not assessed.
pub const TEMPLATE_CHECK_IDS: &[&str] = &[
    "contract.operations_implemented",
    "contract.response_schema",
    "contract.invalid_input_rejected",
    "contract.version_compat",
    "contract.service_layer",
    "auth.token_lifecycle",
    "auth.revocation_rest",
    "auth.revocation_ws",
    "auth.enforced",
    "auth.cross_user_isolation",
    "auth.token_forgery",
    "auth.cross_tab_sync",
    "state.persistence_readback",
    "state.two_tier_storage",
    "state.recovery_after_restart",
    "state.cross_tab_state",
    "ws.connect_time",
    "ws.heartbeat",
    "ws.resume_no_loss",
    "ws.reconnect_time",
    "ws.event_schema",
    "ws.ordering",
    "ws.event_latency",
    "ws.throughput",
    "switch.no_message_loss",
    "switch.announced",
    "switch.latency",
    "switch.success_rate",
    "switch.mid_call",
    "switch.context_preserved",
    "switch.auto_failover",
    "errors.problem_json",
    "ws.malformed_handling",
    "errors.invalid_provider",
    "tests.deployment_suite",
];

/// Everything `templates/report.md` can read.
#[derive(Debug, Serialize)]
pub struct ReportContext {
    pub audit_id: String,
    /// `voice-audit 0.1.0`.
    pub auditor: String,
    /// `YYYY-MM-DD` of `finished_at`.
    pub date: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration: String,
    pub schema_version: String,
    pub profile: ProfileView,
    pub target: TargetView,
    pub score: ScoreView,
    pub counts: Counts,
    pub categories: Vec<CategoryView>,
    /// By check id; holds at least every id of [`TEMPLATE_CHECK_IDS`].
    pub checks: BTreeMap<String, CheckView>,
    pub operations: Vec<OperationView>,
    /// Operations on `/sessions` paths (§5.1).
    pub session_operations: Vec<OperationView>,
    /// `7/9 operations (77.8 %)` exercised with a documented answer.
    pub operations_exercised: String,
    pub metrics: MetricsView,
    pub gaps: GapsView,
    pub recommendations: RecommendationsView,
    pub evidence_dir: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProfileView {
    pub id: String,
    pub title: String,
    pub template_max_total: String,
    pub normalisation: String,
}

#[derive(Debug, Serialize)]
pub struct TargetView {
    pub base_url: String,
    pub read_only: bool,
    /// `Voice API 1.2.0 (OpenAPI 3.1.0, bundled, 12 operations)`.
    pub contract: String,
    pub ws_contract: String,
}

#[derive(Debug, Serialize)]
pub struct ScoreView {
    /// Without a trailing `.0`: `100`, `87.3`.
    pub total: String,
    pub max: String,
    /// `92.3 %`.
    pub assessed_share: String,
    pub band: String,
    pub emoji: String,
    pub label: String,
    /// The critical checks that capped the band, as `` `id` `` list; empty when uncapped.
    pub capped_by: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub total: usize,
    pub pass: usize,
    pub partial: usize,
    pub fail: usize,
    pub not_assessed: usize,
}

#[derive(Debug, Serialize)]
pub struct CategoryView {
    pub id: String,
    pub title: String,
    pub score: String,
    pub max: String,
    pub template_max: String,
    pub emoji: String,
    pub status: String,
    pub assessed_checks: usize,
    pub total_checks: usize,
    pub checks: Vec<CheckView>,
}

/// One check, with every form the template prints it in.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub id: String,
    pub title: String,
    pub category: String,
    pub emoji: String,
    /// `pass`, `partial`, `fail`, `not assessed`.
    pub status: String,
    /// `x` when passed, a space otherwise: the checklist box.
    pub mark: String,
    /// Measured value, or `not assessed: <reason>`; never empty.
    pub value: String,
    pub target: String,
    pub summary: String,
    pub details: String,
    pub evidence: String,
    /// `1.2/2.0`.
    pub points: String,
    pub severity: String,
    /// Distance to the target: `meets target`, `misses target < 500 ms`, or not assessed.
    pub gap: String,
    /// What the finding means for the integration.
    pub impact: String,
    /// `🟢 3.2 ms (`ws.connect_time`)`: for table cells and checklist suffixes.
    pub cell: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OperationView {
    pub method: String,
    pub path: String,
    pub operation_id: String,
    pub implemented: String,
    pub contract: String,
    pub notes: String,
    /// The "Frontend Usage" cell: what a recorded frontend HAR did with this operation, or
    /// why that is not assessed.
    pub frontend: String,
}

#[derive(Debug, Serialize)]
pub struct MetricsView {
    pub ws_connect: String,
    pub ws_event_latency: String,
    pub ws_throughput: String,
    pub ws_reconnect: String,
    pub switch_latency: String,
    pub switch_success_rate: String,
    pub context_preserved: String,
    pub revocation_rest: String,
    pub revocation_ws: String,
    /// Rows of the Appendix B histogram table; empty when nothing was measured.
    pub histograms: Vec<HistogramRow>,
}

#[derive(Debug, Serialize)]
pub struct HistogramRow {
    pub name: String,
    pub count: u64,
    pub min: String,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub max: String,
    pub mean: String,
}

#[derive(Debug, Serialize)]
pub struct GapsView {
    pub critical: Vec<GapView>,
    pub high: Vec<GapView>,
    pub medium: Vec<GapView>,
}

#[derive(Debug, Serialize)]
pub struct GapView {
    pub id: String,
    pub component: String,
    pub check_id: String,
    pub gap: String,
    pub impact: String,
}

#[derive(Debug, Serialize)]
pub struct RecommendationsView {
    pub immediate: Vec<RecommendationView>,
    pub short_term: Vec<RecommendationView>,
    pub long_term: Vec<RecommendationView>,
}

#[derive(Debug, Serialize)]
pub struct RecommendationView {
    pub check_id: String,
    pub text: String,
}

impl ReportContext {
    pub fn new(report: &AuditReport) -> Self {
        let mut checks: BTreeMap<String, CheckView> = report
            .checks
            .iter()
            .map(|c| (c.id.clone(), CheckView::new(c)))
            .collect();
        for id in TEMPLATE_CHECK_IDS {
            checks
                .entry((*id).to_owned())
                .or_insert_with(|| CheckView::missing(id));
        }

        let categories = report
            .score
            .categories
            .iter()
            .map(|cat| CategoryView {
                id: cat.id.clone(),
                title: cell(&cat.title),
                score: num(cat.score),
                max: num(cat.max),
                template_max: num(cat.template_max),
                emoji: cat.status.emoji().to_owned(),
                status: status_label(cat.status).to_owned(),
                assessed_checks: cat.assessed_checks,
                total_checks: cat.total_checks,
                checks: report
                    .checks
                    .iter()
                    .filter(|c| c.category == cat.id)
                    .map(CheckView::new)
                    .collect(),
            })
            .collect();

        let mut counts = Counts::default();
        for c in &report.checks {
            counts.total += 1;
            match c.status {
                Status::Pass => counts.pass += 1,
                Status::Partial => counts.partial += 1,
                Status::Fail => counts.fail += 1,
                Status::NotAssessed => counts.not_assessed += 1,
            }
        }

        let operations: Vec<OperationView> =
            report.operations.iter().map(OperationView::new).collect();
        let session_operations = operations
            .iter()
            .filter(|o| o.path.contains("/sessions"))
            .cloned()
            .collect();
        let exercised = report
            .operations
            .iter()
            .filter(|o| o.implemented != Status::NotAssessed)
            .count();
        let operations_exercised = if report.operations.is_empty() {
            "no contract operation listed".to_owned()
        } else {
            format!(
                "{exercised}/{} operations ({})",
                report.operations.len(),
                pct(exercised as f64 / report.operations.len() as f64)
            )
        };

        ReportContext {
            audit_id: cell(&report.audit_id),
            auditor: format!("{} {}", report.tool.name, report.tool.version),
            date: report.finished_at.format("%Y-%m-%d").to_string(),
            started_at: report
                .started_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            finished_at: report
                .finished_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            duration: format!("{} s", num(report.duration_ms as f64 / 1000.0)),
            schema_version: report.schema_version.clone(),
            profile: ProfileView {
                id: report.profile.id.clone(),
                title: cell(&report.profile.title),
                template_max_total: num(report.profile.template_max_total),
                normalisation: cell(&report.profile.normalisation),
            },
            target: TargetView {
                base_url: cell(&report.target.base_url),
                read_only: report.target.read_only,
                contract: contract_line(&report.target.contract, "OpenAPI"),
                ws_contract: contract_line(&report.target.ws_contract, "AsyncAPI"),
            },
            score: ScoreView {
                total: num(report.score.total),
                max: num(report.score.max),
                assessed_share: pct(report.score.assessed_share),
                band: cell(&report.score.readiness.band),
                emoji: report.score.readiness.emoji.clone(),
                label: cell(&report.score.readiness.label),
                capped_by: report
                    .score
                    .readiness
                    .capped_by
                    .iter()
                    .map(|id| format!("`{}`", cell(id)))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            counts,
            categories,
            checks,
            operations,
            session_operations,
            operations_exercised,
            metrics: MetricsView::new(report),
            gaps: GapsView {
                critical: gaps_of(report, "critical"),
                high: gaps_of(report, "high"),
                medium: gaps_of(report, "medium"),
            },
            recommendations: RecommendationsView {
                immediate: recommendations_of(report, "immediate"),
                short_term: recommendations_of(report, "short_term"),
                long_term: recommendations_of(report, "long_term"),
            },
            evidence_dir: report.evidence_dir.as_deref().map(cell),
        }
    }
}

impl CheckView {
    pub fn new(c: &CheckResult) -> Self {
        let reason = c
            .not_assessed_reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or("the check did not run");
        let value = match (c.status, &c.measured) {
            (Status::NotAssessed, _) => format!("not assessed: {}", cell(reason)),
            (_, Some(m)) => cell(&m.display),
            (_, None) => format!("{} (no numeric measurement)", status_label(c.status)),
        };
        let target = cell(&c.target);
        let summary = cell(&c.summary);
        let (gap, impact) = match c.status {
            Status::Pass => ("meets target".to_owned(), "none".to_owned()),
            Status::Partial | Status::Fail => (
                if target.is_empty() {
                    format!("misses target ({})", value)
                } else {
                    format!("misses target {target}")
                },
                format!("{} severity: {summary}", cell(&c.severity)),
            ),
            Status::NotAssessed => (
                "not assessed".to_owned(),
                format!("not assessed: {}", cell(reason)),
            ),
        };
        let cell_text = format!("{} {} (`{}`)", c.status.emoji(), value, c.id);
        CheckView {
            id: c.id.clone(),
            title: cell(&c.title),
            category: c.category.clone(),
            emoji: c.status.emoji().to_owned(),
            status: status_label(c.status).to_owned(),
            mark: if c.status == Status::Pass { "x" } else { " " }.to_owned(),
            value,
            target,
            summary,
            details: c
                .details
                .iter()
                .map(|d| cell(d))
                .collect::<Vec<_>>()
                .join("; "),
            evidence: c
                .evidence
                .iter()
                .map(|d| cell(d))
                .collect::<Vec<_>>()
                .join(", "),
            points: format!("{}/{}", num(c.points_earned), num(c.points_max)),
            severity: cell(&c.severity),
            gap,
            impact,
            cell: cell_text,
        }
    }

    /// Stand-in for a check the template refers to but the report does not contain.
    pub fn missing(id: &str) -> Self {
        let reason = "not assessed: the check is not part of this run's results";
        CheckView {
            id: id.to_owned(),
            title: id.to_owned(),
            category: String::new(),
            emoji: Status::NotAssessed.emoji().to_owned(),
            status: status_label(Status::NotAssessed).to_owned(),
            mark: " ".to_owned(),
            value: reason.to_owned(),
            target: "not assessed".to_owned(),
            summary: reason.to_owned(),
            details: String::new(),
            evidence: String::new(),
            points: "0/0".to_owned(),
            severity: String::new(),
            gap: "not assessed".to_owned(),
            impact: reason.to_owned(),
            cell: format!("{} {reason} (`{id}`)", Status::NotAssessed.emoji()),
        }
    }
}

impl OperationView {
    fn new(o: &OperationRow) -> Self {
        OperationView {
            method: cell(&o.method.to_uppercase()),
            path: cell(&o.path),
            operation_id: cell(&o.operation_id),
            implemented: format!("{} {}", o.implemented.emoji(), status_label(o.implemented)),
            contract: format!("{} {}", o.contract.emoji(), status_label(o.contract)),
            frontend: o.frontend.as_deref().map_or_else(
                || "⚪ not assessed: no frontend HAR given (--frontend-har)".to_owned(),
                cell,
            ),
            notes: if o.notes.trim().is_empty() {
                "none".to_owned()
            } else {
                cell(&o.notes)
            },
        }
    }
}

impl MetricsView {
    fn new(report: &AuditReport) -> Self {
        let m = &report.metrics;
        let named = [
            ("WebSocket connect", &m.ws_connect_ms),
            ("Event delivery (text → transcript)", &m.ws_event_latency_ms),
            ("Reconnect to first replayed event", &m.ws_reconnect_ms),
            ("Provider switch", &m.switch_latency_ms),
        ];
        let histograms = named
            .iter()
            .filter_map(|(name, p)| {
                p.as_ref().map(|p| HistogramRow {
                    name: (*name).to_owned(),
                    count: p.count,
                    min: ms(p.min),
                    p50: ms(p.p50),
                    p95: ms(p.p95),
                    p99: ms(p.p99),
                    max: ms(p.max),
                    mean: ms(p.mean),
                })
            })
            .collect();
        MetricsView {
            ws_connect: percentiles(&m.ws_connect_ms),
            ws_event_latency: percentiles(&m.ws_event_latency_ms),
            ws_throughput: m
                .ws_throughput_msg_s
                .map(|v| format!("{} msg/s", num(v)))
                .unwrap_or_else(not_measured),
            ws_reconnect: percentiles(&m.ws_reconnect_ms),
            switch_latency: percentiles(&m.switch_latency_ms),
            switch_success_rate: m.switch_success_rate.map(pct).unwrap_or_else(not_measured),
            context_preserved: m
                .context_preserved_ratio
                .map(pct)
                .unwrap_or_else(not_measured),
            revocation_rest: m.revocation_rest_ms.map(ms).unwrap_or_else(not_measured),
            revocation_ws: m.revocation_ws_ms.map(ms).unwrap_or_else(not_measured),
            histograms,
        }
    }
}

fn not_measured() -> String {
    "not assessed: not measured in this run".to_owned()
}

fn percentiles(p: &Option<Percentiles>) -> String {
    match p {
        Some(p) => format!(
            "p50 {} · p95 {} · p99 {} (n = {})",
            ms(p.p50),
            ms(p.p95),
            ms(p.p99),
            p.count
        ),
        None => not_measured(),
    }
}

fn gaps_of(report: &AuditReport, priority: &str) -> Vec<GapView> {
    report
        .gaps
        .iter()
        .filter(|g| g.priority.eq_ignore_ascii_case(priority))
        .map(|g| GapView {
            id: cell(&g.id),
            component: cell(&g.component),
            check_id: cell(&g.check_id),
            gap: cell(&g.gap),
            impact: cell(&g.impact),
        })
        .collect()
}

fn recommendations_of(report: &AuditReport, horizon: &str) -> Vec<RecommendationView> {
    report
        .recommendations
        .iter()
        .filter(|r| r.horizon.eq_ignore_ascii_case(horizon))
        .map(|r| RecommendationView {
            check_id: cell(&r.check_id),
            text: cell(&r.text),
        })
        .collect()
}

fn contract_line(c: &crate::model::ContractInfo, kind: &str) -> String {
    cell(&format!(
        "{} {} ({kind} {}, {}, {} operations)",
        c.title, c.version, c.spec_version, c.source, c.operations
    ))
}

pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Partial => "partial",
        Status::Fail => "fail",
        Status::NotAssessed => "not assessed",
    }
}

/// One decimal, without a trailing `.0`: `100`, `87.3`, `0`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    let rounded = (v * 10.0).round() / 10.0;
    // Avoid printing `-0`.
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    let text = format!("{rounded:.1}");
    match text.strip_suffix(".0") {
        Some(integral) => integral.to_owned(),
        None => text,
    }
}

/// A 0–1 share as a percentage: `92.3 %`.
pub fn pct(share: f64) -> String {
    format!("{} %", num(share * 100.0))
}

fn ms(v: f64) -> String {
    format!("{} ms", num(v))
}

/// Text made safe for one Markdown table cell: no line breaks, no column separators, and no
/// square brackets, which the report reserves for its checklist boxes.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.trim().chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '\r' => {}
            '\n' | '\t' => out.push(' '),
            '[' => out.push('('),
            ']' => out.push(')'),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_drop_a_trailing_zero_decimal() {
        assert_eq!(num(100.0), "100");
        assert_eq!(num(87.25), "87.3");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(pct(0.923), "92.3 %");
    }

    #[test]
    fn cells_cannot_break_a_table() {
        assert_eq!(cell(" a|b\nc [0] "), "a\\|b c (0)");
    }
}
