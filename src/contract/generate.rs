//! Request values generated from schemas: a minimal valid instance, and a deliberately invalid
//! one that is still well-formed JSON.
//!
//! Valid instances fill only what the schema requires (plus `const`/`enum`-constrained
//! values), with unique strings so that repeated calls do not collide (e.g. register's email).

use serde_json::{Map, Value, json};

mod negative;
mod pattern;

/// Generates values for schemas found in `doc` (local `$ref`s are followed).
pub struct Generator<'a> {
    doc: &'a Value,
}

impl<'a> Generator<'a> {
    pub fn new(doc: &'a Value) -> Generator<'a> {
        Generator { doc }
    }

    fn deref<'s>(&'s self, schema: &'s Value) -> &'s Value {
        super::openapi::resolve(self.doc, schema)
            .map(|(_, v)| v)
            .unwrap_or(schema)
    }

    /// A value that conforms to `schema`.
    pub fn valid(&self, schema: &Value) -> Value {
        self.valid_depth(schema, 0)
    }

    fn valid_depth(&self, schema: &Value, depth: usize) -> Value {
        let schema = match super::openapi::resolve(self.doc, schema) {
            Some((_, v)) => v,
            None => return Value::Null,
        };
        if depth > 8 {
            return Value::Null;
        }
        if let Some(c) = schema.get("const") {
            return c.clone();
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        if let Some(d) = schema.get("default") {
            return d.clone();
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for part in all {
                if let Value::Object(m) = self.valid_depth(part, depth + 1) {
                    merged.extend(m);
                }
            }
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema.get(key).and_then(Value::as_array).and_then(|a| {
                a.iter()
                    .find(|s| type_of(self.deref(s)) != Some("null"))
                    .or(a.first())
            }) {
                return self.valid_depth(first, depth + 1);
            }
        }
        match type_of(schema) {
            Some("object") => {
                let mut out = Map::new();
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    for (name, prop) in props {
                        if required.contains(&name.as_str()) {
                            out.insert(name.clone(), self.valid_depth(prop, depth + 1));
                        }
                    }
                }
                Value::Object(out)
            }
            Some("array") => {
                let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let item = schema.get("items").cloned().unwrap_or(json!({}));
                Value::Array(
                    (0..min)
                        .map(|_| self.valid_depth(&item, depth + 1))
                        .collect(),
                )
            }
            Some("integer") => json!(
                schema
                    .get("minimum")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    .max(
                        schema
                            .get("exclusiveMinimum")
                            .and_then(Value::as_i64)
                            .map_or(i64::MIN, |m| m + 1)
                    )
            ),
            Some("number") => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.0)),
            Some("boolean") => json!(true),
            Some("null") => Value::Null,
            _ => Value::String(string_for(schema)),
        }
    }
}

fn type_of(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ if schema.get("properties").is_some() => Some("object"),
        _ => None,
    }
}

fn wrong_type_for(schema: &Value) -> Value {
    match type_of(schema) {
        Some("string") | Some("null") | None => json!(12345),
        Some("integer") | Some("number") => json!("not-a-number"),
        Some("boolean") => json!("not-a-boolean"),
        Some("array") => json!({"not": "an array"}),
        Some(_) => json!("not-an-object"),
    }
}

fn string_for(schema: &Value) -> String {
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max_len = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        if let Some(s) = pattern::matching(pattern, max_len).filter(|s| s.chars().count() >= min) {
            return s;
        }
        // A pattern this cannot satisfy: the schema's own example, when it gives one.
        let example = schema.get("example").or_else(|| {
            schema
                .get("examples")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
        });
        if let Some(Value::String(s)) = example {
            return s.clone();
        }
    }
    let unique = uuid::Uuid::new_v4();
    let base = match schema.get("format").and_then(Value::as_str) {
        Some("email") => format!("audit-{}@example.test", unique.simple()),
        Some("uuid") => unique.to_string(),
        Some("date-time") => chrono::Utc::now().to_rfc3339(),
        Some("date") => chrono::Utc::now().format("%Y-%m-%d").to_string(),
        Some("uri") | Some("url") => "https://example.test/audit".to_string(),
        _ => format!("audit-{}", &unique.simple().to_string()[..8]),
    };
    let mut s = base;
    while s.chars().count() < min {
        s.push('x');
    }
    if let Some(max) = max_len {
        s = s.chars().take(max).collect();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ApiContract;

    #[test]
    fn generated_bodies_conform_and_broken_ones_do_not() {
        let c = ApiContract::parse(crate::contract::BUNDLED_OPENAPI, "bundled").expect("contract");
        let g = Generator::new(c.document());
        for op in c.operations.iter().filter(|o| o.body.is_some()) {
            let pointer = op
                .body
                .as_ref()
                .and_then(|b| b.schema.clone())
                .expect("schema");
            let schema = c.document().pointer(&pointer).expect("schema exists");
            let valid = g.valid(schema);
            assert_eq!(
                c.schemas.validate(&pointer, &valid),
                vec![],
                "{}: {valid}",
                op.operation_id
            );
            let variants = g.invalid_variants(schema);
            assert!(!variants.is_empty(), "{} is breakable", op.operation_id);
            for (label, invalid) in variants {
                assert!(
                    !c.schemas.validate(&pointer, &invalid).is_empty(),
                    "{} {label}: {invalid}",
                    op.operation_id
                );
            }
        }
    }

    #[test]
    fn patterned_strings_match_their_pattern_or_use_the_example() {
        let doc = json!({});
        let g = Generator::new(&doc);
        let phone = g.valid(&json!({"type": "string", "pattern": "^\\+[1-9][0-9]{1,14}$"}));
        assert_eq!(phone, json!("+11"));
        let unsatisfiable = json!({
            "type": "string", "pattern": "^(?=x)abc$", "example": "given-example"
        });
        assert_eq!(g.valid(&unsatisfiable), json!("given-example"));
    }

    #[test]
    fn strings_respect_length_bounds() {
        let doc = json!({});
        let g = Generator::new(&doc);
        let s = g.valid(&json!({"type": "string", "minLength": 12, "maxLength": 12}));
        assert_eq!(s.as_str().map(str::len), Some(12));
    }
}
