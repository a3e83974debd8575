//! The OpenAPI document, 3.0 or 3.1, reduced to the operations the probes call.
//!
//! `openapiv3` reads 3.0 and `oas3` reads 3.1; each is used to check that the document is
//! structurally valid OpenAPI of its version, with its own precise error. The operations are then
//! extracted from the raw document in one place for both versions, keeping schemas as pointers
//! into the document so that validation resolves `$ref`s exactly as written.

use super::ContractError;
use super::schema::{SchemaSet, normalise_oas30, pointer_token};
use super::source::parse_document;
use serde_json::Value;

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

#[derive(Debug)]
pub struct ApiContract {
    pub title: String,
    pub version: String,
    pub spec_version: String,
    pub source_name: String,
    pub operations: Vec<Operation>,
    pub schemas: SchemaSet,
    document: Value,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub operation_id: String,
    /// Upper case: `GET`, `POST`.
    pub method: String,
    /// Path template as written: `/api/v1/sessions/{session_id}`.
    pub path: String,
    pub parameters: Vec<Parameter>,
    pub body: Option<BodySpec>,
    pub responses: Vec<ResponseSpec>,
    /// Whether the operation requires credentials (its own or the global `security`).
    pub secured: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
    Cookie,
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    pub location: ParamLocation,
    pub required: bool,
    /// Pointer of the parameter's schema in the document, if it has one.
    pub schema: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BodySpec {
    pub required: bool,
    pub content_type: String,
    pub schema: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// `200`, `4XX` or `default`.
    pub status: String,
    /// (content type, pointer of its schema)
    pub content: Vec<(String, Option<String>)>,
}

impl Operation {
    /// The documented response for an HTTP status: exact code, then `4XX`-style range, then
    /// `default`.
    pub fn response_for(&self, status: u16) -> Option<&ResponseSpec> {
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        self.responses
            .iter()
            .find(|r| r.status == exact)
            .or_else(|| {
                self.responses
                    .iter()
                    .find(|r| r.status.eq_ignore_ascii_case(&range))
            })
            .or_else(|| self.responses.iter().find(|r| r.status == "default"))
    }

