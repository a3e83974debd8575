//! Contract checks over the recorded HTTP exchanges: is every operation implemented, does every
//! answer match its documented status, content type and schema, is invalid input refused with a
//! 4xx, is every error a problem document, do secured operations refuse anonymous calls, and
//! does the deployment publish a compatible contract.
//!
//! A request that got no answer (timeout, reset) says nothing about schemas or authentication:
//! those exchanges are left out here and judged by `errors.availability` instead.

use super::Finding;
use crate::contract::ApiContract;
use crate::evidence::{Exchange, Purpose};
use crate::probe::walk::WalkObservation;
use serde_json::Value;

const PROBLEM: &str = "application/problem+json";

pub fn findings(
    api: &ApiContract,
    exchanges: &[Exchange],
    walk: &WalkObservation,
    no_token_ws: Option<Option<u16>>,
) -> Vec<Finding> {
    vec![
        implemented(api, exchanges, &walk.skipped),
        response_schema(api, exchanges),
        invalid_input(exchanges, walk),
        version_compat(api, exchanges),
        problem_json(exchanges),
        auth_enforced(exchanges, no_token_ws),
        super::availability::finding(exchanges, walk),
    ]
}

/// Whether an exchange got an HTTP answer at all.
fn answered(e: &Exchange) -> bool {
    e.status.is_some()
}

fn valid_exchange<'a>(exchanges: &'a [Exchange], operation_id: &str) -> Option<&'a Exchange> {
    exchanges
        .iter()
        .find(|e| e.purpose == Purpose::Valid && e.operation_id.as_deref() == Some(operation_id))
}

fn status_text(e: &Exchange) -> String {
    match (e.status, &e.error) {
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(err)) => err.clone(),
        (None, None) => "no answer".to_string(),
    }
}

/// Whether a valid request's answer shows a working operation: an answer that is not 404/405
/// (no such route) and not 5xx (the route exists but does not work).
pub fn implemented_status(status: Option<u16>) -> bool {
    status.is_some_and(|s| s < 500 && s != 404 && s != 405)
}

/// Implemented: a valid request got an answer that is not 404, 405 or a 5xx.
fn implemented(api: &ApiContract, exchanges: &[Exchange], skipped: &[(String, String)]) -> Finding {
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    let mut total = 0;
    let mut passed = 0;
    for op in &api.operations {
        let Some(e) = valid_exchange(exchanges, &op.operation_id) else {
            if let Some((_, why)) = skipped.iter().find(|(id, _)| id == &op.operation_id) {
                details.push(format!("{} not exercised: {why}", op.label()));
            }
            continue;
        };
        total += 1;
        if implemented_status(e.status) {
            passed += 1;
        } else {
            details.push(format!(
                "{} answered a valid request with {} ({})",
                op.label(),
                status_text(e),
                e.id
            ));
            evidence.push(e.id.clone());
        }
    }
    Finding::ratio(
        "contract.operations_implemented",
        passed,
        total,
        "operations",
    )
    .with_details(details)
    .with_evidence(evidence)
}

/// Every problem with one exchange against its operation's documented responses.
pub fn conformance_problems(api: &ApiContract, e: &Exchange) -> Vec<String> {
    let Some(op) = e.operation_id.as_deref().and_then(|id| api.by_id(id)) else {
        return Vec::new();
    };
    let Some(status) = e.status else {
        return vec![format!("no answer: {}", status_text(e))];
    };
    let mut problems = Vec::new();
    if e.purpose == Purpose::Valid && !(200..300).contains(&status) {
        problems.push(format!("a valid request was answered with HTTP {status}"));
    }
    let Some(spec) = op.response_for(status) else {
        problems.push(format!("HTTP {status} is not a documented response"));
        return problems;
    };
    if spec.content.is_empty() {
        return problems;
    }
    let media = e.media_type().unwrap_or_default();
    let Some((_, schema)) = spec
        .content
        .iter()
        .find(|(ct, _)| ct.eq_ignore_ascii_case(&media))
    else {
        let documented: Vec<&str> = spec.content.iter().map(|(c, _)| c.as_str()).collect();
        problems.push(format!(
            "content type {media:?} is not one of {documented:?}"
        ));
        return problems;
    };
    if let Some(pointer) = schema {
        match e.json() {
            Some(body) => problems.extend(
                api.schemas
                    .validate(pointer, &body)
                    .iter()
                    .map(|v| format!("schema: {v}")),
            ),
            None => problems.push("the body is not JSON".to_string()),
        }
    }
    problems
}

/// Per operation: every exchange it took part in conforms.
fn response_schema(api: &ApiContract, exchanges: &[Exchange]) -> Finding {
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    let mut total = 0;
    let mut passed = 0;
    for op in &api.operations {
        let mine: Vec<&Exchange> = exchanges
            .iter()
            .filter(|e| e.operation_id.as_deref() == Some(op.operation_id.as_str()))
            .filter(|e| answered(e))
            .collect();
        if mine.is_empty() {
            continue;
        }
        total += 1;
        let mut ok = true;
        for e in mine {
            let problems = conformance_problems(api, e);
            if !problems.is_empty() {
                ok = false;
                evidence.push(e.id.clone());
                for p in problems.iter().take(3) {
                    details.push(format!("{} ({}, {:?}): {p}", op.label(), e.id, e.purpose));
                }
            }
        }
        if ok {
            passed += 1;
        }
    }
    Finding::ratio("contract.response_schema", passed, total, "operations")
        .with_details(details)
        .with_evidence(evidence)
}

