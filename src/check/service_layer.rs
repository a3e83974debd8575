//! `contract.service_layer`: does the frontend call the backend the way the contract says?
//!
//! Each API call of a recorded frontend HAR is matched to a contract operation by path template,
//! then method, then request body schema. The mismatches seed 001 found by hand (a frontend
//! calling `/auth/login` while the backend serves `/api/v1/auth/login`) become findings with a
//! suggestion. Calls are grouped by method and path (template when matched), so one broken
//! call repeated fifty times weighs as one endpoint. Body violations are reported with their
//! JSON location and the masked schema message, never the value the frontend sent.

use super::Finding;
use crate::contract::{ApiContract, Operation};
use crate::har::{Call, FrontendHar};
use crate::model::OperationRow;
use std::collections::{BTreeMap, BTreeSet};

pub const ID: &str = "contract.service_layer";

/// The finding, and what the frontend did with each operation (by `METHOD path`).
pub struct ServiceLayer {
    pub finding: Finding,
    pub usage: BTreeMap<String, String>,
}

impl ServiceLayer {
    /// Fills the "Frontend Usage" of every operation row.
    pub fn annotate(&self, rows: &mut [OperationRow]) {
        for row in rows {
            let key = format!("{} {}", row.method.to_uppercase(), row.path);
            row.frontend = Some(
                self.usage
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| "not called in the recorded frontend HAR".to_string()),
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Problem {
    NotServed { suggestion: Option<String> },
    WrongMethod { allowed: Vec<String> },
    BodyNotJson,
    MissingBody,
    BodyBreaksSchema(Vec<String>),
}

impl Problem {
    fn text(&self) -> String {
        match self {
            Problem::NotServed {
                suggestion: Some(s),
            } => {
                format!("the backend serves no such path (did you mean {s}?)")
            }
            Problem::NotServed { suggestion: None } => {
                "the backend serves no such path".to_string()
            }
            Problem::WrongMethod { allowed } => format!(
                "wrong method: the contract allows {} on this path",
                allowed.join(", ")
            ),
            Problem::BodyNotJson => "the body is not the JSON the contract expects".to_string(),
            Problem::MissingBody => "the contract requires a body; none was sent".to_string(),
            Problem::BodyBreaksSchema(v) => {
                format!("the body breaks the schema: {}", v.join("; "))
            }
        }
    }
}

/// `prefix`: the path of the audited base URL (`/prefix` of `https://host/prefix`), stripped
/// from calls before matching, as the contract's paths are relative to it.
pub fn check(api: &ApiContract, har: &FrontendHar, prefix: &str) -> ServiceLayer {
    let prefix = prefix.trim_end_matches('/');
    let path_of = |c: &Call| -> String {
        match c.path.strip_prefix(prefix) {
            Some(rest) if !prefix.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
                rest.to_string()
            }
            _ => c.path.clone(),
        }
    };
    // Only the origins that serve at least one contract path are the backend; calls elsewhere
    // (analytics, a CDN) are someone else's API. When none matches, every origin is judged.
    let backend: BTreeSet<&str> = har
        .calls
        .iter()
        .filter(|c| api.operations.iter().any(|op| op.matches_path(&path_of(c))))
        .map(|c| c.origin.as_str())
        .collect();
    let judged: Vec<&Call> = har
        .calls
        .iter()
        .filter(|c| backend.is_empty() || backend.contains(c.origin.as_str()))
        .collect();
    let elsewhere = har.calls.len() - judged.len();

    // (METHOD, path or template) → (calls, problems, first entries, operation label)
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for call in &judged {
        let path = path_of(call);
        let (key_path, op, problem) = judge(api, call, &path);
        // A wrong method is still a use of the operations on that path: their row shows it.
        let neighbours: Vec<String> = match (&problem, op) {
            (Some(Problem::WrongMethod { .. }), None) => api
                .operations
                .iter()
                .filter(|o| o.path == key_path)
                .map(Operation::label)
                .collect(),
            _ => Vec::new(),
        };
        let g = groups
            .entry((call.method.clone(), key_path))
            .or_insert_with(|| Group {
                op: op.map(Operation::label),
                neighbours,
                ..Group::default()
            });
        g.calls += 1;
        if g.entries.len() < 3 {
            g.entries.push(call.entry);
        }
        if let Some(p) = problem
            && !g.problems.contains(&p)
        {
            g.problems.push(p);
        }
    }

    let total = groups.len();
    let passed = groups.values().filter(|g| g.problems.is_empty()).count();
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    let mut usage: BTreeMap<String, String> = BTreeMap::new();
    for ((method, path), g) in &groups {
        let entries = g
            .entries
            .iter()
            .map(|e| format!("#{e}"))
            .collect::<Vec<_>>()
            .join(", ");
        for p in &g.problems {
            details.push(format!(
                "{method} {path} ({} call(s), HAR entries {entries}): {}",
                g.calls,
                p.text()
            ));
        }
        if !g.problems.is_empty() {
            evidence.push(format!("frontend HAR entries {entries} ({method} {path})"));
        }
        if let Some(label) = &g.op {
            let text = if g.problems.is_empty() {
                format!("🟢 called {}× by the frontend, conforms", g.calls)
            } else {
                let problems: Vec<String> = g.problems.iter().map(Problem::text).collect();
                format!("🔴 called {}×: {}", g.calls, problems.join("; "))
            };
            // A wrong-method call sorted earlier may already have noted itself here.
            let noted = usage.remove(label);
            usage.insert(
                label.clone(),
                noted.map_or_else(|| text.clone(), |n| format!("{text}; {n}")),
            );
        }
        for label in &g.neighbours {
            let text = format!("🔴 called {}× with {method}: wrong method", g.calls);
            usage
                .entry(label.clone())
                .and_modify(|u| {
                    u.push_str("; ");
                    u.push_str(&text);
                })
                .or_insert(text);
        }
    }
    let mut finding = Finding::ratio(ID, passed, total, "frontend API endpoints");
    if total > 0 {
        let mut summary = format!(
            "{passed} of {total} API endpoints the frontend called match the contract (path, method, body schema)"
        );
        let mut left_out = Vec::new();
        if elsewhere > 0 {
            left_out.push(format!("{elsewhere} call(s) to other origins"));
        }
        if har.websockets > 0 {
            left_out.push(format!(
                "{} WebSocket connection(s), checked against the AsyncAPI contract instead",
                har.websockets
            ));
        }
        if har.skipped > 0 {
            left_out.push(format!(
                "{} static asset or preflight request(s)",
                har.skipped
            ));
        }
        if !left_out.is_empty() {
            summary.push_str(&format!("; left out: {}", left_out.join(", ")));
        }
        finding = finding.with_summary(summary);
    }
    ServiceLayer {
        finding: finding.with_details(details).with_evidence(evidence),
        usage,
    }
}

#[derive(Default)]
struct Group {
    calls: usize,
    entries: Vec<usize>,
    problems: Vec<Problem>,
    op: Option<String>,
    /// Operations on the path of a wrong-method call.
    neighbours: Vec<String>,
}

/// The path to group by (the template when one matched), the operation, and what is wrong.
fn judge<'a>(
    api: &'a ApiContract,
    call: &Call,
    path: &str,
) -> (String, Option<&'a Operation>, Option<Problem>) {
    let on_path: Vec<&Operation> = api
        .operations
        .iter()
        .filter(|op| op.matches_path(path))
        .collect();
    if on_path.is_empty() {
        return (
            masked_path(path),
            None,
            Some(Problem::NotServed {
                suggestion: suggest(api, &call.method, path),
            }),
        );
    }
    // The most specific template wins (`/sessions/active` over `/sessions/{id}`).
    let best = |ops: &mut Vec<&'a Operation>| {
        ops.sort_by_key(|op| std::cmp::Reverse(literal_segments(&op.path)));
        ops.first().copied()
    };
    let mut same_method: Vec<&Operation> = on_path
        .iter()
        .copied()
        .filter(|op| op.method.eq_ignore_ascii_case(&call.method))
        .collect();
    let Some(op) = best(&mut same_method) else {
        let mut all = on_path.clone();
        let template = best(&mut all).map_or_else(|| path.to_string(), |op| op.path.clone());
        let allowed: BTreeSet<String> = on_path
            .iter()
            .filter(|op| op.path == template)
            .map(|op| op.method.clone())
            .collect();
        return (
            template,
            None,
            Some(Problem::WrongMethod {
                allowed: allowed.into_iter().collect(),
            }),
        );
    };
    (op.path.clone(), Some(op), body_problem(api, op, call))
}

