//! Request values generated from schemas: a minimal valid instance, and a deliberately invalid
//! one that is still well-formed JSON.
//!
//! Valid instances fill only what the schema requires (plus `const`/`enum`-constrained
//! values), with unique strings so that repeated calls do not collide (e.g. register's email).

use serde_json::{Map, Value, json};

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

    /// Well-formed JSON that breaks `schema`: the first of [`Generator::invalid_variants`].
    /// `None` for schemas that accept anything.
    pub fn invalid(&self, schema: &Value) -> Option<Value> {
        self.invalid_variants(schema)
            .into_iter()
            .next()
            .map(|(_, v)| v)
    }

    /// Every way the walk breaks a body, each labelled with the rule it violates: a property of
    /// the wrong type, a required property missing, a value outside an enum, `null` for a
    /// non-nullable field, a string past `maxLength`, a number outside its bounds and an extra
    /// property where `additionalProperties: false` forbids it, at the top level and in nested
    /// objects (up to three levels). Callers should still validate each variant against the
    /// schema: combinators can make a variant accidentally valid.
    pub fn invalid_variants(&self, schema: &Value) -> Vec<(String, Value)> {
        let resolved = self.deref(schema);
        let valid = self.valid(schema);
        if !valid.is_object() {
            return match type_of(resolved) {
                Some(_) => vec![("wrong type at (root)".to_string(), wrong_type_for(resolved))],
                None => Vec::new(),
            };
        }
        let mut variants = Vec::new();
        let required = required_of(resolved);
        if let Some(name) = required.first()
            && let Some(mut broken) = valid.as_object().cloned()
        {
            broken.remove(*name);
            variants.push((
                format!("required property /{name} missing"),
                Value::Object(broken),
            ));
        }
        for (label, path, value) in self.breakers(resolved, 0) {
            let mut broken = valid.clone();
            if self.set_at(&mut broken, resolved, &path, value) {
                let at = format!("/{}", path.join("/"));
                variants.push((format!("{label} at {at}"), broken));
            }
        }
        variants
    }

    /// (what is violated, property path, offending value) for every rule of an object schema.
    fn breakers(&self, schema: &Value, depth: usize) -> Vec<(String, Vec<String>, Value)> {
        let mut out = Vec::new();
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return out;
        };
        for (name, prop) in props.iter().take(12) {
            let (p, nullable) = self.effective(prop);
            let one = |label: String, v: Value| (label, vec![name.clone()], v);
            if !nullable && constrained(p) {
                out.push(one("null for a non-nullable field".into(), Value::Null));
            }
            if let Some(t) = type_of(p) {
                out.push(one(format!("wrong type (not {t})"), wrong_type_for(p)));
            }
            if let Some(values) = p.get("enum").and_then(Value::as_array)
                && values.iter().all(Value::is_string)
            {
                out.push(one(
                    "value outside the enum".into(),
                    Value::String("voice-audit-not-in-enum".to_string()),
                ));
            }
            if let Some(max) = p.get("maxLength").and_then(Value::as_u64)
                && max < 100_000
            {
                let long = "x".repeat(max as usize + 1);
                out.push(one(
                    format!("string past maxLength {max}"),
                    Value::String(long),
                ));
            }
            let integer = type_of(p) == Some("integer");
            for (key, step, word) in [("maximum", 1.0, "above"), ("minimum", -1.0, "below")] {
                if let Some(bound) = p.get(key).and_then(Value::as_f64) {
                    let v = bound + step;
                    let v = if integer && v.fract() == 0.0 && v.abs() < 9e15 {
                        json!(v as i64)
                    } else {
                        json!(v)
                    };
                    out.push(one(format!("number {word} {key} {bound}"), v));
                }
            }
            if depth < 2 && type_of(p) == Some("object") {
                for (label, mut path, v) in self.breakers(p, depth + 1) {
                    path.insert(0, name.clone());
                    out.push((label, path, v));
                }
            }
        }
        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
            out.push((
                "extra property where additionalProperties is false".into(),
                vec!["voice_audit_extra".to_string()],
                Value::String("x".to_string()),
            ));
        }
        out
    }

    /// The schema a property really has (`$ref` followed; an `anyOf`/`oneOf` of one schema
    /// and `{"type": "null"}` reduced to that schema) and whether it accepts `null`.
    fn effective<'s>(&'s self, prop: &'s Value) -> (&'s Value, bool) {
        let p = self.deref(prop);
        let mut nullable = accepts_null(p);
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = p.get(key).and_then(Value::as_array) {
                let alts: Vec<&Value> = alts.iter().map(|a| self.deref(a)).collect();
                nullable |= alts.iter().any(|a| accepts_null(a));
                let real: Vec<&&Value> = alts.iter().filter(|a| !accepts_null(a)).collect();
                if let [only] = real.as_slice() {
                    return (only, nullable);
                }
                // Several real alternatives: no single type or bound can be broken safely.
                return (&UNCONSTRAINED, nullable);
            }
        }
        (p, nullable)
    }

    /// Sets `value` at `path` inside `base`, creating intermediate objects from their schemas.
    fn set_at(&self, base: &mut Value, schema: &Value, path: &[String], value: Value) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        let Some(obj) = base.as_object_mut() else {
            return false;
        };
        if rest.is_empty() {
            obj.insert(first.clone(), value);
            return true;
        }
        let Some(prop) = schema.get("properties").and_then(|p| p.get(first)) else {
            return false;
        };
        let (sub, _) = self.effective(prop);
        let child = obj.entry(first.clone()).or_insert_with(|| self.valid(sub));
        if !child.is_object() {
            *child = Value::Object(Map::new());
        }
        self.set_at(child, sub, rest, value)
    }
}

/// Stands for a schema the walk does not break (several alternatives).
static UNCONSTRAINED: Value = Value::Null;

fn required_of(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether a schema admits `null` on its own terms (type, enum or const).
fn accepts_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) if t == "null" => return true,
        Some(Value::Array(ts)) if ts.iter().any(|t| t == "null") => return true,
        _ => {}
    }
    schema.get("const") == Some(&Value::Null)
        || schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|e| e.contains(&Value::Null))
}

/// Whether a schema says anything that `null` could break (an empty schema accepts anything).
fn constrained(schema: &Value) -> bool {
    type_of(schema).is_some() || schema.get("enum").is_some() || schema.get("const").is_some()
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
    let unique = uuid::Uuid::new_v4();
    let base = match schema.get("format").and_then(Value::as_str) {
        Some("email") => format!("audit-{}@example.test", unique.simple()),
        Some("uuid") => unique.to_string(),
        Some("date-time") => chrono::Utc::now().to_rfc3339(),
        Some("date") => chrono::Utc::now().format("%Y-%m-%d").to_string(),
        Some("uri") | Some("url") => "https://example.test/audit".to_string(),
        _ => format!("audit-{}", &unique.simple().to_string()[..8]),
    };
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    let mut s = base;
    while s.chars().count() < min {
        s.push('x');
    }
    if let Some(max) = max {
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
    fn strings_respect_length_bounds() {
        let doc = json!({});
        let g = Generator::new(&doc);
        let s = g.valid(&json!({"type": "string", "minLength": 12, "maxLength": 12}));
        assert_eq!(s.as_str().map(str::len), Some(12));
    }
}
