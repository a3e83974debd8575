//! Fixed `AuditReport`s for the renderers' tests: fixed timestamps and ids, so snapshots need
//! no redaction. Points are normalised the way scoring does it (template points over the points
//! of assessed checks, times 100), so the fixtures look like real runs.

use chrono::{DateTime, TimeZone, Utc};

use crate::model::*;

/// (id, category, title, template points, target, severity, unobservable from a backend probe)
const CHECKS: &[(&str, &str, &str, f64, &str, &str, bool)] = &[
    (
        "contract.operations_implemented",
        "api_contract",
        "Endpoint implementation completeness",
        8.0,
        "100 %",
        "critical",
        false,
    ),
    (
        "contract.response_schema",
        "api_contract",
        "Response status, content type and schema conform",
        4.0,
        "100 %",
        "high",
        false,
    ),
    (
        "contract.invalid_input_rejected",
        "api_contract",
        "Invalid requests answered with 4xx",
        3.0,
        "100 %",
        "high",
        false,
    ),
    (
        "contract.version_compat",
        "api_contract",
        "API versioning and published contract compatibility",
        5.0,
        "100 %",
        "medium",
        false,
    ),
    (
        "contract.service_layer",
        "api_contract",
        "Frontend service layer integration",
        5.0,
        "100 %",
        "medium",
        true,
    ),
    (
        "auth.token_lifecycle",
        "auth",
        "Token lifecycle (issue, validate, refresh rotation, reuse detection)",
        5.0,
        "100 %",
        "critical",
        false,
    ),
    (
        "auth.revocation_rest",
        "auth",
        "Revoked token rejected on REST",
        3.0,
        "< 100 ms",
        "critical",
        false,
    ),
    (
        "auth.revocation_ws",
        "auth",
        "Revoked token closes open WebSockets",
        2.0,
        "< 1000 ms",
        "high",
        false,
    ),
    (
        "auth.enforced",
        "auth",
        "Secured operations refuse requests without a token",
        3.0,
        "100 %",
        "critical",
        false,
    ),
    (
        "auth.cross_user_isolation",
        "auth",
        "A user cannot read another user's sessions",
        2.0,
        "100 %",
        "critical",
        false,
    ),
    (
        "auth.cross_tab_sync",
        "auth",
        "Cross-tab synchronization",
        5.0,
        "100 %",
        "medium",
        true,
    ),
    (
        "state.persistence_readback",
        "state",
        "Session state written through REST and WebSocket reads back",
        8.0,
        "100 %",
        "high",
        false,
    ),
    (
        "state.two_tier_storage",
        "state",
        "Two-tier storage survives cache loss",
        7.0,
        "100 %",
        "high",
        true,
    ),
    (
        "state.recovery_after_restart",
        "state",
        "Session recovery after restart",
        5.0,
        "100 %",
        "high",
        true,
    ),
    (
        "state.cross_tab_state",
        "state",
        "Cross-tab state synchronization",
        5.0,
        "100 %",
        "medium",
        true,
    ),
    (
        "ws.connect_time",
        "realtime",
        "WebSocket connect time (p95)",
        2.0,
        "< 500 ms",
        "high",
        false,
    ),
    (
        "ws.heartbeat",
        "realtime",
        "Heartbeat (ping → pong with timestamps)",
        2.0,
        "100 %",
        "high",
        false,
    ),
    (
        "ws.resume_no_loss",
        "realtime",
        "Reconnection with resume loses no event",
        1.0,
        "100 %",
        "high",
        false,
    ),
    (
        "ws.reconnect_time",
        "realtime",
        "Reconnection time (reconnect to first replayed event)",
        1.0,
        "< 2000 ms",
        "medium",
        false,
    ),
    (
        "ws.event_schema",
        "realtime",
        "Every server event matches its AsyncAPI schema",
        2.0,
        "100 %",
        "high",
        false,
    ),
    (
        "ws.ordering",
        "realtime",
        "Session events strictly ordered by seq",
        2.0,
        "100 %",
        "high",
        false,
    ),
    (
        "ws.event_latency",
        "realtime",
        "Event delivery latency (text → transcript, p95)",
        1.0,
        "< 100 ms",
        "medium",
        false,
    ),
    (
        "ws.throughput",
        "realtime",
        "Message throughput",
        1.0,
        "> 1000 msg/s",
        "medium",
        false,
    ),
    (
        "switch.no_message_loss",
        "realtime",
        "No event lost across provider switches",
        3.0,
        "100 %",
        "critical",
        false,
    ),
    (
        "switch.announced",
        "realtime",
        "Each switch announced on the stream (provider_switched)",
        3.0,
        "100 %",
        "medium",
        false,
    ),
    (
        "switch.latency",
        "switching",
        "Provider switch latency (p95)",
        1.0,
        "< 500 ms",
        "high",
        false,
    ),
    (
        "switch.success_rate",
        "switching",
        "Switch success rate",
        1.0,
        "≥ 99 %",
        "high",
        false,
    ),
    (
        "switch.mid_call",
        "switching",
        "Switch in the middle of a live stream keeps the stream usable",
        2.0,
        "100 %",
        "high",
        false,
    ),
    (
        "switch.context_preserved",
        "switching",
        "Conversation context preserved",
        3.0,
        "100 %",
        "critical",
        false,
    ),
    (
        "switch.auto_failover",
        "switching",
        "Auto-failover",
        3.0,
        "100 %",
        "high",
        false,
    ),
    (
        "errors.problem_json",
        "errors",
        "One error format (RFC 9457 problem+json) everywhere",
        2.0,
        "100 %",
        "medium",
        false,
    ),
    (
        "ws.malformed_handling",
        "errors",
        "Malformed WebSocket frames answered, connection kept",
        2.0,
        "100 %",
        "high",
        false,
    ),
    (
        "errors.invalid_provider",
        "errors",
        "Invalid provider refused without side effects",
        1.0,
        "100 %",
        "medium",
        false,
    ),
    (
        "tests.deployment_suite",
        "tests",
        "The deployment's own integration, contract and E2E tests",
        5.0,
        "100 %",
        "medium",
        true,
    ),
];

