//! Request templates and output expressions of a binding.
//!
//! Templates are JSON values whose strings may hold `${name}` variables: a string that is exactly
//! one variable takes the variable's JSON value (so numbers stay numbers), any other string has
//! its variables interpolated. Outputs are Arazzo 1.0 runtime expressions
//! (`$response.body#/access_token`, `$response.header.X-Token`) or a bare JSON pointer, read as a
//! body pointer.

use serde_json::Value;
use std::collections::BTreeMap;

/// Variables available to a template, by name.
pub type Vars = BTreeMap<String, Value>;

/// Checks every `${…}` of every string in `template`; returns the variable names used.
pub fn variables(template: &Value) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    collect(template, &mut out)?;
    Ok(out)
}

fn collect(v: &Value, out: &mut Vec<String>) -> Result<(), String> {
    match v {
        Value::String(s) => {
            for part in parse(s)? {
                if let Part::Var(name) = part {
                    out.push(name.to_string());
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| collect(i, out)),
        Value::Object(map) => map.values().try_for_each(|i| collect(i, out)),
        _ => Ok(()),
    }
}

enum Part<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn parse(s: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            parts.push(Part::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
        let name = &after[..end];
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            return Err(format!("bad variable name {name:?} in {s:?}"));
        }
        parts.push(Part::Var(name));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// Fills `template` with `vars`. An unknown variable is an error naming it.
pub fn render(template: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match template {
        Value::String(s) => {
            let parts = parse(s)?;
            if let [Part::Var(name)] = parts.as_slice() {
                lookup(vars, name)?.clone()
            } else {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Var(name) => match lookup(vars, name)? {
                            Value::String(v) => out.push_str(v),
                            other => out.push_str(&other.to_string()),
                        },
                    }
                }
                Value::String(out)
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render(i, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn lookup<'a>(vars: &'a Vars, name: &str) -> Result<&'a Value, String> {
    vars.get(name)
        .ok_or_else(|| format!("the template uses ${{{name}}}, which this step does not provide"))
}

/// Where an output is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JSON pointer into the response body.
    Body(String),
    /// A response header, by case-insensitive name.
    Header(String),
    /// A cookie set by the response (`Set-Cookie`), by name.
    Cookie(String),
}

/// Parses an output expression: `$response.body#/ptr`, `$response.header.Name`,
/// `$response.cookie.name` (an extension for tokens in cookies), or a bare `/ptr`.
pub fn source(expr: &str) -> Result<Source, String> {
    let expr = expr.trim();
    if let Some(ptr) = expr.strip_prefix("$response.body#") {
        pointer(ptr)?;
        return Ok(Source::Body(ptr.to_string()));
    }
    if let Some(name) = expr.strip_prefix("$response.header.") {
        return token_name(name).map(|n| Source::Header(n.to_ascii_lowercase()));
    }
    if let Some(name) = expr.strip_prefix("$response.cookie.") {
        return token_name(name).map(|n| Source::Cookie(n.to_string()));
    }
    if expr.starts_with('/') {
        pointer(expr)?;
        return Ok(Source::Body(expr.to_string()));
    }
    Err(format!(
        "{expr:?} is neither a JSON pointer nor a runtime expression ($response.body#/…, $response.header.…, $response.cookie.…)"
    ))
}

fn token_name(name: &str) -> Result<&str, String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        Ok(name)
    } else {
        Err(format!("bad header or cookie name {name:?}"))
    }
}

/// Validates an RFC 6901 JSON pointer: empty, or `/`-separated with only `~0` and `~1` escapes.
pub fn pointer(p: &str) -> Result<(), String> {
    if !p.is_empty() && !p.starts_with('/') {
        return Err(format!("JSON pointer {p:?} must start with '/'"));
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!("JSON pointer {p:?} has a bad '~' escape"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_keep_types_and_interpolate_strings() {
        let vars: Vars = [
            ("n".to_string(), json!(3)),
            ("who".to_string(), json!("ann")),
        ]
        .into_iter()
        .collect();
        let out = render(
            &json!({"count": "${n}", "greeting": "hi ${who}, ${n}"}),
            &vars,
        );
        assert_eq!(out, Ok(json!({"count": 3, "greeting": "hi ann, 3"})));
        assert!(render(&json!("${missing}"), &vars).is_err());
    }

    #[test]
    fn bad_templates_and_expressions_are_refused() {
        assert!(variables(&json!({"a": "${open"})).is_err());
        assert!(variables(&json!(["${bad name}"])).is_err());
        assert!(source("$response.body#no-slash").is_err());
        assert!(source("/a/~2").is_err());
        assert!(source("$request.body#/x").is_err());
        assert_eq!(
            source("$response.body#/a~1b"),
            Ok(Source::Body("/a~1b".into()))
        );
        assert_eq!(
            source("$response.header.X-Token"),
            Ok(Source::Header("x-token".into()))
        );
        assert_eq!(
            source("$response.cookie.sid"),
            Ok(Source::Cookie("sid".into()))
        );
    }
}