fn body_problem(api: &ApiContract, op: &Operation, call: &Call) -> Option<Problem> {
    let spec = op.body.as_ref()?;
    let Some(body) = &call.body else {
        return spec.required.then_some(Problem::MissingBody);
    };
    if !spec.content_type.contains("json") {
        return None;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&body.text) else {
        return Some(Problem::BodyNotJson);
    };
    let pointer = spec.schema.as_deref()?;
    let validator = api.schemas.compile(pointer).ok()?;
    let violations: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() {
                "(root)".to_string()
            } else {
                at
            };
            format!("{at}: {}", e.masked())
        })
        .collect();
    (!violations.is_empty()).then_some(Problem::BodyBreaksSchema(violations))
}

/// A path the contract does not know, with segments that look like credentials (a JWT, a long
/// opaque token) masked: a frontend may carry a reset token or an API key in its URLs.
fn masked_path(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let opaque = seg.len() >= 32
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~%=".contains(&b));
            if seg.starts_with("eyJ") || opaque {
                "{redacted}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn literal_segments(template: &str) -> usize {
    template
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .count()
}

/// An operation of the same method whose path differs only by leading segments: the frontend
/// dropped (`/auth/login`) or added a prefix against the contract's `/api/v1/auth/login`.
fn suggest(api: &ApiContract, method: &str, path: &str) -> Option<String> {
    let actual: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    api.operations
        .iter()
        .filter(|op| op.method.eq_ignore_ascii_case(method))
        .find(|op| {
            let template: Vec<&str> = op.path.split('/').filter(|s| !s.is_empty()).collect();
            let n = template.len().min(actual.len());
            n > 0
                && template.len() != actual.len()
                && template[template.len() - n..]
                    .iter()
                    .zip(&actual[actual.len() - n..])
                    .all(|(t, a)| t == a || (t.starts_with('{') && t.ends_with('}')))
                && template[template.len() - n..]
                    .iter()
                    .any(|t| !t.starts_with('{'))
        })
        .map(Operation::label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::BUNDLED_OPENAPI;
    use crate::har::RequestBody;

    fn call(entry: usize, method: &str, path: &str, body: Option<&str>) -> Call {
        Call {
            entry,
            method: method.to_string(),
            origin: "https://api.example.test".to_string(),
            path: path.to_string(),
            body: body.map(|t| RequestBody {
                mime_type: "application/json".to_string(),
                text: t.to_string(),
            }),
        }
    }

    #[test]
    fn prefix_method_and_body_mismatches_are_each_found() {
        let api = ApiContract::parse(BUNDLED_OPENAPI, "bundled").expect("contract");
        let har = FrontendHar {
            calls: vec![
                call(
                    0,
                    "POST",
                    "/auth/login",
                    Some(r#"{"email":"a@b.test","password":"pw-secret-1"}"#),
                ),
                call(1, "DELETE", "/api/v1/auth/me", None),
                call(
                    2,
                    "POST",
                    "/api/v1/sessions",
                    Some(r#"{"provider": 42, "secret": "pw-secret-1"}"#),
                ),
                call(3, "GET", "/api/v1/auth/me", None),
                call(
                    4,
                    "GET",
                    "/reset/eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
                    None,
                ),
            ],
            ..FrontendHar::default()
        };
        let out = check(&api, &har, "");
        let text = out.finding.details.join("\n");
        assert!(
            text.contains("did you mean POST /api/v1/auth/login"),
            "{text}"
        );
        assert!(text.contains("wrong method"), "{text}");
        assert!(text.contains("breaks the schema"), "{text}");
        assert!(
            !text.contains("pw-secret-1"),
            "a value sent by the frontend leaked: {text}"
        );
        assert!(
            text.contains("GET /reset/{redacted}") && !text.contains("eyJ"),
            "{text}"
        );
        assert_eq!(out.finding.details.len(), 4, "{text}");
        match &out.finding.outcome {
            crate::check::Outcome::Measured { value, .. } => assert_eq!(*value, 0.2),
            other => panic!("{other:?}"),
        }
        let me = &out.usage["GET /api/v1/auth/me"];
        assert!(
            me.starts_with("🟢") && me.contains("with DELETE: wrong method"),
            "{me}"
        );
        assert!(out.usage["POST /api/v1/sessions"].starts_with("🔴"));
    }
}
