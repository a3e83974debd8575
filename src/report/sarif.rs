//! `voice-audit.sarif`: failed checks as SARIF 2.1.0 results, for code-scanning dashboards.
//!
//! One rule per check of the run (so a dashboard can list what was checked), one result per
//! failed or partly failed check. SARIF is about source files; the audit's nearest "source" is
//! the contract it held the deployment to, so each result points at the OpenAPI document and,
//! where the check judges operations, names the operations that fell short as logical
//! locations. Passed and not-assessed checks produce no result: not assessed is not a defect
//! of the target, and the run's properties still say how many there were.

use serde_json::{Value, json};

use crate::model::{AuditReport, CheckResult, OperationRow, Status};

use super::ReportError;

/// Where the bundled contract lives in this repository, for results against it.
const BUNDLED_OPENAPI_PATH: &str = "contracts/openapi.yaml";

pub fn render(report: &AuditReport) -> Result<String, ReportError> {
    let rules: Vec<Value> = report.checks.iter().map(rule).collect();
    let results: Vec<Value> = report
        .checks
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.status, Status::Fail | Status::Partial))
        .map(|(i, c)| result(report, i, c))
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "rules": rules,
            }},
            "automationDetails": {"id": format!("voice-audit/{}/{}", report.profile.id, report.audit_id)},
            "invocations": [{
                "executionSuccessful": true,
                "startTimeUtc": report.started_at.to_rfc3339(),
                "endTimeUtc": report.finished_at.to_rfc3339(),
            }],
            "results": results,
            "properties": {
                "target": report.target.base_url,
                "score": report.score.total,
                "readiness": report.score.readiness.band,
                "assessedShare": report.score.assessed_share,
                "notAssessedChecks": report.checks.iter().filter(|c| c.status == Status::NotAssessed).count(),
            },
        }],
    });
    Ok(serde_json::to_string_pretty(&doc)?)
}

fn rule(c: &CheckResult) -> Value {
    json!({
        "id": c.id,
        "name": pascal(&c.id),
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": format!("{} Full credit at {}.", c.title, c.target)},
        "help": {"text": if c.remediation.is_empty() { c.title.clone() } else { c.remediation.clone() }},
        "defaultConfiguration": {"level": level(&c.severity)},
        "properties": {"category": c.category, "severity": c.severity, "tags": [c.category.clone()]},
    })
}

fn result(report: &AuditReport, index: usize, c: &CheckResult) -> Value {
    let mut text = format!("{}: {}", c.title, c.summary.trim_end_matches('.'));
    text.push('.');
    if let Some(m) = &c.measured {
        text.push_str(&format!(" Measured {}, target {}.", m.display, c.target));
    }
    let operations: Vec<&OperationRow> = operations_of(report, c).collect();
    let logical: Vec<Value> = operations
        .iter()
        .map(|o| {
            json!({
                "name": o.operation_id,
                "fullyQualifiedName": format!("{} {}", o.method.to_uppercase(), o.path),
                "kind": "function",
            })
        })
        .collect();
    let source = &report.target.contract.source;
    let mut location = json!({
        "physicalLocation": {"artifactLocation": {"uri": contract_uri(source)}},
    });
    // The line of the first operation's path in the contract, when the text is at hand.
    if let Some(line) = operations
        .first()
        .and_then(|o| path_line(&contract_text(source)?, &o.path))
    {
        location["physicalLocation"]["region"] = json!({"startLine": line});
    }
    if !logical.is_empty() {
        location["logicalLocations"] = Value::Array(logical);
    }
    json!({
        "ruleId": c.id,
        "ruleIndex": index,
        "level": level(&c.severity),
        "kind": "fail",
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"voiceAuditCheck/v1": format!("{}:{}", report.target.base_url, c.id)},
        "properties": {
            "status": super::context::status_label(c.status),
            "pointsEarned": c.points_earned,
            "pointsMax": c.points_max,
            "details": c.details,
            "evidence": c.evidence,
        },
    })
}

/// The operations a contract check judged and found wanting; none for other checks.
fn operations_of<'a>(
    report: &'a AuditReport,
    c: &CheckResult,
) -> impl Iterator<Item = &'a OperationRow> {
    let field: Option<fn(&OperationRow) -> Status> = match c.id.as_str() {
        "contract.operations_implemented" => Some(|o| o.implemented),
        "contract.response_schema" => Some(|o| o.contract),
        _ => None,
    };
    report
        .operations
        .iter()
        .filter(move |o| field.is_some_and(|f| matches!(f(o), Status::Fail | Status::Partial)))
}

/// The contract as an artifact: the repository's bundled file, a file as given, or its URL.
fn contract_uri(source: &str) -> String {
    if source == "bundled" || source.is_empty() {
        BUNDLED_OPENAPI_PATH.to_owned()
    } else {
        source.replace('\\', "/")
    }
}

/// The contract's text: the bundled document, or a local file that can still be read.
fn contract_text(source: &str) -> Option<String> {
    if source == "bundled" {
        return Some(crate::contract::BUNDLED_OPENAPI.to_owned());
    }
    if source.contains("://") {
        return None;
    }
    std::fs::read_to_string(source).ok()
}

/// 1-based line declaring `path` under `paths` (YAML `/p:` or JSON `"/p":`).
fn path_line(text: &str, path: &str) -> Option<usize> {
    let (yaml, json) = (format!("{path}:"), format!("\"{path}\":"));
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(&yaml) || l.starts_with(&json)
        })
        .map(|i| i + 1)
}

/// Critical and high failures are errors (they block an integration), medium ones warnings.
fn level(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        _ => "note",
    }
}

/// `switch.latency` → `SwitchLatency`: SARIF's rule names are identifiers.
fn pascal(id: &str) -> String {
    id.split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map_or_else(String::new, |f| {
                f.to_uppercase().collect::<String>() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn sarif_has_the_required_fields_and_one_result_per_failed_check() {
        let report = fixture::mixed();
        let doc: Value = serde_json::from_str(&render(&report).unwrap()).unwrap();
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "voice-audit");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), report.checks.len());
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Partial))
            .map(|c| c.id.as_str())
            .collect();
        assert!(!failed.is_empty(), "the mixed fixture has failures");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), failed.len());
        for r in results {
            let id = r["ruleId"].as_str().unwrap();
            assert!(failed.contains(&id), "{id} did not fail");
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], id, "ruleIndex points at its rule");
            assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
            assert!(!r["message"]["text"].as_str().unwrap().is_empty());
            let uri = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
            assert_eq!(uri, "contracts/openapi.yaml");
        }
    }

    #[test]
    fn operations_are_found_on_their_line() {
        let text = "paths:\n  /a:\n    get: {}\n  \"/b/{id}\": {}\n";
        assert_eq!(path_line(text, "/a"), Some(2));
        assert_eq!(path_line(text, "/b/{id}"), Some(4));
        assert_eq!(path_line(text, "/c"), None);
        let bundled = contract_text("bundled").unwrap();
        assert!(path_line(&bundled, "/api/v1/sessions/{session_id}").is_some());
    }

    #[test]
    fn levels_follow_severity_and_names_are_identifiers() {
        assert_eq!(level("critical"), "error");
        assert_eq!(level("high"), "error");
        assert_eq!(level("medium"), "warning");
        assert_eq!(
            pascal("contract.operations_implemented"),
            "ContractOperationsImplemented"
        );
    }

    #[test]
    fn a_clean_run_has_rules_and_no_results() {
        let doc: Value = serde_json::from_str(&render(&fixture::all_pass()).unwrap()).unwrap();
        assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
        assert!(
            !doc["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}