const CATEGORIES: &[(&str, &str, f64)] = &[
    ("api_contract", "API Contract Coverage", 25.0),
    ("auth", "Authentication & Authorization", 20.0),
    ("state", "State Management & Persistence", 25.0),
    ("realtime", "Real-time Communication", 18.0),
    ("switching", "Provider Switching & Failover", 10.0),
    ("errors", "Error Handling & Recovery", 5.0),
    ("tests", "Test Coverage & Validation", 5.0),
];

/// What a fixture says about one check: status, credit, measurement, summary, details.
struct Outcome {
    status: Status,
    credit: f64,
    measured: Option<Measurement>,
    summary: String,
    details: Vec<String>,
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 14, h, m, s)
        .single()
        .unwrap_or_default()
}

fn measure(value: f64, unit: &str) -> Measurement {
    let display = match unit {
        "ms" => format!("{value} ms"),
        "msg/s" => format!("{value} msg/s"),
        _ => format!("{} %", value * 100.0),
    };
    Measurement {
        value,
        unit: unit.to_owned(),
        display,
    }
}

fn default_measure(target: &str) -> Measurement {
    if target.ends_with("msg/s") {
        measure(2400.0, "msg/s")
    } else if target.ends_with("ms") {
        measure(12.5, "ms")
    } else {
        measure(1.0, "ratio")
    }
}

