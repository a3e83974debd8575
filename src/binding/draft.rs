//! `voice-audit bind`: drafts a binding from any OpenAPI document, so writing one for a foreign
//! deployment starts from guesses instead of a blank page. Every guess says what it matched on,
//! and every role it could not fill is listed as unbound; a human reviews the draft.

use crate::contract::{ApiContract, Operation};
use serde_json::Value;
use std::fmt::Write as _;

/// (role, method, words that suggest it in the path or operation id, words that rule it out).
const HINTS: &[(&str, &str, &[&str], &[&str])] = &[
    (
        "register",
        "POST",
        &["register", "signup", "sign-up", "sign_up"],
        &[],
    ),
    (
        "login",
        "POST",
        &["login", "signin", "sign-in", "sign_in", "token"],
        &["refresh", "logout"],
    ),
    ("refresh", "POST", &["refresh"], &[]),
    (
        "logout_all",
        "POST",
        &["logout-all", "logoutall", "logout_all", "sign-out-all"],
        &[],
    ),
    (
        "logout",
        "POST",
        &["logout", "signout", "sign-out"],
        &["all"],
    ),
    ("jwks", "GET", &["jwks", "jwk"], &[]),
    (
        "me",
        "GET",
        &["/me", "getme", "currentuser", "whoami", "profile"],
        &[],
    ),
    (
        "switch",
        "POST",
        &["switch", "provider"],
        &["status", "history", "failover"],
    ),
    (
        "switch_status",
        "GET",
        &["switch-status", "switchstatus", "switch_status"],
        &[],
    ),
    ("switch_history", "GET", &["history"], &[]),
    ("auto_failover", "POST", &["failover"], &[]),
    (
        "session_end",
        "POST",
        &["end", "close", "hangup", "stop"],
        &["switch", "failover"],
    ),
    ("provider_list", "GET", &["providers"], &["{"]),
    ("health", "GET", &["health", "live"], &[]),
    ("readiness", "GET", &["ready", "readiness"], &[]),
    (
        "published_contract",
        "GET",
        &["openapi", "swagger", "api-docs"],
        &[],
    ),
];

/// Template variables a request property may take, by property-name fragment.
const VARS: &[(&str, &str)] = &[
    ("email", "email"),
    ("username", "email"),
    ("password", "password"),
    ("secret", "password"),
    ("refresh", "refresh_token"),
    ("provider", "provider"),
    ("reason", "reason"),
    ("force", "force"),
    ("name", "display_name"),
];

/// The drafted binding as YAML with comments.
pub fn draft(contract: &ApiContract) -> String {
    let mut out = String::from(
        "# Drafted by `voice-audit bind`: every role below is a GUESS; check each against your API.\n\
         # See audits/bindings/reference.yaml for the full format.\nversion: 1\nroles:\n",
    );
    let mut unbound = Vec::new();
    for role in super::ROLES {
        let Some((op, why)) = guess(contract, role) else {
            unbound.push(*role);
            continue;
        };
        let _ = writeln!(out, "  {role}:  # guess: {why}");
        let _ = writeln!(out, "    operation: {}", operation_ref(op));
        let props = request_properties(contract, op);
        if !props.is_empty() {
            let fields: Vec<String> = props
                .iter()
                .filter_map(|p| var_for(p).map(|v| format!("{p}: \"${{{v}}}\"")))
                .collect();
            if !fields.is_empty() {
                let _ = writeln!(out, "    request: {{ {} }}", fields.join(", "));
            }
        }
        let mut outputs = outputs(contract, op, role);
        let items = list_items(contract, op, role);
        if let Some((pointer, _)) = &items {
            outputs.push(("items", pointer.clone()));
        }
        if !outputs.is_empty() {
            let _ = writeln!(out, "    outputs:");
            for (name, pointer) in outputs {
                let _ = writeln!(out, "      {name}: $response.body#{pointer}  # guess");
            }
        }
        if let Some((_, fields)) = items.filter(|(_, f)| !f.is_empty()) {
            let fields: Vec<String> = fields.iter().map(|(k, p)| format!("{k}: {p}")).collect();
            let _ = writeln!(out, "    items: {{ {} }}  # guess", fields.join(", "));
        }
    }
    for role in &unbound {
        let _ = writeln!(out, "  # {role}: UNBOUND, no operation looked like it");
    }
    out.push_str(
        "# stream: UNBOUND, an OpenAPI document does not describe the WebSocket; copy the stream\n\
         # section of audits/bindings/reference.yaml and adapt it.\n",
    );
    out
}

fn operation_ref(op: &Operation) -> String {
    if op.operation_id.is_empty() {
        format!("{} {}", op.method, op.path)
    } else {
        op.operation_id.clone()
    }
}

