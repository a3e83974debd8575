//! The contract walk: every operation of the OpenAPI document is called with a valid request,
//! every operation with a body also with a schema-breaking body and with malformed JSON, and
//! every secured operation without a token. Each call is recorded as an exchange whose purpose
//! says what was expected of it; the contract checks judge the exchanges.
//!
//! Order matters on a live system: resources are created before they are read, state-changing
//! calls on a resource come after reads, calls that end a resource come next, and calls that
//! revoke credentials come last and use credentials of their own.

use super::client::Body;
use super::{Ctx, auth, fill_path};
use crate::contract::generate::Generator;
use crate::contract::{Operation, ParamLocation};
use crate::evidence::Purpose;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct WalkObservation {
    /// Operations that were not called, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Where in the walk an operation goes (lower first).
fn phase(op: &Operation) -> u8 {
    let has_params = op.path.contains('{');
    if op.path.contains("logout") || op.path.contains("revoke") {
        5
    } else if op.method == "DELETE" || op.path.ends_with("/end") || op.path.ends_with("/close") {
        4
    } else if has_params && op.method != "GET" {
        3
    } else if op.method == "GET" {
        2
    } else {
        1
    }
}

/// Resources the walk created: collection path → the created object (which has an `id`).
#[derive(Default)]
struct Created {
    by_collection: BTreeMap<String, Value>,
}

impl Created {
    fn remember(&mut self, collection: &str, response: &Value) {
        let object = if response.get("id").is_some() {
            Some(response)
        } else {
            response
                .as_object()
                .and_then(|m| m.values().find(|v| v.get("id").is_some()))
        };
        if let Some(o) = object {
            self.by_collection.insert(collection.to_string(), o.clone());
        }
    }

    /// The created object whose collection path is the longest prefix of `path`.
    fn for_path(&self, path: &str) -> Option<&Value> {
        self.by_collection
            .iter()
            .filter(|(c, _)| path.starts_with(c.as_str()) && path.len() > c.len())
            .max_by_key(|(c, _)| c.len())
            .map(|(_, v)| v)
    }
}

pub async fn probe(ctx: &Ctx) -> WalkObservation {
    let api = ctx.api();
    let generator = Generator::new(api.document());
    let mut ops: Vec<&Operation> = api.operations.iter().collect();
    ops.sort_by_key(|op| phase(op));
    let mut created = Created::default();
    let mut observation = WalkObservation::default();

    for op in ops {
        // Credentials: revoking operations get a token of their own so the audit's survives.
        let token = if !op.secured {
            None
        } else if phase(op) == 5 {
            match revoking_token(ctx, op).await {
                Ok(t) => Some(t),
                Err(reason) => {
                    observation.skipped.push((op.operation_id.clone(), reason));
                    continue;
                }
            }
        } else {
            Some(ctx.user.access.clone())
        };
        let resource = created.for_path(&op.path).cloned();
        let Some(path) = concrete_path(op, resource.as_ref(), &generator, api) else {
            observation.skipped.push((
                op.operation_id.clone(),
                "no resource of the kind its path needs could be created".to_string(),
            ));
            continue;
        };

        let body_schema = op
            .body
            .as_ref()
            .and_then(|b| b.schema.as_ref())
            .and_then(|p| api.document().pointer(p));
        let valid_body = match body_schema {
            Some(schema) => {
                let mut body = generator.valid(schema);
                apply_fixtures(ctx, op, &mut body).await;
                if let Some(r) = &resource {
                    change_enums(&mut body, r, schema, api.document());
                }
                Body::Json(body)
            }
            None => Body::None,
        };

        if op.secured {
            ctx.http
                .send(
                    &op.method,
                    &path,
                    None,
                    valid_body.clone(),
                    Purpose::NoToken,
                )
                .await;
        }
        if let Some(schema) = body_schema {
            for (_, invalid) in generator.invalid_variants(schema) {
                ctx.http
                    .send(
                        &op.method,
                        &path,
                        token.as_deref(),
                        Body::Json(invalid),
                        Purpose::InvalidBody,
                    )
                    .await;
            }
            ctx.http
                .send(
                    &op.method,
                    &path,
                    token.as_deref(),
                    Body::Raw("{\"unterminated\": ".to_string()),
                    Purpose::MalformedJson,
                )
                .await;
        }
        let reply = ctx
            .http
            .send(
                &op.method,
                &path,
                token.as_deref(),
                valid_body,
                Purpose::Valid,
            )
            .await;
        if op.method == "POST"
            && !op.path.contains('{')
            && reply.is_success()
            && let Some(json) = reply.json()
        {
            created.remember(&op.path, &json);
        }
    }
    // Framework-level errors must use the error format too.
    ctx.call(
        "GET",
        "/voice-audit-no-such-route",
        Some(&ctx.user.access),
        Body::None,
        "unknown-route",
    )
    .await;
    // The contract the deployment publishes about itself, where the binding says it is (an
    // unbound role leaves it unrequested; the check then says so).
    let _ = ctx
        .call_role(
            "published_contract",
            None,
            None,
            &crate::binding::template::Vars::new(),
            "published-contract",
        )
        .await;
    observation
}

/// A fresh token for an operation that revokes the token it is called with: a new sign-in of
/// the audit user for a single-token logout, a throwaway user for user-wide revocation.
async fn revoking_token(ctx: &Ctx, op: &Operation) -> Result<String, String> {
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

/// Fills path parameters from the created resource and query parameters from their schemas.
fn concrete_path(
    op: &Operation,
    resource: Option<&Value>,
    generator: &Generator<'_>,
    api: &crate::contract::ApiContract,
) -> Option<String> {
    let mut path = op.path.clone();
    while path.contains('{') {
        let id = resource?.get("id")?;
        let id = id
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| id.to_string());
        path = fill_path(&path, &id);
    }
    let query: Vec<String> = op
        .parameters
        .iter()
        .filter(|p| p.location == ParamLocation::Query)
        .filter_map(|p| {
            let schema = api.document().pointer(p.schema.as_deref()?)?;
            let value = match generator.valid(schema) {
                Value::String(s) => s,
                other => other.to_string(),
            };
            Some(format!("{}={}", p.name, urlencode(&value)))
        })
        .collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    Some(path)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Known values for credential fields: sign-in operations get the audit user's credentials and
/// refresh gets a refresh token of its own (registration keeps its unique generated values).
async fn apply_fixtures(ctx: &Ctx, op: &Operation, body: &mut Value) {
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
fn change_enums(body: &mut Value, resource: &Value, schema: &Value, doc: &Value) {
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
