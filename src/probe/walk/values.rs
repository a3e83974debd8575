//! Values the walk fills in: path parameters (a resource the walk created, else one a listing
//! of its collection named, else the parameter's examples, enum or const, else an id seen in an earlier response, else a value
//! of its format), query parameters, credential fixtures, and enum changes that make an update
//! change something.

use crate::contract::generate::Generator;
use crate::contract::{ApiContract, Operation, ParamLocation};
use crate::probe::client::Body;
use crate::probe::{Ctx, auth};
use serde_json::Value;
use std::collections::BTreeMap;

/// Resources the walk created: collection path template → the created object (with an `id`).
#[derive(Default, Clone)]
pub(super) struct Created {
    by_collection: BTreeMap<String, Value>,
    /// Objects named by a listing of their collection: they exist, but are not known to be the
    /// audit user's own (a listing may be public), so no cross-user call is made on them.
    listed: BTreeMap<String, Value>,
}

impl Created {
    pub fn remember(&mut self, collection: &str, response: &Value) {
        if let Some(o) = object_with_id(response) {
            self.by_collection
                .insert(collection.trim_end_matches('/').to_string(), o.clone());
        }
    }

    /// Remembers the first object with an `id` of a listing of `collection`: what lets a read-only run reach `collection/{id}` with an
    /// id that exists, without creating anything.
    pub fn remember_listed(&mut self, collection: &str, response: &Value) {
        let key = collection.trim_end_matches('/').to_string();
        if self.listed.contains_key(&key) {
            return;
        }
        let lists = std::iter::once(response)
            .chain(response.as_object().into_iter().flat_map(|m| m.values()));
        let first = lists
            .filter_map(Value::as_array)
            .flat_map(|items| items.iter())
            .find(|item| item.get("id").and_then(id_text).is_some());
        if let Some(item) = first {
            self.listed.insert(key, item.clone());
        }
    }

    /// Whether every path parameter of `path` is filled by a known object of its collection.
    pub fn covers(&self, path: &str) -> bool {
        path.match_indices('{').all(|(start, _)| {
            let collection = &path[..start];
            self.get(collection).is_some() || self.get_listed(collection).is_some()
        })
    }

    /// Whether a listing of `collection` named an object.
    pub fn has_listed(&self, collection: &str) -> bool {
        self.get_listed(collection).is_some()
    }

    /// The listed object whose collection path template is exactly `collection`.
    fn get_listed(&self, collection: &str) -> Option<&Value> {
        self.listed.get(collection.trim_end_matches('/'))
    }

    /// The created object whose collection path template is exactly `collection`.
    fn get(&self, collection: &str) -> Option<&Value> {
        self.by_collection.get(collection.trim_end_matches('/'))
    }
}

/// The response itself when it has an `id`, else its first member object that has one.
fn object_with_id(response: &Value) -> Option<&Value> {
    if response.get("id").is_some() {
        Some(response)
    } else {
        response
            .as_object()
            .and_then(|m| m.values().find(|v| v.get("id").is_some()))
    }
}

/// Ids in a response: its own, its members', and those of the first items of its arrays.
pub(super) fn ids_in(response: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &Value| {
        if let Some(id) = v.get("id").and_then(id_text) {
            out.push(id);
        }
    };
    push(response);
    if let Some(m) = response.as_object() {
        for v in m.values() {
            push(v);
            if let Some(items) = v.as_array() {
                items.iter().take(3).for_each(&mut push);
            }
        }
    }
    if let Some(items) = response.as_array() {
        items.iter().take(3).for_each(&mut push);
    }
    out
}

fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A concrete request target.
pub(super) struct Target {
    pub path: String,
    /// The created resource of the last path parameter's collection, if one filled it.
    pub resource: Option<Value>,
    /// The id of the audit user's own resource in the path (for the cross-user call).
    pub owned_id: Option<String>,
}