/// Invalid bodies, malformed JSON and a wrong content type must get a 4xx (not 401/403/404/405,
/// which would mean the request was not even looked at for the right reason; 415 is right for
/// the content type); each failure names the rule the request broke.
fn invalid_input(exchanges: &[Exchange], walk: &WalkObservation) -> Finding {
    let probes: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| matches!(e.purpose, Purpose::InvalidBody | Purpose::MalformedJson))
        .filter(|e| answered(e))
        .collect();
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    let mut passed = 0;
    for e in &probes {
        match e.status {
            Some(s) if (400..500).contains(&s) && !matches!(s, 401 | 403 | 404 | 405) => {
                passed += 1
            }
            _ => {
                let what = walk
                    .negative
                    .iter()
                    .find(|c| c.exchange_id == e.id)
                    .map(|c| c.violates.clone())
                    .unwrap_or_else(|| match e.purpose {
                        Purpose::InvalidBody => "a schema-breaking body".to_string(),
                        _ => "malformed JSON".to_string(),
                    });
                details.push(format!(
                    "{} {} with {what}: {} ({})",
                    e.method,
                    e.path,
                    status_text(e),
                    e.id
                ));
                evidence.push(e.id.clone());
            }
        }
    }
    Finding::ratio(
        "contract.invalid_input_rejected",
        passed,
        probes.len(),
        "invalid requests",
    )
    .with_details(details)
    .with_evidence(evidence)
}

/// Every 4xx/5xx is `application/problem+json` with a `title` and the same `status`.
fn problem_json(exchanges: &[Exchange]) -> Finding {
    let errors: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| e.status.is_some_and(|s| s >= 400))
        .collect();
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    let mut passed = 0;
    for e in &errors {
        let status = e.status.unwrap_or_default();
        let body = e.json();
        let problem = if e.media_type().as_deref() != Some(PROBLEM) {
            Some(format!(
                "content type {:?}",
                e.media_type().unwrap_or_default()
            ))
        } else {
            match &body {
                None => Some("body is not JSON".to_string()),
                Some(b) if b.get("status").and_then(Value::as_u64) != Some(u64::from(status)) => {
                    Some(format!(
                        "body status {:?} differs from HTTP {status}",
                        b.get("status")
                    ))
                }
                Some(b) if b.get("title").and_then(Value::as_str).is_none() => {
                    Some("no title".to_string())
                }
                Some(_) => None,
            }
        };
        match problem {
            None => passed += 1,
            Some(p) => {
                details.push(format!(
                    "{} {} → HTTP {status}: {p} ({})",
                    e.method, e.path, e.id
                ));
                evidence.push(e.id.clone());
            }
        }
    }
    Finding::ratio(
        "errors.problem_json",
        passed,
        errors.len(),
        "error responses",
    )
    .with_details(details)
    .with_evidence(evidence)
}

/// Secured operations called without a token must answer 401; so must the stream's upgrade.
fn auth_enforced(exchanges: &[Exchange], no_token_ws: Option<Option<u16>>) -> Finding {
    let probes: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| e.purpose == Purpose::NoToken)
        .filter(|e| answered(e))
        .collect();
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    let mut passed = 0;
    for e in &probes {
        if e.status == Some(401) {
            passed += 1;
        } else {
            details.push(format!(
                "{} {} without a token: {} ({})",
                e.method,
                e.path,
                status_text(e),
                e.id
            ));
            evidence.push(e.id.clone());
        }
    }
    let mut total = probes.len();
    if let Some(ws_status) = no_token_ws {
        total += 1;
        if ws_status == Some(401) {
            passed += 1;
        } else {
            details.push(format!(
                "WebSocket upgrade without a token: {ws_status:?} (expected HTTP 401)"
            ));
        }
    }
    Finding::ratio("auth.enforced", passed, total, "anonymous requests")
        .with_summary(format!(
            "{passed} of {total} requests without a token were refused with 401"
        ))
        .with_details(details)
        .with_evidence(evidence)
}

/// The deployment's own published contract (the `published_contract` role): published, same
/// major version, every audited operation present.
fn version_compat(api: &ApiContract, exchanges: &[Exchange]) -> Finding {
    let id = "contract.version_compat";
    let published = exchanges
        .iter()
        .rev()
        .find(|e| e.purpose == Purpose::Scenario("published-contract".into()));
    let Some(e) = published else {
        return Finding::not_assessed(
            id,
            "the published contract was not requested (role published_contract is not bound)",
        );
    };
    let total = 2 + api.operations.len();
    let doc = match (e.status, e.json()) {
        (Some(200), Some(doc)) if doc.get("paths").is_some() => doc,
        _ => {
            return Finding::ratio(id, 0, total, "compatibility items")
                .with_details(vec![format!(
                    "{} {}: {} without an OpenAPI document ({})",
                    e.method,
                    e.path,
                    status_text(e),
                    e.id
                )])
                .with_evidence(vec![e.id.clone()]);
        }
    };
    let mut passed = 1;
    let mut details = Vec::new();
    let major = |v: &str| v.split('.').next().unwrap_or("").to_string();
    let theirs = doc
        .pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("");
    if major(theirs) == major(&api.version) && !theirs.is_empty() {
        passed += 1;
    } else {
        details.push(format!(
            "published version {theirs:?}, audited contract {:?}",
            api.version
        ));
    }
    for op in &api.operations {
        let present = doc
            .pointer(&format!(
                "/paths/{}/{}",
                crate::contract::schema::pointer_token(&op.path),
                op.method.to_ascii_lowercase()
            ))
            .is_some();
        if present {
            passed += 1;
        } else {
            details.push(format!(
                "{} is missing from the published contract",
                op.label()
            ));
        }
    }
    Finding::ratio(id, passed, total, "compatibility items")
        .with_details(details)
        .with_evidence(vec![e.id.clone()])
}
