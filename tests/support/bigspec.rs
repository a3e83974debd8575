//! A large FastAPI-style OpenAPI 3.1 deployment for the walk tests: 52 resources of six
//! operations each plus sign-up and sign-in (314 operations), with `anyOf` + `{"type": "null"}`,
//! `const`, `$ref` with sibling keywords, `examples`, enums, formats, bounded query parameters
//! and path parameters that no operation creates. The server behind it is generic: it finds the
//! operation of each request in the same document, checks the token, validates the body with
//! the document's own schemas and keeps items per owner. Modes break it on purpose: hang on
//! every operation, skip object-level authorization, or accept any body.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use voice_audit::contract::ApiContract;

pub const RESOURCES: usize = 52;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers like a careful service.
    Honest,
    /// Never answers an operation (sign-up and sign-in excepted, so the audit can start).
    Hang,
    /// Serves, changes and deletes any user's items for any signed-in caller.
    NoObjectAuth,
    /// Accepts every body without validation.
    Lenient,
}

/// The OpenAPI 3.1 document.
pub fn spec() -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    let problem = json!({"$ref": "#/components/responses/Problem"});
    let errors =
        json!({"400": problem, "401": problem, "404": problem, "415": problem, "422": problem});
    let with_errors = |ok: (&str, Value)| {
        let mut r = errors.as_object().cloned().unwrap_or_default();
        r.insert(ok.0.to_string(), ok.1);
        Value::Object(r)
    };
    let auth_body = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Credentials"}}}, "required": true});
    let tokens = json!({"description": "tokens", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tokens"}}}});
    paths.insert(
        "/auth/register".into(),
        json!({"post": {"operationId": "register", "security": [],
        "requestBody": auth_body, "responses": with_errors(("201", tokens.clone()))}}),
    );
    paths.insert(
        "/auth/login".into(),
        json!({"post": {"operationId": "login", "security": [],
        "requestBody": auth_body, "responses": with_errors(("200", tokens))}}),
    );
    for i in 0..RESOURCES {
        let create = format!("Item{i}Create");
        let item = format!("Item{i}");
        schemas.insert(create.clone(), json!({
            "type": "object", "title": create, "additionalProperties": false,
            "required": ["title", "kind"],
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 50, "examples": ["first"]},
                "kind": {"$ref": "#/components/schemas/Kind", "description": "what it is"},
                "count": {"type": "integer", "minimum": 0, "maximum": 100, "default": 1},
                "note": {"anyOf": [{"type": "string", "maxLength": 20}, {"type": "null"}], "default": null},
                "version": {"const": 1},
                "config": {"type": "object", "additionalProperties": false,
                           "properties": {"lang": {"type": "string", "maxLength": 8}, "level": {"type": "number", "minimum": 0, "maximum": 1}}}
            }
        }));
        schemas.insert(item.clone(), json!({
            "type": "object", "required": ["id", "title", "kind"],
            "properties": {"id": {"type": "string", "format": "uuid"}, "title": {"type": "string"},
                           "kind": {"$ref": "#/components/schemas/Kind"},
                           "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
        }));
        let body = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{create}")}}}});
        let one = json!({"description": "one", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{item}")}}}});
        let many = json!({"description": "many", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}}}});
        let id_param = json!([{"name": "item_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}]);
        let base = format!("/api/v2/res{i}/items");
        paths.insert(base.clone(), json!({
            "post": {"operationId": format!("create_item_{i}"), "requestBody": body, "responses": with_errors(("201", one.clone()))},
            "get": {"operationId": format!("list_items_{i}"), "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
                {"name": "since", "in": "query", "schema": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}}
            ], "responses": with_errors(("200", many))}
        }));
        paths.insert(format!("{base}/{{item_id}}"), json!({
            "parameters": id_param,
            "get": {"operationId": format!("get_item_{i}"), "responses": with_errors(("200", one.clone()))},
            "patch": {"operationId": format!("update_item_{i}"), "requestBody": body, "responses": with_errors(("200", one))},
            "delete": {"operationId": format!("delete_item_{i}"), "responses": with_errors(("204", json!({"description": "gone"})))}
        }));
        paths.insert(format!("/api/v2/res{i}/lookup/{{code}}"), json!({
            "get": {"operationId": format!("lookup_{i}"), "parameters": [
                {"name": "code", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z]+$", "examples": ["alpha"]}}
            ], "responses": with_errors(("200", json!({"description": "found", "content": {"application/json": {"schema": {"type": "object", "properties": {"code": {"type": "string"}}}}}})))}
        }));
    }
    schemas.insert(
        "Kind".into(),
        json!({"type": "string", "enum": ["alpha", "beta"]}),
    );
    schemas.insert("Credentials".into(), json!({"type": "object", "additionalProperties": false,
        "required": ["email", "password"], "properties": {"email": {"type": "string", "format": "email", "maxLength": 254},
        "password": {"type": "string", "minLength": 8, "maxLength": 128}, "display_name": {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]}}}));
    schemas.insert(
        "Tokens".into(),
        json!({"type": "object", "required": ["access_token", "refresh_token"],
        "properties": {"access_token": {"type": "string"}, "refresh_token": {"type": "string"}}}),
    );
    schemas.insert("Problem".into(), json!({"type": "object", "required": ["title", "status"],
        "properties": {"title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}}}));
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Big FastAPI-style service", "version": "2.0.0"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Problem": {"description": "error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
            "schemas": schemas
        }
    })
}

struct Server {
    api: ApiContract,
    mode: Mode,
    tokens: Mutex<Vec<String>>,
    /// item id → (owner token, item)
    items: Mutex<HashMap<String, (String, Value)>>,
}

/// A served big spec; dropping it stops the server.
pub struct BigSpec {
    pub url: String,
    /// The document as a file, for `--contract`.
    pub contract_path: std::path::PathBuf,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for BigSpec {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(mode: Mode) -> BigSpec {
    let doc = spec();
    let api = ApiContract::parse(&doc.to_string(), "bigspec").expect("the big spec loads");
    let dir = tempfile::tempdir().expect("temp dir");
    let contract_path = dir.path().join("bigspec.json");
    std::fs::write(&contract_path, doc.to_string()).expect("write spec");
    let state = Arc::new(Server {
        api,
        mode,
        tokens: Mutex::new(Vec::new()),
        items: Mutex::new(HashMap::new()),
    });
    let router = Router::new().fallback(handle).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    BigSpec {
        url: format!("http://{addr}"),
        contract_path,
        task,
        _dir: dir,
    }
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({"title": status.canonical_reason().unwrap_or("error"), "status": status.as_u16(), "detail": detail});
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn handle(
    State(s): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let Some(op) = s.api.find(method.as_str(), &path).cloned() else {
        return problem(StatusCode::NOT_FOUND, "no such route");
    };
    let sign_in = op.operation_id == "register" || op.operation_id == "login";
    if s.mode == Mode::Hang && !sign_in {
        std::future::pending::<()>().await;
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let known = token
        .as_ref()
        .is_some_and(|t| s.tokens.lock().map(|ts| ts.contains(t)).unwrap_or(false));
    if op.secured && !known {
        return problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let mut input = Value::Null;
    if let Some(spec) = &op.body {
        let json_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type && s.mode != Mode::Lenient {
            return problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "JSON only");
        }
        input = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) if s.mode == Mode::Lenient => json!({}),
            Err(e) => return problem(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        if let Some(pointer) = &spec.schema {
            let violations = s.api.schemas.validate(pointer, &input);
            if !violations.is_empty() && s.mode != Mode::Lenient {
                return problem(StatusCode::UNPROCESSABLE_ENTITY, &violations[0].to_string());
            }
        }
    }
    if sign_in {
        let access = format!("access-{}", uuid::Uuid::new_v4().simple());
        if let Ok(mut ts) = s.tokens.lock() {
            ts.push(access.clone());
        }
        let status = if op.operation_id == "register" {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return json_reply(
            status,
            json!({"access_token": access, "refresh_token": format!("refresh-{}", uuid::Uuid::new_v4().simple())}),
        );
    }
    let owner = token.unwrap_or_default();
    crud(&s, &op.operation_id, &path, &owner, input)
}

fn crud(s: &Server, operation_id: &str, path: &str, owner: &str, input: Value) -> Response {
    let Ok(mut items) = s.items.lock() else {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "lock");
    };
    let id = path.rsplit('/').next().unwrap_or_default().to_string();
    let visible = |items: &HashMap<String, (String, Value)>| {
        items
            .get(&id)
            .filter(|(o, _)| s.mode == Mode::NoObjectAuth || o == owner)
            .map(|(_, v)| v.clone())
    };
    let item_of = |input: &Value, id: &str| {
        json!({"id": id, "title": input.get("title").cloned().unwrap_or(json!("untitled")),
               "kind": input.get("kind").cloned().unwrap_or(json!("alpha")),
               "note": input.get("note").cloned().unwrap_or(Value::Null)})
    };
    let name = operation_id
        .rsplit_once('_')
        .map_or(operation_id, |(n, _)| n);
    match name {
        "create_item" => {
            let id = uuid::Uuid::new_v4().to_string();
            let item = item_of(&input, &id);
            items.insert(id, (owner.to_string(), item.clone()));
            json_reply(StatusCode::CREATED, item)
        }
        "list_items" => {
            let mine: Vec<Value> = items
                .values()
                .filter(|(o, _)| o == owner)
                .map(|(_, v)| v.clone())
                .take(10)
                .collect();
            json_reply(StatusCode::OK, Value::Array(mine))
        }
        "get_item" => match visible(&items) {
            Some(v) => json_reply(StatusCode::OK, v),
            None => problem(StatusCode::NOT_FOUND, "no such item"),
        },
        "update_item" => match visible(&items) {
            Some(_) => {
                let item = item_of(&input, &id);
                if let Some(entry) = items.get_mut(&id) {
                    entry.1 = item.clone();
                }
                json_reply(StatusCode::OK, item)
            }
            None => problem(StatusCode::NOT_FOUND, "no such item"),
        },
        "delete_item" => match visible(&items) {
            Some(_) => {
                items.remove(&id);
                StatusCode::NO_CONTENT.into_response()
            }
            None => problem(StatusCode::NOT_FOUND, "no such item"),
        },
        "lookup" => json_reply(StatusCode::OK, json!({"code": id})),
        _ => problem(StatusCode::NOT_FOUND, "no such operation"),
    }
}
