//! A finding: what one check concluded from the observations, before any scoring.
//!
//! A finding carries the measured value (a share, a latency, a rate) and the facts behind it;
//! whether that value is good enough is the profile's call, made in `score`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// A measured value in the check's unit, with its printable form.
    Measured { value: f64, display: String },
    /// The check could not run; the reason is reported and the check leaves the denominator.
    NotAssessed { reason: String },
    /// The target's own behaviour kept the check from measuring anything (every switch refused,
    /// the stream never alive): nothing shows the promise holds, so the check earns zero. It is
    /// not "not assessed", which is reserved for what the tool lacks.
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check_id: String,
    pub outcome: Outcome,
    pub summary: String,
    /// One line per failed item (operation, event, switch…), empty when everything passed.
    pub details: Vec<String>,
    pub evidence: Vec<String>,
}

impl Finding {
    /// A share of items that passed, e.g. 11 of 12 operations.
    pub fn ratio(check_id: &str, passed: usize, total: usize, what: &str) -> Finding {
        if total == 0 {
            return Finding::not_assessed(check_id, &format!("no {what} could be exercised"));
        }
        Finding {
            check_id: check_id.to_string(),
            outcome: Outcome::Measured {
                value: passed as f64 / total as f64,
                display: format!("{passed}/{total}"),
            },
            summary: format!("{passed} of {total} {what} passed"),
            details: Vec::new(),
            evidence: Vec::new(),
        }
    }

    pub fn millis(check_id: &str, ms: f64, summary: String) -> Finding {
        Finding {
            check_id: check_id.to_string(),
            outcome: Outcome::Measured {
                value: ms,
                display: format!("{ms:.1} ms"),
            },
            summary,
            details: Vec::new(),
            evidence: Vec::new(),
        }
    }

    pub fn rate(check_id: &str, per_second: f64, summary: String) -> Finding {
        Finding {
            check_id: check_id.to_string(),
            outcome: Outcome::Measured {
                value: per_second,
                display: format!("{per_second:.0} msg/s"),
            },
            summary,
            details: Vec::new(),
            evidence: Vec::new(),
        }
    }

    pub fn not_assessed(check_id: &str, reason: &str) -> Finding {
        Finding {
            check_id: check_id.to_string(),
            outcome: Outcome::NotAssessed {
                reason: reason.to_string(),
            },
            summary: format!("not assessed: {reason}"),
            details: Vec::new(),
            evidence: Vec::new(),
        }
    }

    /// A check the target kept from running; it scores zero and the summary says why.
    pub fn failed(check_id: &str, reason: &str) -> Finding {
        Finding {
            check_id: check_id.to_string(),
            outcome: Outcome::Failed {
                reason: reason.to_string(),
            },
            summary: format!("failed: {reason}"),
            details: Vec::new(),
            evidence: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> Finding {
        self.details = details;
        self
    }

    pub fn with_evidence(mut self, evidence: Vec<String>) -> Finding {
        self.evidence = evidence;
        self
    }

    pub fn with_summary(mut self, summary: String) -> Finding {
        self.summary = summary;
        self
    }
}
