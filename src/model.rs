//! The finished result of an audit, as every report format sees it.
//!
//! Probes produce observations and checks produce findings; scoring turns findings into this
//! `AuditReport`. Renderers (Markdown, JSON, JUnit, terminal) only read it, so every format shows
//! the same numbers. It is also the versioned `results.json` schema, and `--baseline` reads it
//! back, so fields are only ever added.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the `results.json` schema. Bump the minor for added fields, the major for changes.
/// 1.2 added `operations[].frontend` (what a recorded frontend HAR did with the operation) and
/// `metrics.distributions` (latency buckets for the HTML report's plots).
pub const SCHEMA_VERSION: &str = "1.2";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditReport {
    pub schema_version: String,
    pub tool: ToolInfo,
    /// `FE-BE-INT-YYYYMMDD-xxxxxx`, as the template's audit id.
    pub audit_id: String,
    pub profile: ProfileInfo,
    pub target: TargetInfo,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub score: Scorecard,
    pub checks: Vec<CheckResult>,
    /// One row per contract operation (seed 000 §3.1 / §5.1).
    pub operations: Vec<OperationRow>,
    pub metrics: Metrics,
    /// Failed and partial checks, most severe first (seed 000 §12).
    pub gaps: Vec<Gap>,
    /// Remediation text of failed and partial checks, by urgency (seed 000 §15).
    pub recommendations: Vec<Recommendation>,
    /// Folder (relative to the report) holding the HAR and WebSocket logs, when written.
    pub evidence_dir: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileInfo {
    pub id: String,
    pub title: String,
    /// Sum of the template's category maxima (108 for seed 000).
    pub template_max_total: f64,
    /// Human sentence on how the template's points were normalised to 100.
    pub normalisation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    pub base_url: String,
    pub contract: ContractInfo,
    pub ws_contract: ContractInfo,
    /// Whether the run was read-only (no data created on the target).
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContractInfo {
    pub title: String,
    pub version: String,
    /// `openapi` / `asyncapi` version of the document, e.g. `3.1.0`.
    pub spec_version: String,
    /// `bundled`, a file path, or a URL.
    pub source: String,
    pub operations: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Partial,
    Fail,
    NotAssessed,
}

impl Status {
    /// The template's traffic lights; not-assessed is a neutral mark.
    pub fn emoji(self) -> &'static str {
        match self {
            Status::Pass => "🟢",
            Status::Partial => "🟡",
            Status::Fail => "🔴",
            Status::NotAssessed => "⚪",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scorecard {
    /// Normalised total, 0–100, one decimal; always the sum of `categories[].score`.
    pub total: f64,
    pub max: f64,
    /// Share (0–1) of the profile's points whose checks could be assessed.
    pub assessed_share: f64,
    pub readiness: Readiness,
    pub categories: Vec<CategoryScore>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    /// `excellent`, `good`, `fair`, `poor` (seed 000 §14.3).
    pub band: String,
    pub emoji: String,
    pub label: String,
    /// Critical checks that failed and held the band below what the score alone would give
    /// (the profile's `cap_on_critical`); empty when the band follows the score.
    #[serde(default)]
    pub capped_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategoryScore {
    pub id: String,
    pub title: String,
    /// The category's maximum in the template (e.g. 25 of 108).
    pub template_max: f64,
    /// Its share of the normalised 100, counting only assessed checks.
    pub max: f64,
    /// Points earned, on the same normalised scale; one decimal.
    pub score: f64,
    pub status: Status,
    pub assessed_checks: usize,
    pub total_checks: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub category: String,
    pub title: String,
    pub status: Status,
    /// 0–1 credit from the profile's thresholds; `None` when not assessed.
    pub credit: Option<f64>,
    /// Normalised points this check can earn (0 when not assessed).
    pub points_max: f64,
    pub points_earned: f64,
    pub measured: Option<Measurement>,
    /// The threshold that earns full credit, as text (`< 500 ms`, `100 %`).
    pub target: String,
    pub summary: String,
    pub details: Vec<String>,
    /// Evidence references: exchange ids in `evidence/http.har`, lines of `evidence/ws-*.jsonl`.
    pub evidence: Vec<String>,
    /// `critical`, `high` or `medium`: where a failure lands in the gap tables.
    pub severity: String,
    pub remediation: String,
    pub not_assessed_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub value: f64,
    /// `ms`, `msg/s`, `ratio`.
    pub unit: String,
    /// Ready-to-print form, e.g. `3.2 ms`, `98.0 %`, `12/12`.
    pub display: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationRow {
    pub method: String,
    pub path: String,
    pub operation_id: String,
    /// Answered with a documented status (not 404/405/501).
    pub implemented: Status,
    /// Status, content type and schema conform.
    pub contract: Status,
    pub notes: String,
    /// What a recorded frontend HAR (`--frontend-har`) did with this operation: `🟢 called
    /// 3× by the frontend, conforms`, `🔴 called 1×: wrong method…`, or that it was not called.
    /// Absent when no HAR was given (schema 1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metrics {
    pub ws_connect_ms: Option<Percentiles>,
    pub ws_event_latency_ms: Option<Percentiles>,
    pub ws_throughput_msg_s: Option<f64>,
    pub ws_reconnect_ms: Option<Percentiles>,
    pub switch_latency_ms: Option<Percentiles>,
    pub switch_success_rate: Option<f64>,
    pub context_preserved_ratio: Option<f64>,
    pub revocation_rest_ms: Option<f64>,
    pub revocation_ws_ms: Option<f64>,
    /// Schema 1.2: the shape of each latency, for the HTML report's plots (a 1.1 file reads
    /// back with none).
    #[serde(default)]
    pub distributions: Distributions,
    /// Schema 1.2: one row per step of the load phase (`--load`), for the HTML report's plot;
    /// absent without a load phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_steps: Vec<LoadStepMetric>,
}

/// One step of the load phase as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadStepMetric {
    /// `health`, `read`, `switch` or `stream`.
    pub role: String,
    /// `200 req/s` or `64 concurrent clients`.
    pub step: String,
    pub sent: u64,
    /// Answers (2xx–4xx) per second.
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// 5xx answers and transport failures.
    pub errors: u64,
    pub timeouts: u64,
}

/// Histograms of the latencies summarised in [`Metrics`], from the same samples; `None` where
/// nothing was measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distributions {
    pub ws_connect_ms: Option<Distribution>,
    pub ws_event_latency_ms: Option<Distribution>,
    pub switch_latency_ms: Option<Distribution>,
}

/// One latency as histogram buckets (ms), with the check it feeds and that check's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The check scored from these samples, e.g. `switch.latency`.
    pub check_id: String,
    /// The profile's full-credit threshold of that check (ms), drawn as the target line.
    pub target_ms: Option<f64>,
    /// Samples in all buckets together (equals the matching `Percentiles::count`).
    pub count: u64,
    /// Adjacent buckets from the smallest to the largest sample, in order.
    pub buckets: Vec<Bucket>,
}

/// Samples in `[low_ms, high_ms)` (the last bucket includes `high_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub low_ms: f64,
    pub high_ms: f64,
    pub count: u64,
}

/// Latency summary from an HDR histogram (microsecond resolution, reported in ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gap {
    /// `B001` (critical), `H001` (high), `M001` (medium).
    pub id: String,
    pub priority: String,
    pub component: String,
    pub check_id: String,
    pub gap: String,
    pub impact: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommendation {
    /// `immediate` (critical), `short_term` (high), `long_term` (medium).
    pub horizon: String,
    pub check_id: String,
    pub text: String,
}