/// The profile's reasons, shortened.
fn not_assessed_reason(id: &str) -> &'static str {
    match id {
        "state.two_tier_storage" => {
            "Needs a hook that takes the target's cache down during the run."
        }
        "state.recovery_after_restart" => {
            "Needs a command that restarts the target (--restart-cmd)."
        }
        "tests.deployment_suite" => {
            "The deployment's own test suites are not observable from outside."
        }
        "ws.throughput" => "The throughput burst was skipped in a read-only run.",
        _ => "Happens inside the browser; cannot be observed by probing the backend.",
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Builds a report from one outcome per check; `outcome` returns `None` to take the default
/// (pass, or not assessed for the checks a backend probe cannot observe).
fn build(
    outcome: impl Fn(&str) -> Option<Outcome>,
    metrics: Metrics,
    operations: Vec<OperationRow>,
) -> AuditReport {
    let outcomes: Vec<Outcome> = CHECKS
        .iter()
        .map(|&(id, _, _, _, target, _, unobservable)| {
            outcome(id).unwrap_or_else(|| {
                if unobservable {
                    Outcome {
                        status: Status::NotAssessed,
                        credit: 0.0,
                        measured: None,
                        summary: "Not assessed.".to_owned(),
                        details: vec![],
                    }
                } else {
                    Outcome {
                        status: Status::Pass,
                        credit: 1.0,
                        measured: Some(default_measure(target)),
                        summary: "Meets the target.".to_owned(),
                        details: vec![],
                    }
                }
            })
        })
        .collect();
    let assessed_points: f64 = CHECKS
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.status != Status::NotAssessed)
        .map(|(c, _)| c.3)
        .sum();
    let all_points: f64 = CHECKS.iter().map(|c| c.3).sum();
    let scale = if assessed_points > 0.0 {
        100.0 / assessed_points
    } else {
        0.0
    };

    let checks: Vec<CheckResult> = CHECKS
        .iter()
        .zip(outcomes)
        .map(|(&(id, category, title, points, target, severity, _), o)| {
            let assessed = o.status != Status::NotAssessed;
            let points_max = if assessed { points * scale } else { 0.0 };
            CheckResult {
                id: id.to_owned(),
                category: category.to_owned(),
                title: title.to_owned(),
                status: o.status,
                credit: assessed.then_some(o.credit),
                points_max,
                points_earned: points_max * o.credit,
                measured: o.measured,
                target: target.to_owned(),
                summary: o.summary,
                details: o.details,
                evidence: if assessed {
                    vec![format!("evidence/http.har#{id}")]
                } else {
                    vec![]
                },
                severity: severity.to_owned(),
                remediation: format!("Fix {id}."),
                not_assessed_reason: (!assessed).then(|| not_assessed_reason(id).to_owned()),
            }
        })
        .collect();

    let categories: Vec<CategoryScore> = CATEGORIES
        .iter()
        .map(|&(id, title, template_max)| {
            let of_cat: Vec<&CheckResult> = checks.iter().filter(|c| c.category == id).collect();
            let assessed: Vec<&&CheckResult> = of_cat
                .iter()
                .filter(|c| c.status != Status::NotAssessed)
                .collect();
            let status = if assessed.is_empty() {
                Status::NotAssessed
            } else if assessed.iter().all(|c| c.status == Status::Pass) {
                Status::Pass
            } else if assessed.iter().all(|c| c.status == Status::Fail) {
                Status::Fail
            } else {
                Status::Partial
            };
            CategoryScore {
                id: id.to_owned(),
                title: title.to_owned(),
                template_max,
                max: round1(of_cat.iter().map(|c| c.points_max).sum()),
                score: round1(of_cat.iter().map(|c| c.points_earned).sum()),
                status,
                assessed_checks: assessed.len(),
                total_checks: of_cat.len(),
            }
        })
        .collect();
    let total = round1(categories.iter().map(|c| c.score).sum());
    let (band, emoji, label) = match total {
        t if t >= 88.0 => (
            "excellent",
            "🟢",
            "Excellent: production-ready with comprehensive integration",
        ),
        t if t >= 75.0 => (
            "good",
            "🟡",
            "Good: production-ready with minor improvements needed",
        ),
        t if t >= 60.0 => (
            "fair",
            "🟠",
            "Fair: major improvements required before production",
        ),
        _ => (
            "poor",
            "🔴",
            "Poor: critical integration issues must be resolved",
        ),
    };

    let mut gaps = Vec::new();
    let mut recommendations = Vec::new();
    for priority in ["critical", "high", "medium"] {
        let (prefix, horizon) = match priority {
            "critical" => ("B", "immediate"),
            "high" => ("H", "short_term"),
            _ => ("M", "long_term"),
        };
        let failing = checks.iter().filter(|c| {
            c.severity == priority && matches!(c.status, Status::Fail | Status::Partial)
        });
        for (n, c) in failing.enumerate() {
            let component = CATEGORIES
                .iter()
                .find(|cat| cat.0 == c.category)
                .map(|cat| cat.1)
                .unwrap_or_default();
            gaps.push(Gap {
                id: format!("{prefix}{:03}", n + 1),
                priority: priority.to_owned(),
                component: component.to_owned(),
                check_id: c.id.clone(),
                gap: c.summary.clone(),
                impact: format!("Loses {:.1} points.", c.points_max - c.points_earned),
            });
            recommendations.push(Recommendation {
                horizon: horizon.to_owned(),
                check_id: c.id.clone(),
                text: c.remediation.clone(),
            });
        }
    }

    AuditReport {
        schema_version: SCHEMA_VERSION.to_owned(),
        tool: ToolInfo {
            name: "voice-audit".to_owned(),
            version: "0.1.0".to_owned(),
        },
        audit_id: "FE-BE-INT-20251014-a1b2c3".to_owned(),
        profile: ProfileInfo {
            id: "integration".to_owned(),
            title: "Frontend ↔ Backend Integration Audit".to_owned(),
            template_max_total: all_points,
            normalisation: "The template's 108 points are scaled to 100 over the checks that could be assessed.".to_owned(),
        },
        target: TargetInfo {
            base_url: "http://127.0.0.1:8080".to_owned(),
            contract: ContractInfo {
                title: "Voice Backend API".to_owned(),
                version: "1.0.0".to_owned(),
                spec_version: "3.1.0".to_owned(),
                source: "bundled".to_owned(),
                operations: operations.len(),
            },
            ws_contract: ContractInfo {
                title: "Voice Session Stream".to_owned(),
                version: "1.0.0".to_owned(),
                spec_version: "3.0.0".to_owned(),
                source: "bundled".to_owned(),
                operations: 4,
            },
            read_only: false,
        },
        started_at: at(9, 30, 0),
        finished_at: at(9, 30, 42),
        duration_ms: 42_350,
        score: Scorecard {
            total,
            max: 100.0,
            assessed_share: if all_points > 0.0 { assessed_points / all_points } else { 0.0 },
            readiness: Readiness {
                band: band.to_owned(),
                emoji: emoji.to_owned(),
                label: label.to_owned(),
                capped_by: Vec::new(),
            },
            categories,
        },
        checks,
        operations,
        metrics,
        gaps,
        recommendations,
        evidence_dir: Some("evidence".to_owned()),
    }
}

