//! What one run observed, before any rubric judged it: the findings with their measured
//! values, the operation rows and the metrics. It is saved as `observations.json` next to the
//! reports, so `voice-audit rescore` can score the same run again under another profile with no
//! target, and every report of a run (one per profile) is assembled from it by the same
//! function, whether the run just happened or was read back.

use crate::check::Finding;
use crate::model::{self, AuditReport, Metrics, OperationRow, ProfileInfo, TargetInfo, ToolInfo};
use crate::profile::Profile;
use crate::score;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the `observations.json` format; a different major cannot be read back.
pub const OBSERVATIONS_VERSION: &str = "1.0";
pub const FILE_NAME: &str = "observations.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Observed {
    pub schema_version: String,
    pub tool: ToolInfo,
    pub audit_id: String,
    pub target: TargetInfo,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// One per check a probe produced, secrets already masked; checks of a profile with no
    /// finding here are scored as not assessed with the profile's reason.
    pub findings: Vec<Finding>,
    pub operations: Vec<OperationRow>,
    pub metrics: Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum ObservedError {
    #[error(
        "cannot read {path}: {source} (was the folder written by `voice-audit run` or `demo`?)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

impl Observed {
    /// The same observations with every fractional number kept to 6 decimals. Printed, such a
    /// number has at most 15 significant digits, which JSON parsing reads back exactly, so a
    /// report assembled now and one assembled from the saved file are byte for byte the same
    /// (the full 17 digits of an arbitrary `f64` may come back one unit in the last place off).
    pub fn canonical(self) -> Observed {
        fn round(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Number(n) if n.is_f64() => {
                    if let Some(x) = n.as_f64()
                        && x.abs() < 1e9
                        && let Some(r) = serde_json::Number::from_f64((x * 1e6).round() / 1e6)
                    {
                        *n = r;
                    }
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(round),
                serde_json::Value::Object(map) => map.values_mut().for_each(round),
                _ => {}
            }
        }
        let Ok(mut value) = serde_json::to_value(&self) else {
            return self;
        };
        round(&mut value);
        serde_json::from_value(value).unwrap_or(self)
    }

    pub fn load(dir: &Path) -> Result<Observed, ObservedError> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).map_err(|source| ObservedError::Read {
            path: path.clone(),
            source,
        })?;
        let malformed = |reason: String| ObservedError::Malformed {
            path: path.clone(),
            reason,
        };
        let observed: Observed =
            serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        if major(&observed.schema_version) != major(OBSERVATIONS_VERSION) {
            return Err(malformed(format!(
                "schema_version {} is not {OBSERVATIONS_VERSION}",
                observed.schema_version
            )));
        }
        Ok(observed)
    }

    /// Writes `observations.json` into `dir` and returns its path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, ObservedError> {
        let path = dir.join(FILE_NAME);
        let write_err = |reason: String| ObservedError::Write {
            path: path.clone(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| write_err(e.to_string()))?;
        let mut text = serde_json::to_string_pretty(self).map_err(|e| write_err(e.to_string()))?;
        text.push('\n');
        std::fs::write(&path, text).map_err(|e| write_err(e.to_string()))?;
        Ok(path)
    }

    /// The report of this run under `profile`: a pure function of the two.
    pub fn assemble(&self, profile: &Profile) -> AuditReport {
        let scored = score::score(profile, &self.findings);
        AuditReport {
            schema_version: model::SCHEMA_VERSION.to_string(),
            tool: self.tool.clone(),
            audit_id: self.audit_id.clone(),
            profile: ProfileInfo {
                id: profile.id.clone(),
                title: profile.title.clone(),
                template_max_total: profile.template_max_total(),
                normalisation: format!(
                    "The template's category maxima sum to {}; each assessed check keeps its template points and the assessed points are scaled to 100. Checks that could not be assessed leave the denominator.",
                    profile.template_max_total()
                ),
            },
            target: self.target.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            duration_ms: self.duration_ms,
            operations: self.operations.clone(),
            metrics: {
                let mut metrics = self.metrics.clone();
                crate::run::set_plot_targets(&mut metrics, profile);
                metrics
            },
            gaps: score::gaps(&scored.checks, profile),
            recommendations: score::recommendations(&scored.checks),
            score: scored.scorecard,
            checks: scored.checks,
            evidence_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Finding;

    fn observed(value: f64) -> Observed {
        let now = chrono::DateTime::from_timestamp(1_764_547_200, 123_456_789).unwrap_or_default();
        let contract = crate::model::ContractInfo {
            title: "t".into(),
            version: "1".into(),
            spec_version: "3.1.0".into(),
            source: "bundled".into(),
            operations: 1,
        };
        Observed {
            schema_version: OBSERVATIONS_VERSION.into(),
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
            started_at: now,
            finished_at: now,
            duration_ms: 1,
            findings: vec![
                Finding::ratio("contract.operations_implemented", 11, 12, "operations"),
                Finding::millis("switch.latency", value, "p95".into()),
            ],
            operations: Vec::new(),
            metrics: Metrics {
                ws_throughput_msg_s: Some(value * 7.0),
                ..Metrics::default()
            },
        }
    }

    #[test]
    fn saved_observations_assemble_the_same_report() {
        let profile = Profile::bundled().expect("profile");
        let dir = tempfile::tempdir().expect("dir");
        for value in [
            0.1 + 0.2,
            1.0 / 3.0,
            123.456_789_012_345_67,
            2.2250738585072014e-300,
        ] {
            let now = observed(value).canonical();
            now.save(dir.path()).expect("saved");
            let back = Observed::load(dir.path()).expect("loaded");
            let a = serde_json::to_string(&now.assemble(&profile)).expect("json");
            let b = serde_json::to_string(&back.assemble(&profile)).expect("json");
            assert_eq!(a, b, "{value}");
        }
    }
}
