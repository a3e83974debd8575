//! Audit profiles: the rubric as data (`audits/*.yaml`): categories with the template's maxima,
//! checks with their points, thresholds, severity and remediation text.
//!
//! Keeping the rubric out of the code lets an auditor re-weight or tighten a threshold without
//! a release, and lets the report state exactly which numbers it was scored against.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const BUNDLED_INTEGRATION: &str = include_str!("../audits/integration.yaml");
pub const BUNDLED_READINESS: &str = include_str!("../audits/readiness.yaml");
pub const BUNDLED_STATUS: &str = include_str!("../audits/status.yaml");

/// The profiles built into the binary, by the name `--profile` takes.
pub const BUNDLED: [(&str, &str); 3] = [
    ("integration", BUNDLED_INTEGRATION),
    ("readiness", BUNDLED_READINESS),
    ("status", BUNDLED_STATUS),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub schema_version: u32,
    pub id: String,
    pub title: String,
    pub template: String,
    pub readiness: Vec<ReadinessBand>,
    /// The best band a run may reach while any `critical` check fails (SSL Labs style: a
    /// critical flaw caps the grade however many points the rest earned). `None`: no cap.
    #[serde(default)]
    pub cap_on_critical: Option<String>,
    pub categories: Vec<Category>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessBand {
    pub min: f64,
    pub band: String,
    pub emoji: String,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub title: String,
    pub template_max: f64,
    pub checks: Vec<CheckSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Curve {
    Linear,
    Log,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub id: String,
    pub title: String,
    pub points: f64,
    /// `ratio`, `ms` or `msg/s`.
    pub unit: String,
    /// The value that earns full credit.
    pub good: f64,
    /// The value that earns none.
    pub poor: f64,
    pub higher_is_better: bool,
    pub curve: Curve,
    pub severity: Severity,
    pub remediation: String,
    /// Set when this version of the tool cannot assess the check at all; the reason is reported.
    #[serde(default)]
    pub not_assessed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
        }
    }

    /// The severity named by `critical`, `high` or `medium`.
    pub fn parse(name: &str) -> Option<Severity> {
        match name {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no audit profile given")]
    NoProfile,
    #[error(
        "unknown profile {name:?}: not a bundled profile (integration, readiness, status) nor a file"
    )]
    Unknown { name: String },
    #[error("profile {name} is malformed: {reason}")]
    Malformed { name: String, reason: String },
}

impl Profile {
    pub fn bundled() -> Result<Profile, ProfileError> {
        Profile::parse(BUNDLED_INTEGRATION, "integration (bundled)")
    }

    /// A bundled profile by name (`integration`, `readiness`, `status`), otherwise a YAML file.
    pub fn resolve(name_or_path: &str) -> Result<Profile, ProfileError> {
        match BUNDLED.iter().find(|(name, _)| *name == name_or_path) {
            Some((name, text)) => Profile::parse(text, &format!("{name} (bundled)")),
            None if !Path::new(name_or_path).exists() => Err(ProfileError::Unknown {
                name: name_or_path.to_string(),
            }),
            None => Profile::load(Path::new(name_or_path)),
        }
    }