/// Fills path parameters (see the module header) and query parameters from their schemas.
pub(super) fn concrete_path(
    op: &Operation,
    created: &Created,
    seen: &[String],
    generator: &Generator<'_>,
    api: &ApiContract,
) -> Option<Target> {
    let mut path = op.path.clone();
    let mut resource = None;
    let mut owned_id = None;
    while let (Some(start), Some(len)) = (path.find('{'), path.find('}').map(|e| e + 1)) {
        if len <= start {
            return None;
        }
        let name = &path[start + 1..len - 1];
        // The collection is the template up to this parameter (earlier ones already filled
        // in `path`, so it is looked up in the template).
        let template_start = op.path.find(&format!("{{{name}}}")).unwrap_or(start);
        let collection = &op.path[..template_start];
        let from_created = created
            .get(collection)
            .and_then(|r| r.get("id").and_then(id_text).map(|id| (id, r.clone())));
        let value = match from_created {
            Some((id, r)) => {
                resource = Some(r);
                owned_id = Some(id.clone());
                id
            }
            None => {
                resource = None;
                let listed = created
                    .get_listed(collection)
                    .and_then(|r| r.get("id").and_then(id_text));
                match listed {
                    Some(id) => id,
                    None => param_value(op, name, seen, generator, api)?,
                }
            }
        };
        path = format!("{}{}{}", &path[..start], urlencode(&value), &path[len..]);
    }
    let query: Vec<String> = op
        .parameters
        .iter()
        .filter(|p| p.location == ParamLocation::Query)
        .filter_map(|p| {
            let value = example_of(p.schema.as_deref(), api).or_else(|| {
                let schema = api.document().pointer(p.schema.as_deref()?)?;
                Some(generator.valid(schema))
            })?;
            let value = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            Some(format!("{}={}", urlencode(&p.name), urlencode(&value)))
        })
        .collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    Some(Target {
        path,
        resource,
        owned_id,
    })
}

/// A path parameter's value without a created resource: examples, enum or const, an id seen
/// earlier, else a value of its format.
fn param_value(
    op: &Operation,
    name: &str,
    seen: &[String],
    generator: &Generator<'_>,
    api: &ApiContract,
) -> Option<String> {
    let param = op
        .parameters
        .iter()
        .find(|p| p.location == ParamLocation::Path && p.name == name);
    let schema_pointer = param.and_then(|p| p.schema.as_deref());
    let schema = schema_pointer.and_then(|p| api.schema_at(p));
    let text = |v: Value| match v {
        Value::String(s) => s,
        other => other.to_string(),
    };
    if let Some(v) = example_of(schema_pointer, api) {
        return Some(text(v));
    }
    if let Some(s) = schema {
        if let Some(c) = s.get("const") {
            return Some(text(c.clone()));
        }
        if let Some(first) = s
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return Some(text(first.clone()));
        }
    }
    let is_number = schema.is_some_and(|s| {
        matches!(
            s.get("type").and_then(Value::as_str),
            Some("integer") | Some("number")
        )
    });
    let fitting = seen
        .iter()
        .rev()
        .find(|id| !is_number || id.parse::<f64>().is_ok());
    if let Some(id) = fitting {
        return Some(id.clone());
    }
    Some(text(generator.valid(schema?)))
}

/// The `example`/`examples` of a parameter (whose schema is at `schema_pointer`) or of its
/// schema.
fn example_of(schema_pointer: Option<&str>, api: &ApiContract) -> Option<Value> {
    let pointer = schema_pointer?;
    let doc = api.document();
    let param = pointer.strip_suffix("/schema").and_then(|p| doc.pointer(p));
    let schema = api.schema_at(pointer);
    for holder in [param, schema].into_iter().flatten() {
        if let Some(e) = holder.get("example") {
            return Some(e.clone());
        }
        match holder.get("examples") {
            Some(Value::Array(list)) => {
                if let Some(first) = list.first() {
                    return Some(first.clone());
                }
            }
            // OpenAPI's map of Example objects.
            Some(Value::Object(map)) => {
                if let Some(v) = map.values().find_map(|e| e.get("value")) {
                    return Some(v.clone());
                }
            }
            _ => {}
        }
    }
    None
}