fn guess<'a>(contract: &'a ApiContract, role: &str) -> Option<(&'a Operation, String)> {
    // Sessions: the collection and its item, found by shape rather than by words.
    let sessionish = |p: &str| {
        ["session", "call", "conversation"]
            .iter()
            .any(|w| p.contains(w))
    };
    match role {
        "session_create" | "session_list" | "session_get" => {
            let method = if role == "session_create" {
                "POST"
            } else {
                "GET"
            };
            let item = role == "session_get";
            return contract
                .operations
                .iter()
                .filter(|o| o.method == method && sessionish(&o.path.to_lowercase()))
                .filter(|o| o.path.ends_with('}') == item)
                .min_by_key(|o| o.path.len())
                .map(|o| (o, format!("{method} on the shortest session-like path")));
        }
        _ => {}
    }
    let (_, method, words, not) = HINTS.iter().find(|h| h.0 == role)?;
    contract
        .operations
        .iter()
        .filter(|o| o.method == *method)
        .find_map(|o| {
            let hay = format!("{} {}", o.path, o.operation_id).to_lowercase();
            if not.iter().any(|n| hay.contains(n)) {
                return None;
            }
            let word = words.iter().find(|w| hay.contains(*w))?;
            Some((
                o,
                format!("{method} with {word:?} in its path or operation id"),
            ))
        })
}

fn schema<'a>(contract: &'a ApiContract, pointer: &str) -> Option<&'a Value> {
    let doc = contract.document();
    let value = doc.pointer(pointer.trim_start_matches('#'))?;
    crate::contract::openapi::resolve(doc, value).map(|(_, v)| v)
}

fn request_properties(contract: &ApiContract, op: &Operation) -> Vec<String> {
    op.body
        .as_ref()
        .and_then(|b| b.schema.as_deref())
        .and_then(|p| schema(contract, p))
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn var_for(property: &str) -> Option<&'static str> {
    let p = property.to_lowercase();
    VARS.iter()
        .find(|(frag, _)| p.contains(frag))
        .map(|(_, v)| *v)
}

/// Pointers to the outputs a role needs, found in its 2xx response schema (one level of
/// nesting).
fn outputs(contract: &ApiContract, op: &Operation, role: &str) -> Vec<(&'static str, String)> {
    let wanted: &[(&str, &[&str])] = match role {
        "register" | "login" | "refresh" => &[
            (
                "access_token",
                &["access_token", "accesstoken", "access", "token"],
            ),
            (
                "refresh_token",
                &["refresh_token", "refreshtoken", "refresh"],
            ),
        ],
        "session_create" => &[("session_id", &["id", "session_id", "sessionid"])],
        "session_get" => &[
            ("provider", &["provider", "current_provider"]),
            (
                "message_count",
                &["message_count", "messagecount", "messages"],
            ),
            ("status", &["status", "state"]),
            ("ended_at", &["ended_at", "endedat", "ended"]),
        ],
        "switch_status" => &[("current_provider", &["current_provider", "provider"])],
        "auto_failover" => &[
            (
                "triggered",
                &["failover_triggered", "triggered", "switched"],
            ),
            ("from_provider", &["from_provider", "from"]),
            ("to_provider", &["to_provider", "to"]),
        ],
        _ => &[],
    };
    let Some(root) = op
        .responses
        .iter()
        .filter(|r| r.status.starts_with('2'))
        .flat_map(|r| r.content.iter())
        .find_map(|(_, p)| p.as_deref())
        .and_then(|p| schema(contract, p))
    else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (name, candidates) in wanted {
        if let Some(p) = find_property(contract, root, candidates, 0) {
            found.push((*name, p));
        }
    }
    found
}

/// The list of a list role's answer (an array property) and the pointers of the fields the
/// checks read in each element.
fn list_items(
    contract: &ApiContract,
    op: &Operation,
    role: &str,
) -> Option<(String, Vec<(&'static str, String)>)> {
    let wanted: &[(&str, &[&str])] = match role {
        "session_list" => &[("id", &["id", "session_id", "sessionid"])],
        "switch_history" => &[("to_provider", &["to_provider", "to", "provider"])],
        _ => return None,
    };
    let doc = contract.document();
    let root = op
        .responses
        .iter()
        .filter(|r| r.status.starts_with('2'))
        .flat_map(|r| r.content.iter())
        .find_map(|(_, p)| p.as_deref())
        .and_then(|p| schema(contract, p))?;
    let (_, root) = crate::contract::openapi::resolve(doc, root)?;
    let (name, list) = root
        .get("properties")?
        .as_object()?
        .iter()
        .find_map(|(k, v)| {
            let (_, v) = crate::contract::openapi::resolve(doc, v)?;
            (v.get("type").and_then(Value::as_str) == Some("array")).then_some((k, v))
        })?;
    let element = list.get("items")?;
    let fields = wanted
        .iter()
        .filter_map(|(field, candidates)| {
            find_property(contract, element, candidates, 1).map(|p| (*field, p))
        })
        .collect();
    Some((format!("/{name}"), fields))
}

fn find_property(
    contract: &ApiContract,
    schema_value: &Value,
    candidates: &[&str],
    depth: usize,
) -> Option<String> {
    let doc = contract.document();
    let (_, s) = crate::contract::openapi::resolve(doc, schema_value)?;
    // A composed schema's parts describe the same object (allOf) or its alternatives.
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            if let Some(found) = find_property(contract, part, candidates, depth) {
                return Some(found);
            }
        }
    }
    let props = s.get("properties")?.as_object()?;
    for c in candidates {
        if let Some((k, _)) = props.iter().find(|(k, _)| k.to_lowercase() == *c) {
            return Some(format!("/{k}"));
        }
    }
    if depth == 0 {
        for (k, v) in props {
            if let Some(inner) = find_property(contract, v, candidates, 1) {
                return Some(format!("/{k}{inner}"));
            }
        }
    }
    None
}