    /// Every profile of a `--profile` list, in order; the integration profile when empty.
    pub fn resolve_all(names: &[String]) -> Result<Vec<Profile>, ProfileError> {
        if names.is_empty() {
            return Ok(vec![Profile::bundled()?]);
        }
        let profiles = names
            .iter()
            .map(|n| Profile::resolve(n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::HashSet::new();
        for p in &profiles {
            if !seen.insert(p.id.as_str()) {
                return Err(ProfileError::Malformed {
                    name: p.id.clone(),
                    reason: "two profiles of one run share this id, so their files would collide"
                        .to_string(),
                });
            }
        }
        Ok(profiles)
    }

    /// The name a report file of this profile gets: the integration profile keeps the plain
    /// names (`report.md`, `results.json`), every other profile prefixes its id
    /// (`readiness-report.md`), so several profiles share one output folder.
    pub fn file_name(&self, plain: &str) -> String {
        if self.id == "integration" {
            plain.to_string()
        } else {
            format!("{}-{plain}", self.id)
        }
    }

    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, name: &str) -> Result<Profile, ProfileError> {
        let malformed = |reason: String| ProfileError::Malformed {
            name: name.to_string(),
            reason,
        };
        let profile: Profile = yaml_serde::from_str(text).map_err(|e| malformed(e.to_string()))?;
        profile.validate().map_err(malformed)?;
        Ok(profile)
    }

    /// Rejects rubrics that would make the score meaningless.
    fn validate(&self) -> Result<(), String> {
        if self.schema_version != 1 {
            return Err(format!(
                "schema_version {} is not supported (1 is)",
                self.schema_version
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for category in &self.categories {
            let sum: f64 = category.checks.iter().map(|c| c.points).sum();
            if (sum - category.template_max).abs() > 1e-9 {
                return Err(format!(
                    "category {}: check points sum to {sum}, template_max is {}",
                    category.id, category.template_max
                ));
            }
            for check in &category.checks {
                if !seen.insert(check.id.as_str()) {
                    return Err(format!("check {} appears twice", check.id));
                }
                if check.points.is_nan() || check.points <= 0.0 {
                    return Err(format!("check {}: points must be positive", check.id));
                }
                if check.good == check.poor {
                    return Err(format!("check {}: good and poor must differ", check.id));
                }
                if check.higher_is_better != (check.good > check.poor) {
                    return Err(format!(
                        "check {}: higher_is_better contradicts good {} / poor {}",
                        check.id, check.good, check.poor
                    ));
                }
                if check.curve == Curve::Log && (check.good <= 0.0 || check.poor <= 0.0) {
                    return Err(format!(
                        "check {}: a log curve needs positive thresholds",
                        check.id
                    ));
                }
            }
        }
        if self.readiness.is_empty() {
            return Err("no readiness bands".to_string());
        }
        if let Some(cap) = &self.cap_on_critical
            && !self.readiness.iter().any(|b| &b.band == cap)
        {
            return Err(format!(
                "cap_on_critical {cap:?} is not one of the readiness bands"
            ));
        }
        Ok(())
    }

    pub fn template_max_total(&self) -> f64 {
        self.categories.iter().map(|c| c.template_max).sum()
    }

    pub fn checks(&self) -> impl Iterator<Item = (&Category, &CheckSpec)> {
        self.categories
            .iter()
            .flat_map(|c| c.checks.iter().map(move |k| (c, k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_profile_mirrors_the_template() {
        let p = Profile::bundled().expect("valid");
        assert_eq!(
            p.template_max_total(),
            108.0,
            "seed 000's category maxima sum to 108"
        );
        assert_eq!(p.categories.len(), 7);
    }

    #[test]
    fn bundled_profiles_resolve_by_name_and_share_the_check_ids() {
        let all =
            Profile::resolve_all(&["integration".into(), "readiness".into(), "status".into()])
                .expect("valid");
        let known: std::collections::HashSet<&str> =
            all[0].checks().map(|(_, c)| c.id.as_str()).collect();
        // Readiness components carry 100 points each (seed 002 section 11.1).
        assert!(all[1].categories.iter().all(|c| c.template_max == 100.0));
        for p in &all[1..] {
            for (_, c) in p.checks() {
                assert!(
                    known.contains(c.id.as_str()) || c.not_assessed.is_some(),
                    "{}: {} is measured by no probe and has no reason",
                    p.id,
                    c.id
                );
            }
        }
        assert_eq!(all[1].file_name("report.md"), "readiness-report.md");
        assert_eq!(all[0].file_name("report.md"), "report.md");
        let twice = Profile::resolve_all(&["status".into(), "status".into()]);
        assert!(twice.is_err());
        assert!(Profile::resolve("/no/such/profile.yaml").is_err());
    }

    #[test]
    fn inconsistent_profiles_are_refused() {
        let text = Profile::bundled_text().replace("points: 8\n", "points: 9\n");
        let err = Profile::parse(&text, "x").expect_err("sum off").to_string();
        assert!(err.contains("sum to"), "{err}");
        let text = Profile::bundled_text().replace("cap_on_critical: fair", "cap_on_critical: meh");
        let err = Profile::parse(&text, "z")
            .expect_err("unknown band")
            .to_string();
        assert!(err.contains("cap_on_critical"), "{err}");
        let err = Profile::parse("id: [", "y").expect_err("yaml").to_string();
        assert!(err.contains("malformed"), "{err}");
    }

    impl Profile {
        fn bundled_text() -> String {
            BUNDLED_INTEGRATION.to_string()
        }
    }
}