/// A fresh token for an operation that revokes the token it is called with: a new sign-in of
/// the audit user for a single-token logout, a throwaway user for user-wide revocation.
pub(super) async fn revoking_token(ctx: &Ctx, op: &Operation) -> Result<String, String> {
    let user_wide = op.path.contains("all") || op.operation_id.to_ascii_lowercase().contains("all");
    if user_wide {
        if !ctx.settings.allow_register {
            return Err(
                "revokes every token of the user; needs a throwaway user (registration disabled)"
                    .into(),
            );
        }
        auth::register(&ctx.http, "walk-credentials")
            .await
            .map(|c| c.access)
    } else {
        auth::login(
            &ctx.http,
            &ctx.user.email,
            &ctx.user.password,
            "walk-credentials",
        )
        .await
        .map(|c| c.access)
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The sign-in role (`register`, `login`, `refresh`) this operation is bound to, if any.
fn credential_role(ctx: &Ctx, op: &Operation) -> Option<&'static str> {
    let binding = ctx.http.binding();
    ["register", "login", "refresh"].into_iter().find(|name| {
        binding
            .role(name)
            .is_ok_and(|r| r.method.eq_ignore_ascii_case(&op.method) && r.path == op.path)
    })
}

/// Renders a bound role's request body with `vars` (the deployment's own field names).
fn role_body(ctx: &Ctx, role: &str, vars: &[(&str, Value)]) -> Option<Value> {
    match ctx.role_request(role, None, &crate::probe::vars(vars)) {
        Ok((_, _, Body::Json(v))) => Some(v),
        _ => None,
    }
}

/// Known values for credential fields: the operations bound to the sign-in roles get their
/// role's request (with the audit user's credentials, or a refresh token of its own), so the
/// deployment's own field names are used; registration keeps its unique generated values.
/// Operations bound to no role fall back to fields that are evidently credentials by name.
pub(super) async fn apply_fixtures(ctx: &Ctx, op: &Operation, body: &mut Value) {
    let credentials = [
        ("email", Value::String(ctx.user.email.clone())),
        ("password", Value::String(ctx.user.password.clone())),
    ];
    match credential_role(ctx, op) {
        Some("register") => return,
        Some("login") => {
            if let Some(v) = role_body(ctx, "login", &credentials) {
                *body = v;
            }
            return;
        }
        Some("refresh") => {
            if let Ok(fresh) = auth::login(
                &ctx.http,
                &ctx.user.email,
                &ctx.user.password,
                "walk-credentials",
            )
            .await
                && let Some(v) = role_body(
                    ctx,
                    "refresh",
                    &[("refresh_token", Value::String(fresh.refresh))],
                )
            {
                *body = v;
            }
            return;
        }
        _ => {}
    }
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    if op.path.contains("register") || op.operation_id.eq_ignore_ascii_case("register") {
        return;
    }
    if obj.contains_key("password") {
        obj.insert("password".into(), Value::String(ctx.user.password.clone()));
        if obj.contains_key("email") {
            obj.insert("email".into(), Value::String(ctx.user.email.clone()));
        }
    }
    if obj.contains_key("refresh_token")
        && let Ok(fresh) = auth::login(
            &ctx.http,
            &ctx.user.email,
            &ctx.user.password,
            "walk-credentials",
        )
        .await
    {
        obj.insert("refresh_token".into(), Value::String(fresh.refresh));
    }
}

/// An update should change something: enum fields that equal the resource's current value get
/// another allowed value (switching to the provider already in use is not a switch).
pub(super) fn change_enums(body: &mut Value, resource: &Value, schema: &Value, doc: &Value) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    let schema = crate::contract::openapi::resolve(doc, schema)
        .map(|(_, s)| s)
        .unwrap_or(schema);
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, value) in obj.iter_mut() {
        if resource.get(name) != Some(value) {
            continue;
        }
        let prop = props.get(name).map(|p| {
            crate::contract::openapi::resolve(doc, p)
                .map(|(_, s)| s)
                .unwrap_or(p)
        });
        if let Some(alternative) = prop
            .and_then(|p| p.get("enum"))
            .and_then(Value::as_array)
            .and_then(|e| e.iter().find(|v| *v != value))
        {
            *value = alternative.clone();
        }
    }
}