fn percentiles(p50: f64) -> Percentiles {
    Percentiles {
        count: 50,
        min: p50 / 2.0,
        p50,
        p95: p50 * 2.0,
        p99: p50 * 3.0,
        max: p50 * 4.0,
        mean: p50 * 1.1,
    }
}

fn full_metrics() -> Metrics {
    Metrics {
        ws_connect_ms: Some(percentiles(4.2)),
        ws_event_latency_ms: Some(percentiles(6.0)),
        ws_throughput_msg_s: Some(2400.0),
        ws_reconnect_ms: Some(percentiles(15.0)),
        switch_latency_ms: Some(percentiles(40.0)),
        switch_success_rate: Some(1.0),
        context_preserved_ratio: Some(1.0),
        revocation_rest_ms: Some(3.0),
        revocation_ws_ms: Some(120.0),
        distributions: Distributions {
            ws_connect_ms: distribution("ws.connect_time", 500.0, 4.2),
            ws_event_latency_ms: distribution("ws.event_latency", 100.0, 6.0),
            switch_latency_ms: distribution("switch.latency", 500.0, 40.0),
        },
        load_steps: Vec::new(),
    }
}

/// 50 fixed samples spread around `p50` (ms), bucketed the way a run does it.
fn distribution(check_id: &str, target_ms: f64, p50: f64) -> Option<Distribution> {
    let mut l = crate::stats::Latencies::new();
    for i in 0..50u32 {
        let factor = 0.5 + f64::from(i * i) / 700.0;
        l.record(std::time::Duration::from_secs_f64(p50 * factor / 1000.0));
    }
    l.distribution(check_id, Some(target_ms))
}

