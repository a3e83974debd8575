//! `voice-audit rescore DIR`: scores a finished run again, with no target.
//!
//! A run saves what it observed (`observations.json`) next to its reports; scoring is a pure
//! function of those observations and a profile, so re-scoring with the same profile gives the
//! same `results.json`, and re-scoring with another rubric (a stricter threshold, another
//! weighting, the readiness or status profile) gives that rubric's verdict on the same evidence.

use crate::error::AuditError;
use crate::evidence::EvidenceLog;
use crate::observed::Observed;
use crate::profile::Profile;
use crate::report::Format;
use crate::run::Audit;
use std::path::{Path, PathBuf};

/// Re-scores the run saved in `dir` under `profiles` (bundled names or files; integration when
/// empty) and writes `formats` into `out` (`dir` itself when `None`). Returns the audit and the
/// files written.
pub fn rescore(
    dir: &Path,
    profiles: &[String],
    formats: &[Format],
    out: Option<&Path>,
) -> Result<(Audit, Vec<PathBuf>), AuditError> {
    let observed = Observed::load(dir)?;
    let profiles = Profile::resolve_all(profiles)?;
    let out = out.unwrap_or(dir);
    let same_folder = match (dir.canonicalize(), out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => dir == out,
    };
    // The evidence stays where the run wrote it; the reports point there.
    let evidence_dir = dir.join("evidence").is_dir().then(|| {
        if same_folder {
            "evidence".to_string()
        } else {
            dir.join("evidence").display().to_string()
        }
    });
    let mut audit = Audit::from_observed(observed, profiles, EvidenceLog::default())?;
    audit.report.evidence_dir = evidence_dir.clone();
    for (_, r) in &mut audit.others {
        r.evidence_dir = evidence_dir.clone();
    }
    let mut written = Vec::new();
    if !same_folder {
        // The new folder can be re-scored in its turn.
        written.push(audit.observed.save(out)?);
    }
    written.extend(crate::report_set::write(audit.reports(), formats, out)?);
    Ok((audit, written))
}
