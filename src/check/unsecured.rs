//! Operations the contract leaves open to anyone although they change data or return user
//! data: the contract itself is the defect, since every client and gateway generated from it
//! will call them without credentials. A pure check over the contract and the binding.
//!
//! Sign-in roles (register, login, refresh) and the operational ones (health, readiness, the
//! published contract, a JWKS) are public by nature and left out, as the binding names them.

use super::{Finding, Outcome};
use crate::binding::Binding;
use crate::contract::{ApiContract, Operation};
use serde_json::Value;
use std::collections::HashSet;

pub const ID: &str = "contract.unsecured_operations";

/// Roles whose operations are meant to be public.
pub const PUBLIC_ROLES: &[&str] = &[
    "register",
    "login",
    "refresh",
    "health",
    "readiness",
    "published_contract",
    "jwks",
];

/// Property names that mark user data, compared lower-case without `_` and `-`.
const USER_FIELDS: &[&str] = &[
    "email",
    "userid",
    "user",
    "ownerid",
    "password",
    "phone",
    "phonenumber",
    "displayname",
    "firstname",
    "lastname",
    "fullname",
    "address",
    "dateofbirth",
];

const WRITES: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];

pub fn finding(api: &ApiContract, binding: &Binding) -> Finding {
    let public: Vec<(&str, &str)> = PUBLIC_ROLES
        .iter()
        .filter_map(|r| binding.role(r).ok())
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let candidates: Vec<&Operation> = api
        .operations
        .iter()
        .filter(|op| !op.secured)
        .filter(|op| {
            !public
                .iter()
                .any(|(m, p)| op.method.eq_ignore_ascii_case(m) && op.path == *p)
        })
        .collect();
    let details: Vec<String> = candidates
        .iter()
        .filter_map(|op| {
            if WRITES.contains(&op.method.as_str()) {
                return Some(format!(
                    "{} ({}): no security requirement on an operation that changes data",
                    op.label(),
                    op.operation_id
                ));
            }
            let fields = user_fields(api, op);
            (!fields.is_empty()).then(|| {
                format!(
                    "{} ({}): no security requirement, yet its responses carry user data ({})",
                    op.label(),
                    op.operation_id,
                    fields.join(", ")
                )
            })
        })
        .collect();
    let n = details.len();
    Finding {
        check_id: ID.to_string(),
        outcome: Outcome::Measured {
            value: n as f64,
            display: format!("{n} operations"),
        },
        summary: if n == 0 {
            format!(
                "{} operations are public; none of them changes or returns user data",
                candidates.len()
            )
        } else {
            format!("{n} operations change or return user data with no security requirement")
        },
        details,
        evidence: Vec::new(),
    }
}

/// User-data property names anywhere in the operation's 2xx response schemas.
fn user_fields(api: &ApiContract, op: &Operation) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for response in op.responses.iter().filter(|r| r.status.starts_with('2')) {
        for pointer in response.content.iter().filter_map(|(_, p)| p.as_deref()) {
            if let Some(schema) = api.schema_at(pointer) {
                collect(api, schema, &mut seen, &mut found, 0);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Walks properties, items and compositions, following local `$ref`s once each.
fn collect(
    api: &ApiContract,
    schema: &Value,
    seen: &mut HashSet<String>,
    found: &mut Vec<String>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let Some(obj) = schema.as_object() else {
        return;
    };
    if let Some(r) = obj.get("$ref").and_then(Value::as_str)
        && let Some(pointer) = r.strip_prefix('#')
        && seen.insert(pointer.to_string())
        && let Some(target) = api.document().pointer(pointer)
    {
        collect(api, target, seen, found, depth + 1);
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let key: String = name
                .chars()
                .filter(|c| *c != '_' && *c != '-')
                .flat_map(char::to_lowercase)
                .collect();
            if USER_FIELDS.contains(&key.as_str()) {
                found.push(name.clone());
            }
            collect(api, sub, seen, found, depth + 1);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get(key) {
            collect(api, sub, seen, found, depth + 1);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for sub in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
            collect(api, sub, seen, found, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::BUNDLED_OPENAPI;

    fn count(f: &Finding) -> f64 {
        match f.outcome {
            Outcome::Measured { value, .. } => value,
            _ => -1.0,
        }
    }

    #[test]
    fn the_bundled_contract_secures_every_data_operation() {
        let api = ApiContract::parse(BUNDLED_OPENAPI, "bundled").expect("contract");
        let binding = Binding::reference(&api).expect("binding");
        let f = finding(&api, &binding);
        assert_eq!(count(&f), 0.0, "{:?}", f.details);
    }

    #[test]
    fn an_open_write_and_an_open_read_of_user_data_are_listed() {
        let text = BUNDLED_OPENAPI
            .replacen(
                "      operationId: createSession\n",
                "      operationId: createSession\n      security: []\n",
                1,
            )
            .replacen(
                "      operationId: me\n",
                "      operationId: me\n      security: []\n",
                1,
            );
        let api = ApiContract::parse(&text, "open").expect("contract");
        let binding = Binding::reference(&api).expect("binding");
        let f = finding(&api, &binding);
        assert_eq!(count(&f), 2.0, "{:?}", f.details);
        assert!(f.details.iter().any(|d| d.contains("createSession")));
        assert!(
            f.details
                .iter()
                .any(|d| d.contains("(me)") && d.contains("email")),
            "{:?}",
            f.details
        );
        // Without the binding, login and register are no longer known to be public.
        let f = finding(&api, &Binding::default());
        assert!(count(&f) >= 4.0, "{:?}", f.details);
    }
}