    /// Whether a concrete path (`/api/v1/sessions/42`) matches this operation's template.
    pub fn matches_path(&self, path: &str) -> bool {
        let template: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        template.len() == actual.len()
            && template
                .iter()
                .zip(&actual)
                .all(|(t, a)| (t.starts_with('{') && t.ends_with('}') && !a.is_empty()) || t == a)
    }

    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl ApiContract {
    pub fn parse(text: &str, source_name: &str) -> Result<ApiContract, ContractError> {
        let mut document = parse_document(text, source_name)?;
        let structure = |reason: String| ContractError::Structure {
            source_name: source_name.to_string(),
            kind: "OpenAPI",
            reason,
        };
        let spec_version = match document.get("openapi") {
            Some(Value::String(v)) => v.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(structure("no `openapi` version field".to_string())),
        };
        if spec_version.starts_with("3.0.") {
            serde_json::from_value::<openapiv3::OpenAPI>(document.clone())
                .map_err(|e| structure(e.to_string()))?;
            normalise_oas30(&mut document);
        } else if spec_version.starts_with("3.1.") {
            serde_json::from_value::<oas3::Spec>(document.clone())
                .map_err(|e| structure(e.to_string()))?;
        } else {
            return Err(ContractError::Version {
                source_name: source_name.to_string(),
                version: spec_version,
                supported: "OpenAPI 3.0.x and 3.1.x",
            });
        }
        let info = document.get("info");
        let text_of = |key: &str| {
            info.and_then(|i| i.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (title, version) = (text_of("title"), text_of("version"));
        let operations = extract_operations(&document, source_name)?;
        let schemas =
            SchemaSet::new("urn:voice-audit:openapi", document.clone()).map_err(structure)?;
        let contract = ApiContract {
            title,
            version,
            spec_version,
            source_name: source_name.to_string(),
            operations,
            schemas,
            document,
        };
        contract.compile_all()?;
        Ok(contract)
    }

    /// Compiles every schema up front: a broken schema is a contract error, reported at load.
    fn compile_all(&self) -> Result<(), ContractError> {
        let pointers = self.operations.iter().flat_map(|op| {
            let body = op.body.iter().filter_map(|b| b.schema.clone());
            let responses = op
                .responses
                .iter()
                .flat_map(|r| r.content.iter().filter_map(|(_, s)| s.clone()));
            let params = op.parameters.iter().filter_map(|p| p.schema.clone());
            body.chain(responses).chain(params).collect::<Vec<_>>()
        });
        for pointer in pointers {
            self.schemas
                .compile(&pointer)
                .map_err(|reason| ContractError::Semantics {
                    source_name: self.source_name.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The schema at a pointer, with `$ref`s at its root followed.
    pub fn schema_at(&self, pointer: &str) -> Option<&Value> {
        resolve(&self.document, self.document.pointer(pointer)?).map(|(_, v)| v)
    }

    /// The operation a request went to, by method and concrete path.
    pub fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|op| op.method.eq_ignore_ascii_case(method) && op.matches_path(path))
    }

    pub fn by_id(&self, operation_id: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|op| op.operation_id == operation_id)
    }
}

/// Follows local `$ref`s (`#/…`) from `value`, returning the final pointer (if a ref was
/// followed) and value. Gives up after 16 hops, which only a cyclic document reaches.
pub(crate) fn resolve<'a>(
    doc: &'a Value,
    mut value: &'a Value,
) -> Option<(Option<String>, &'a Value)> {
    let mut pointer = None;
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let target = r.strip_prefix('#')?;
                value = doc.pointer(target)?;
                pointer = Some(target.to_string());
            }
            None => return Some((pointer, value)),
        }
    }
    None
}

fn extract_operations(doc: &Value, source_name: &str) -> Result<Vec<Operation>, ContractError> {
    let semantics = |reason: String| ContractError::Semantics {
        source_name: source_name.to_string(),
        reason,
    };
    let global_security = doc.get("security");
    let mut operations = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Ok(operations);
    };
    for (path, item) in paths {
        let item_pointer = format!("/paths/{}", pointer_token(path));
        let (item_pointer, item) = match resolve(doc, item) {
            Some((Some(p), v)) => (p, v),
            Some((None, v)) => (item_pointer, v),
            None => return Err(semantics(format!("unresolvable $ref at path {path}"))),
        };
        let shared_params = item.get("parameters");
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let op_pointer = format!("{item_pointer}/{method}");
            let mut parameters = Vec::new();
            for (base, list) in [
                (&item_pointer, shared_params),
                (&op_pointer, op.get("parameters")),
            ] {
                let Some(list) = list.and_then(Value::as_array) else {
                    continue;
                };
                for (i, p) in list.iter().enumerate() {
                    let here = format!("{base}/parameters/{i}");
                    let (pointer, p) = resolve(doc, p).ok_or_else(|| {
                        semantics(format!("unresolvable parameter $ref in {path}"))
                    })?;
                    let pointer = pointer.unwrap_or(here);
                    let param = parse_parameter(p, &pointer)
                        .ok_or_else(|| semantics(format!("malformed parameter {pointer}")))?;
                    parameters.retain(|q: &Parameter| {
                        !(q.name == param.name && q.location == param.location)
                    });
                    parameters.push(param);
                }
            }
            let body = match op.get("requestBody") {
                Some(b) => {
                    let (pointer, b) = resolve(doc, b)
                        .ok_or_else(|| semantics(format!("unresolvable requestBody in {path}")))?;
                    let pointer = pointer.unwrap_or(format!("{op_pointer}/requestBody"));
                    Some(parse_body(b, &pointer))
                }
                None => None,
            };
            let mut responses = Vec::new();
            if let Some(map) = op.get("responses").and_then(Value::as_object) {
                for (status, r) in map {
                    let (pointer, r) = resolve(doc, r).ok_or_else(|| {
                        semantics(format!("unresolvable response {status} in {path}"))
                    })?;
                    let pointer = pointer
                        .unwrap_or(format!("{op_pointer}/responses/{}", pointer_token(status)));
                    responses.push(ResponseSpec {
                        status: status.clone(),
                        content: content_of(r, &pointer),
                    });
                }
            }
            let security = op.get("security").or(global_security);
            let secured = security.and_then(Value::as_array).is_some_and(|reqs| {
                !reqs.is_empty()
                    && reqs
                        .iter()
                        .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            operations.push(Operation {
                operation_id: op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{} {}", method.to_uppercase(), path)),
                method: method.to_uppercase(),
                path: path.clone(),
                parameters,
                body,
                responses,
                secured,
            });
        }
    }
    Ok(operations)
}

fn parse_parameter(p: &Value, pointer: &str) -> Option<Parameter> {
    let location = match p.get("in")?.as_str()? {
        "path" => ParamLocation::Path,
        "query" => ParamLocation::Query,
        "header" => ParamLocation::Header,
        "cookie" => ParamLocation::Cookie,
        _ => return None,
    };
    Some(Parameter {
        name: p.get("name")?.as_str()?.to_string(),
        location,
        required: p
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(location == ParamLocation::Path),
        schema: p.get("schema").map(|_| format!("{pointer}/schema")),
    })
}

fn parse_body(b: &Value, pointer: &str) -> BodySpec {
    let content = content_of(b, pointer);
    let (content_type, schema) = content
        .iter()
        .find(|(ct, _)| ct.contains("json"))
        .or(content.first())
        .cloned()
        .unwrap_or_else(|| ("application/json".to_string(), None));
    BodySpec {
        required: b.get("required").and_then(Value::as_bool).unwrap_or(false),
        content_type,
        schema,
    }
}

fn content_of(r: &Value, pointer: &str) -> Vec<(String, Option<String>)> {
    r.get("content")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(ct, media)| {
                    let schema = media
                        .get("schema")
                        .map(|_| format!("{pointer}/content/{}/schema", pointer_token(ct)));
                    (ct.clone(), schema)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_contract_loads_with_every_operation() {
        let c = ApiContract::parse(crate::contract::BUNDLED_OPENAPI, "bundled").expect("loads");
        assert_eq!(c.spec_version, "3.1.0");
        let ids: Vec<_> = c
            .operations
            .iter()
            .map(|o| o.operation_id.as_str())
            .collect();
        for id in [
            "health",
            "register",
            "logout",
            "createSession",
            "switchProvider",
            "switchHistory",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        let health = c.by_id("health").expect("health");
        assert!(!health.secured);
        assert!(c.by_id("me").expect("me").secured);
        let get = c
            .find("GET", "/api/v1/sessions/3f1c")
            .expect("matches template");
        assert_eq!(get.operation_id, "getSession");
        assert_eq!(
            get.response_for(404).map(|r| r.status.as_str()),
            Some("404")
        );
    }

    #[test]
    fn openapi_30_documents_load_through_openapiv3() {
        let text = r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{
            "responses":{"200":{"description":"ok","content":{"application/json":{"schema":
            {"type":"string","nullable":true}}}}}}}}}"#;
        let c = ApiContract::parse(text, "inline").expect("3.0 loads");
        let op = &c.operations[0];
        let pointer = op.responses[0].content[0].1.clone().expect("schema");
        assert!(
            c.schemas.validate(&pointer, &Value::Null).is_empty(),
            "nullable rewritten"
        );
    }