fn operations() -> Vec<OperationRow> {
    let op =
        |method: &str, path: &str, id: &str, implemented, contract, notes: &str| OperationRow {
            method: method.to_owned(),
            path: path.to_owned(),
            operation_id: id.to_owned(),
            implemented,
            contract,
            notes: notes.to_owned(),
            frontend: None,
        };
    vec![
        op(
            "POST",
            "/api/v1/sessions",
            "createSession",
            Status::Pass,
            Status::Pass,
            "201 as documented",
        ),
        op(
            "GET",
            "/api/v1/sessions/{id}",
            "getSession",
            Status::Pass,
            Status::Pass,
            "",
        ),
        op(
            "POST",
            "/api/v1/sessions/{id}/switch-provider",
            "switchProvider",
            Status::Pass,
            Status::Pass,
            "",
        ),
        op(
            "GET",
            "/api/v1/health",
            "health",
            Status::Pass,
            Status::Pass,
            "",
        ),
    ]
}

/// Every assessable check passes: score 100.
pub fn all_pass() -> AuditReport {
    build(|_| None, full_metrics(), operations())
}

/// A failure of each severity, a partial, extra not-assessed checks, and text that needs
/// escaping in every format (`|`, `<`, `&`, brackets, a newline).
pub fn mixed() -> AuditReport {
    let outcome = |id: &str| -> Option<Outcome> {
        let o = |status, credit, measured, summary: &str, details: &[&str]| Outcome {
            status,
            credit,
            measured,
            summary: summary.to_owned(),
            details: details.iter().map(|d| (*d).to_owned()).collect(),
        };
        match id {
            "contract.operations_implemented" => Some(o(
                Status::Partial,
                0.6,
                Some(Measurement {
                    value: 0.8,
                    unit: "ratio".to_owned(),
                    display: "4/5".to_owned(),
                }),
                "1 of 5 documented operations is not implemented.",
                &["GET /api/v1/sessions/{id}/switch-history answered 404"],
            )),
            "auth.revocation_rest" => Some(o(
                Status::Fail,
                0.0,
                Some(measure(6200.0, "ms")),
                "A revoked token was still accepted for 6.2 s.",
                &["GET /api/v1/sessions answered 200 <after> revocation & logout"],
            )),
            "contract.response_schema" => Some(o(
                Status::Partial,
                0.6,
                Some(Measurement {
                    value: 0.8,
                    unit: "ratio".to_owned(),
                    display: "8/10".to_owned(),
                }),
                "2 of 10 responses break their schema.",
                &[
                    "GET /api/v1/sessions/{id}: /items[0]/provider is null | expected string",
                    "POST /api/v1/sessions: missing content type\nsecond line",
                ],
            )),
            "ws.reconnect_time" => Some(o(
                Status::Partial,
                0.5,
                Some(measure(4000.0, "ms")),
                "Reconnection p95 is 4000 ms.",
                &[],
            )),
            "switch.announced" => Some(o(
                Status::Fail,
                0.0,
                Some(measure(0.0, "ratio")),
                "No provider_switched event was sent.",
                &[],
            )),
            "ws.throughput" => Some(Outcome {
                status: Status::NotAssessed,
                credit: 0.0,
                measured: None,
                summary: "Not assessed.".to_owned(),
                details: vec![],
            }),
            _ => None,
        }
    };
    let mut metrics = full_metrics();
    metrics.ws_throughput_msg_s = None;
    metrics.revocation_rest_ms = Some(6200.0);
    let mut ops = operations();
    ops.push(OperationRow {
        method: "GET".to_owned(),
        path: "/api/v1/sessions/{id}/switch-history".to_owned(),
        operation_id: "getSwitchHistory".to_owned(),
        implemented: Status::Fail,
        contract: Status::NotAssessed,
        notes: "answered 404".to_owned(),
        frontend: None,
    });
    build(outcome, metrics, ops)
}

/// Nothing could be measured (the target went away): no metrics, no operations, every check
/// not assessed, no evidence folder.
pub fn empty_metrics() -> AuditReport {
    let mut report = build(
        |_| {
            Some(Outcome {
                status: Status::NotAssessed,
                credit: 0.0,
                measured: None,
                summary: "Not assessed.".to_owned(),
                details: vec![],
            })
        },
        Metrics::default(),
        Vec::new(),
    );
    for c in &mut report.checks {
        c.not_assessed_reason =
            Some("The target stopped answering before this check ran.".to_owned());
    }
    report.evidence_dir = None;
    report
}
