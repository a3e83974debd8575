//! JSON Schema validation against schemas that live anywhere inside a contract document.
//!
//! The whole document is registered under a URN, and every schema is addressed by its JSON
//! pointer in that document, so `$ref`s between components resolve exactly as the contract wrote
//! them and inline schemas need no copying. Validators are compiled once per pointer and cached.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaViolation {
    /// JSON pointer into the validated instance (`/items/0/provider`).
    pub instance_path: String,
    pub message: String,
}

impl std::fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.instance_path.is_empty() {
            "(root)"
        } else {
            &self.instance_path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// The validators of one contract document.
pub struct SchemaSet {
    urn: String,
    registry: jsonschema::Registry<'static>,
    compiled: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet").field("urn", &self.urn).finish()
    }
}

impl SchemaSet {
    /// Registers `document` under `urn` (e.g. `urn:voice-audit:openapi`).
    pub fn new(urn: &str, document: Value) -> Result<SchemaSet, String> {
        let registry = jsonschema::Registry::new()
            .add(urn, jsonschema::Resource::from_contents(document))
            .and_then(|b| b.prepare())
            .map_err(|e| e.to_string())?;
        Ok(SchemaSet {
            urn: urn.to_string(),
            registry,
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// Compiles (once) the schema at `pointer` (`/components/schemas/Session`), so broken schemas
    /// are reported when the contract loads rather than in the middle of a probe.
    pub fn compile(&self, pointer: &str) -> Result<Arc<jsonschema::Validator>, String> {
        if let Ok(cache) = self.compiled.lock()
            && let Some(v) = cache.get(pointer)
        {
            return Ok(Arc::clone(v));
        }
        let reference =
            serde_json::json!({ "$ref": format!("{}#{}", self.urn, fragment_encode(pointer)) });
        let validator = jsonschema::options()
            .with_registry(&self.registry)
            .should_validate_formats(true)
            .build(&reference)
            .map_err(|e| format!("schema at {pointer}: {e}"))?;
        let validator = Arc::new(validator);
        if let Ok(mut cache) = self.compiled.lock() {
            cache.insert(pointer.to_string(), Arc::clone(&validator));
        }
        Ok(validator)
    }

    /// Every violation of `instance` against the schema at `pointer` (empty when it conforms).
    pub fn validate(&self, pointer: &str, instance: &Value) -> Vec<SchemaViolation> {
        match self.compile(pointer) {
            Ok(validator) => validator
                .iter_errors(instance)
                .take(20)
                .map(|e| SchemaViolation {
                    instance_path: e.instance_path().to_string(),
                    message: e.to_string(),
                })
                .collect(),
            Err(message) => vec![SchemaViolation {
                instance_path: String::new(),
                message,
            }],
        }
    }
}

/// Percent-encodes what a URI fragment cannot hold (path templates carry `{}`).
fn fragment_encode(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for b in pointer.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes one JSON-pointer token (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Rewrites OpenAPI 3.0 schema dialect into JSON Schema 2020-12 in place: `nullable: true`
/// becomes a type union with `null`, and boolean `exclusiveMinimum`/`exclusiveMaximum` become
/// numeric bounds.
pub fn normalise_oas30(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                if let Some(Value::Array(values)) = map.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
            }
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                match map.get(flag) {
                    Some(Value::Bool(true)) => {
                        if let Some(b) = map.remove(bound) {
                            map.insert(flag.into(), b);
                        }
                    }
                    Some(Value::Bool(false)) => {
                        map.remove(flag);
                    }
                    _ => {}
                }
            }
            for v in map.values_mut() {
                normalise_oas30(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_oas30),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Id": {"type": "string", "format": "uuid"},
            "Thing": {"type": "object", "required": ["id"], "properties": {"id": {"$ref": "#/components/schemas/Id"}}}
        }}})
    }

    #[test]
    fn refs_resolve_against_the_whole_document() {
        let set = SchemaSet::new("urn:test:doc", doc()).expect("registry");
        let ok = json!({"id": "7d0f0a4e-4b8a-4a55-9b9e-0d7b4c9f1c11"});
        assert!(set.validate("/components/schemas/Thing", &ok).is_empty());
        let bad = json!({"id": "not-a-uuid"});
        let errors = set.validate("/components/schemas/Thing", &bad);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].instance_path, "/id");
    }

    #[test]
    fn a_missing_pointer_is_a_violation_not_a_panic() {
        let set = SchemaSet::new("urn:test:doc2", doc()).expect("registry");
        assert!(
            !set.validate("/components/schemas/Nope", &json!({}))
                .is_empty()
        );
    }

    #[test]
    fn oas30_nullable_becomes_a_type_union() {
        let mut s = json!({"type": "string", "nullable": true, "enum": ["a"],
                           "properties": {"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}}});
        normalise_oas30(&mut s);
        assert_eq!(s["type"], json!(["string", "null"]));
        assert_eq!(s["enum"], json!(["a", null]));
        assert_eq!(s["properties"]["n"]["exclusiveMinimum"], json!(0));
        assert!(s["properties"]["n"].get("minimum").is_none());
    }
}
