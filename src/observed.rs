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
            metrics: self.metrics.clone(),
            gaps: score::gaps(&scored.checks, profile),
            recommendations: score::recommendations(&scored.checks),
            score: scored.scorecard,
            checks: scored.checks,
            evidence_dir: None,
        }
    }
}
