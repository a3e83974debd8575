//! `report.md`: seed 000's audit template, every placeholder replaced by what the audit measured.
//!
//! The template only arranges text; the numbers and wording come from [`ReportContext`], so a
//! custom template (`--templates`) gets the same values as the embedded one.

use crate::model::AuditReport;

use super::{ReportContext, ReportError};

pub fn render(report: &AuditReport, template: &str) -> Result<String, ReportError> {
    let ctx = ReportContext::new(report);
    let context = tera::Context::from_serialize(&ctx).map_err(render_error)?;
    // Markdown is not HTML: escaping would turn `<500 ms` into `&lt;500 ms`.
    tera::Tera::one_off(template, &context, false).map_err(render_error)
}

fn render_error(source: tera::Error) -> ReportError {
    super::render_failed("report.md", source)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{EMBEDDED_MARKDOWN_TEMPLATE, context::num, fixture};
    use super::*;
    use crate::model::Status;

    /// Every heading of seed 000, in order. Two seed headings carry claims about the seed's own
    /// frontend (`(5 New Services)`, `(Total: 21 services, 5,269 lines)`); the report keeps the
    /// heading without them.
    const SEED_HEADINGS: &[&str] = &[
        "## Executive Summary",
        "## 0. Integration Evidence Checklist",
        "### Backend Implementation Evidence",
        "#### Authentication & Token Management",
        "#### Session Management & Provider Switching",
        "#### Provider Failover & Context Preservation",
        "#### Call State Persistence",
        "### Frontend Implementation Evidence",
        "#### Authentication & State Management",
        "#### Cross-Tab State Synchronization",
        "#### Provider Session Management",
        "#### API Service Layer",
        "#### Additional Supporting Services",
        "## 1. Audit Objectives & Scope",
        "### Primary Objectives",
        "### Scope Coverage",
        "## 2. Prerequisites & Environment Setup",
        "### Required Documentation",
        "### Tools & Access",
        "### Test Environment Configuration",
        "## 3. API Contract Assessment",
        "### 3.1 Endpoint Coverage Analysis",
        "### 3.2 Schema Validation Results",
        "#### Request Schema Compliance",
        "#### Response Schema Compliance",
        "### 3.3 Versioning & Compatibility",
        "#### API Version Management",
        "#### Contract Evolution",
        "## 4. Real-time Communication Assessment",
        "### 4.1 WebSocket Integration Health",
        "### 4.2 Event Flow Validation",
        "#### Transcript Events",
        "#### AI Insight Events",
        "#### Call Status Events",
        "### 4.3 Performance Metrics",
        "## 5. Provider Switching Integration Assessment",
        "### 5.1 Backend API Implementation",
        "#### Session Management Endpoints",
        "#### Provider Switching Request Schema",
        "#### Provider Switching Response Schema",
        "### 5.2 Frontend Client Implementation",
        "#### Provider Session Client",
        "### 5.3 Context Preservation During Switch",
        "#### Backend Context Preservation",
        "#### Frontend Context Handling",
        "### 5.4 Mid-Call Switching Capabilities",
        "#### Switch Flow Validation",
        "#### Performance Metrics",
        "### 5.5 Auto-Failover Integration",
        "#### Health Check Integration",
        "#### Failover Triggers",
        "## 6. Session Persistence & Recovery Assessment",
        "### 6.1 Database Persistence Architecture",
        "#### Call State Model",
        "### 6.2 Two-Tier Storage Architecture",
        "#### Tier 1: Redis Cache (Performance Layer)",
        "#### Tier 2: PostgreSQL/SQLite (Persistence Layer)",
        "### 6.3 Session Recovery Mechanisms",
        "#### Call State Manager",
        "### 6.4 State Persistence Operations",
        "#### Registration (Create)",
        "#### Update (Modify)",
        "#### Query (Read)",
        "#### Termination (End)",
        "### 6.5 Persistence Validation Checklist",
        "#### Database Operations",
        "#### Redis Cache Operations",
        "#### Performance Validation",
        "## 7. Cross-Tab State Synchronization Assessment",
        "### 7.1 BroadcastChannel Implementation",
        "#### Cross-Tab Sync Service",
        "### 7.2 Authentication State Synchronization",
        "#### Auth Store Integration",
        "### 7.3 Session State Synchronization",
        "#### Session Updates",
        "#### State Consistency",
        "### 7.4 Cross-Tab Sync Validation",
        "#### Functional Requirements",
        "#### Performance Requirements",
        "#### Reliability Requirements",
        "## 8. Authentication & Authorization Assessment",
        "### 8.1 Token Management & Revocation",
        "#### Backend Token Revocation Service",
        "### 8.2 Token Lifecycle Management",
        "### 8.3 Permission Flow Validation",
        "#### Role-Based Access Control",
        "#### Session Management",
        "### 8.4 Security Integration",
        "#### CORS Configuration",
        "#### CSRF Protection",
        "## 9. Error Handling & Recovery Assessment",
        "### 9.1 HTTP Error Response Analysis",
        "### 9.2 WebSocket Error Handling",
        "#### Connection Errors",
        "#### Message Errors",
        "### 9.3 Business Logic Error Scenarios",
        "## 10. State Management & Synchronization",
        "### 10.1 Client-Server State Consistency",
        "### 10.2 Optimistic Updates",
        "#### Update Scenarios",
        "#### Rollback Mechanisms",
        "### 10.3 Data Hydration & Recovery",
        "#### Page Reload Recovery",
        "#### Network Interruption Handling",
        "## 11. Integration Testing Coverage",
        "### 11.1 Test Suite Analysis",
        "### 11.2 Missing Test Scenarios",
        "#### Critical Integration Flows",
        "#### Edge Cases",
        "## 12. Gap Analysis & Prioritization",
        "### 12.1 Critical Integration Blockers",
        "### 12.2 High Priority Integration Issues",
        "### 12.3 Medium Priority Improvements",
        "## 13. Evidence Collection",
        "### 13.1 Required Artifacts",
        "### 13.2 Documentation Standards",
        "## 14. Scoring & Readiness Assessment",
        "### 14.1 Integration Health Scores",
        "#### Detailed Scoring Breakdown (Target: 88/100)",
        "### 14.2 Overall Integration Readiness",
        "### 14.3 Score Interpretation Guide",
        "## 15. Recommendations & Action Plan",
        "### 15.1 Immediate Fixes (Week 1)",
        "### 15.2 Short-term Improvements (Weeks 2-3)",
        "### 15.3 Long-term Enhancements (Month 2)",
        "## 16. Sign-off",
        "## Appendix",
        "### A. Technical Environment Details",
        "### B. Test Methodology",
        "### C. Integration Standards",
    ];

    /// Placeholder tokens of seed 000 that must never survive into a report.
    const SEED_PLACEHOLDERS: &[&str] = &[
        "[DATE]",
        "[Name]",
        "[YYYY-MM-DD]",
        "[Value]",
        "[Gap]",
        "[Impact]",
        "[ms]",
        "[Details]",
        "[X]",
        "[Notes]",
        "[Component]",
        "[Description]",
        "[Story Points]",
        "[Date]",
        "[Score]",
        "🟢/🟡/🔴",
        "_____",
    ];

    /// Every leftover placeholder in `text`: the seed's own tokens, and any bracketed text that
    /// is not a checklist box (`[ ]`, `[x]`); the renderer never emits other brackets.
    fn placeholders(text: &str) -> Vec<String> {
        let mut found: Vec<String> = SEED_PLACEHOLDERS
            .iter()
            .filter(|p| text.contains(*p))
            .map(|p| (*p).to_owned())
            .collect();
        let mut rest = text;
        while let Some(start) = rest.find('[') {
            let after = &rest[start + 1..];
            let end = after.find(']').unwrap_or(after.len());
            let inner = &after[..end];
            if inner != " " && inner != "x" {
                found.push(format!("[{inner}]"));
            }
            rest = &after[end.min(after.len())..];
        }
        found
    }

    fn render_embedded(report: &crate::model::AuditReport) -> String {
        render(report, EMBEDDED_MARKDOWN_TEMPLATE).unwrap()
    }

    fn assert_headings_in_order(text: &str) {
        let mut expected = SEED_HEADINGS.iter().peekable();
        for line in text.lines() {
            if expected.peek().is_some_and(|h| **h == line) {
                expected.next();
            }
        }
        let missing: Vec<_> = expected.collect();
        assert!(
            missing.is_empty(),
            "headings missing or out of order, from {missing:?}"
        );
    }

    /// Rows of one table have as many cells as its header: no text broke a row.
    fn assert_tables_well_formed(text: &str) {
        let cells = |line: &str| line.replace("\\|", "").matches('|').count();
        let mut width = None;
        for line in text.lines() {
            if line.starts_with('|') {
                match width {
                    None => width = Some(cells(line)),
                    Some(w) => assert_eq!(cells(line), w, "broken table row: {line}"),
                }
            } else {
                width = None;
            }
        }
    }

    #[test]
    fn the_placeholder_scanner_finds_the_seed_tokens() {
        let seed = "| a | 🟢/🟡/🔴 | [Value] |\n- [ ] item\n- [x] done\n[Critical fix with owner]";
        assert_eq!(
            placeholders(seed),
            [
                "[Value]",
                "🟢/🟡/🔴",
                "[Value]",
                "[Critical fix with owner]"
            ]
        );
    }

    #[test]
    fn every_fixture_fills_every_placeholder_and_keeps_the_seed_structure() {
        let mut no_checks = fixture::empty_metrics();
        no_checks.checks.clear();
        for report in [
            fixture::all_pass(),
            fixture::mixed(),
            fixture::empty_metrics(),
            no_checks,
        ] {
            let text = render_embedded(&report);
            assert_eq!(placeholders(&text), Vec::<String>::new());
            assert_headings_in_order(&text);
            assert_tables_well_formed(&text);
            let headline = format!("**Score: {}/100**", num(report.score.total));
            assert!(
                text.lines().any(|l| l == headline),
                "no headline {headline}"
            );
            assert!(text.contains("not assessed: frontend not observable from a backend probe"));
            assert!(
                text.contains("**Audit Completed By:** voice-audit 0.1.0 **Date:** 2025-10-14")
            );
        }
    }

    #[test]
    fn all_pass_scores_100_without_gaps() {
        let text = render_embedded(&fixture::all_pass());
        assert!(text.contains("**Score: 100/100**"));
        assert!(text.contains("- **Current Score:** 100/100"));
        assert!(text.contains("| 88-100 | 🟢 Excellent | Production-ready with comprehensive integration ← this audit |"));
        // Three empty gap tables, each with its `none` row.
        assert_eq!(
            text.matches("| none | none | none | none | none | none | none |")
                .count(),
            3
        );
        // The only red mark is the interpretation guide's `Poor` row.
        assert_eq!(
            text.matches("🔴").count(),
            1,
            "a passing report shows no red mark"
        );
    }

    #[test]
    fn mixed_report_lists_each_gap_in_its_priority_table() {
        let report = fixture::mixed();
        let text = render_embedded(&report);
        let section = |from: &str, to: &str| {
            let start = text.find(from).unwrap();
            let end = start + text[start..].find(to).unwrap();
            text[start..end].to_owned()
        };
        let tables = [
            ("critical", section("### 12.1", "### 12.2")),
            ("high", section("### 12.2", "### 12.3")),
            ("medium", section("### 12.3", "## 13.")),
        ];
        assert!(!report.gaps.is_empty());
        for gap in &report.gaps {
            let (_, table) = tables.iter().find(|(p, _)| *p == gap.priority).unwrap();
            let row = format!("| {} | {} (`{}`) |", gap.id, gap.component, gap.check_id);
            assert!(
                table.contains(&row),
                "{row} not in the {} table",
                gap.priority
            );
        }
        for rec in &report.recommendations {
            assert!(text.contains(&format!("`{}`: {}", rec.check_id, rec.text)));
        }
        // A failing check leaves its checklist box empty and shows red; a pass ticks it.
        assert!(
            text.contains("- [ ] Token revocation test logs — 🔴 6200 ms (`auth.revocation_rest`)")
        );
        assert!(text.contains("- [x] Can initiate switch during active call — 🟢"));
        // Not assessed shows its own reason.
        assert!(text.contains(
            "| **Message Throughput** | > 1000 msg/s | ⚪ not assessed: The throughput burst was skipped in a read-only run. |"
        ));
        // Text from the target cannot break a table or smuggle in brackets.
        assert!(text.contains("/items(0)/provider is null \\| expected string"));
    }

    #[test]
    fn scoring_section_shows_each_category_with_its_template_maximum() {
        let report = fixture::mixed();
        let text = render_embedded(&report);
        for cat in &report.score.categories {
            let line = format!(
                "**{}: {}/{}** (template maximum {};",
                cat.title,
                num(cat.score),
                num(cat.max),
                num(cat.template_max)
            );
            assert!(text.contains(&line), "missing {line}");
        }
        for c in report
            .checks
            .iter()
            .filter(|c| c.status != Status::NotAssessed)
        {
            let points = format!(
                "(`{}`): {}/{} points",
                c.id,
                num(c.points_earned),
                num(c.points_max)
            );
            assert!(text.contains(&points), "missing {points}");
        }
        assert!(text.contains(&report.profile.normalisation));
        assert!(text.contains(&format!(
            "carry {} of the profile's points",
            super::super::context::pct(report.score.assessed_share)
        )));
    }

    #[test]
    fn empty_metrics_report_says_what_was_not_measured() {
        let text = render_embedded(&fixture::empty_metrics());
        assert!(text.contains("**Score: 0/100**"));
        assert!(
            text.contains("Latency histograms: not assessed: no latency was measured in this run.")
        );
        assert!(text.contains("not assessed: The target stopped answering before this check ran."));
        assert!(text.contains("- [ ] HAR files from critical user journeys — ⚪ not assessed: this run wrote no evidence folder"));
    }

    #[test]
    fn snapshot_of_the_mixed_report() {
        insta::assert_snapshot!("report_md_mixed", render_embedded(&fixture::mixed()));
    }
}
