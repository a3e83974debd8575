//! Negative inputs: well-formed JSON that breaks a request schema in one labelled way each, so
//! a finding can say which rule the deployment failed to enforce (`null for a non-nullable
//! field at /display_name`, `string past maxLength 100 at /config/language`).

use super::{Generator, type_of, wrong_type_for};
use serde_json::{Map, Value, json};

impl Generator<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastapi_style_schemas_are_broken_rule_by_rule() {
        let doc =
            json!({"components": {"schemas": {"Kind": {"type": "string", "enum": ["a", "b"]}}}});
        let g = Generator::new(&doc);
        let schema = json!({
            "type": "object", "additionalProperties": false, "required": ["kind"],
            "properties": {
                "kind": {"$ref": "#/components/schemas/Kind", "description": "a sibling"},
                "note": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
                "n": {"type": "integer", "minimum": 1, "maximum": 9},
                "cfg": {"type": "object", "properties": {"lang": {"type": "string", "maxLength": 2}}},
                "free": {}
            }
        });
        let labels: Vec<String> = g
            .invalid_variants(&schema)
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        for expected in [
            "required property /kind missing",
            "null for a non-nullable field at /kind",
            "value outside the enum at /kind",
            "string past maxLength 3 at /note",
            "number above maximum 9 at /n",
            "number below minimum 1 at /n",
            "string past maxLength 2 at /cfg/lang",
            "null for a non-nullable field at /cfg/lang",
            "extra property where additionalProperties is false at /voice_audit_extra",
        ] {
            assert!(
                labels.iter().any(|l| l == expected),
                "{expected} not in {labels:?}"
            );
        }
        // A nullable field gets no null, and an unconstrained one nothing at all.
        assert!(
            !labels
                .iter()
                .any(|l| l.contains("null") && l.ends_with("/note"))
        );
        assert!(!labels.iter().any(|l| l.ends_with("/free")));
        let nested = g
            .invalid_variants(&schema)
            .into_iter()
            .find(|(l, _)| l.ends_with("/cfg/lang") && l.starts_with("string"))
            .map(|(_, v)| v)
            .expect("nested variant");
        assert_eq!(nested["cfg"]["lang"], json!("xxx"));
        assert_eq!(nested["kind"], json!("a"));
    }
}