    #[test]
    fn broken_documents_are_clear_errors() {
        for (text, needle) in [
            ("{not json", "neither JSON nor YAML"),
            (
                "openapi: 2.0\ninfo: {title: t, version: '1'}\npaths: {}",
                "unsupported version",
            ),
            ("openapi: 3.1.0\ninfo: 7\npaths: {}", "not a valid OpenAPI"),
            ("- a list", "not a mapping"),
        ] {
            let err = ApiContract::parse(text, "x.yaml")
                .expect_err(text)
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// Any prefix of a real contract is either a contract or a clear error, never a panic.
    #[test]
    fn truncated_documents_never_panic() {
        let text = crate::contract::BUNDLED_OPENAPI;
        for cut in (0..text.len()).step_by(997) {
            let mut end = cut;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let _ = ApiContract::parse(&text[..end], "truncated");
        }
        let ws = crate::contract::BUNDLED_ASYNCAPI;
        for cut in (0..ws.len()).step_by(331) {
            let mut end = cut;
            while !ws.is_char_boundary(end) {
                end -= 1;
            }
            let _ = crate::contract::WsContract::parse(&ws[..end], "truncated");
        }
    }

    #[test]
    fn cyclic_and_dangling_refs_are_errors_or_harmless() {
        let cyclic = r##"{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{
            "responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}}},
            "components":{"schemas":{"A":{"$ref":"#/components/schemas/B"},"B":{"$ref":"#/components/schemas/A"}}}}"##;
        if let Ok(c) = ApiContract::parse(cyclic, "cyclic") {
            let pointer = c.operations[0].responses[0].content[0]
                .1
                .clone()
                .unwrap_or_default();
            let _ = c.schemas.validate(&pointer, &serde_json::json!({}));
        }
        let dangling = r##"{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{
            "responses":{"200":{"$ref":"#/components/responses/Nope"}}}}}}"##;
        let err = ApiContract::parse(dangling, "dangling").expect_err("dangling ref");
        assert!(err.to_string().contains("unresolvable"), "{err}");
    }
}
