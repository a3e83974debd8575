//! One operation of the walk: the anonymous call, the negative inputs, the call with another
//! user's token, then the valid call whose answer feeds later operations (created resources,
//! ids seen).

use super::values::{self, Created};
use super::{NegativeCase, Walker, phase};
use crate::contract::{Operation, ParamLocation};
use crate::evidence::Purpose;
use crate::probe::client::{Body, Reply};
use crate::probe::revocation::CrossUserAttempt;
use serde_json::Value;

/// At most this many schema-breaking bodies per operation.
const MAX_NEGATIVE: usize = 24;

impl Walker<'_> {
    /// Sends within the walk's budget; `None` (nothing sent) once the budget is spent.
    async fn send(
        &self,
        op: &Operation,
        path: &str,
        token: Option<&str>,
        body: Body,
        purpose: Purpose,
    ) -> Option<Reply> {
        let Some(deadline) = self.request_deadline() else {
            self.record(|o| o.budget_exhausted = true);
            return None;
        };
        Some(
            self.ctx
                .http
                .send_within(&op.method, path, token, body, purpose, Some(deadline))
                .await,
        )
    }
}

pub(super) async fn walk(w: &Walker<'_>, op: &Operation, created: &mut Created) {
    let ctx = w.ctx;
    let api = ctx.api();
    let skip = |reason: String| w.record(|o| o.skipped.push((op.operation_id.clone(), reason)));
    if w.request_deadline().is_none() {
        w.record(|o| o.budget_exhausted = true);
        skip(format!(
            "the walk's budget of {} s ran out first",
            ctx.settings.walk_budget.as_secs()
        ));
        return;
    }
    if ctx.settings.read_only && crate::probe::mutating(&op.method) {
        return skip(format!("read-only: {} mutates", op.method));
    }
    // Credentials: revoking operations get a token of their own so the audit's survives.
    let token = if !op.secured {
        None
    } else if phase(op) == 5 {
        match values::revoking_token(ctx, op).await {
            Ok(t) => Some(t),
            Err(reason) => return skip(reason),
        }
    } else {
        Some(ctx.user.access.clone())
    };
    let seen = w.seen_ids.lock().map(|s| s.clone()).unwrap_or_default();
    // A read-only run creates nothing, so the only ids that surely exist are those its
    // collection's listing named (read first): a guessed one would earn a 404 and be judged a
    // missing operation, so without a listing the operation is left out.
    if ctx.settings.read_only && !created.covers(&op.path) {
        return skip(
            "read-only: its path names a resource, and no listing of its collection named one that exists"
                .to_string(),
        );
    }
    let Some(target) = values::concrete_path(op, created, &seen, &w.generator, api) else {
        return skip(
            "no value for its path parameters (no creating operation, example, enum or id seen)"
                .to_string(),
        );
    };
    let path = target.path;

    let body_pointer = op.body.as_ref().and_then(|b| b.schema.clone());
    let body_schema = body_pointer
        .as_deref()
        .and_then(|p| api.document().pointer(p));
    let valid_body = match body_schema {
        Some(schema) => {
            let mut body = w.generator.valid(schema);
            values::apply_fixtures(ctx, op, &mut body).await;
            if let Some(r) = &target.resource {
                values::change_enums(&mut body, r, schema, api.document());
            }
            Body::Json(body)
        }
        None => Body::None,
    };

    if op.secured {
        w.send(op, &path, None, valid_body.clone(), Purpose::NoToken)
            .await;
    }
    if let (Some(schema), Some(pointer)) = (body_schema, body_pointer.as_deref()) {
        negative_inputs(w, op, &path, token.as_deref(), schema, pointer, &valid_body).await;
    }
    if let (Some(intruder), Some(resource_id)) = (&w.intruder, &target.owned_id)
        && op.secured
    {
        let reply = w
            .send(
                op,
                &path,
                Some(intruder),
                valid_body.clone(),
                Purpose::Scenario("walk-cross-user".into()),
            )
            .await;
        if let Some(reply) = reply {
            let leaked = reply.is_success();
            let attempt = CrossUserAttempt {
                label: format!("{} on the audit user's {resource_id}", op.label()),
                status: reply.status,
                leaked,
                exchange_id: Some(reply.exchange_id.clone()),
            };
            w.record(|o| o.cross_user.get_or_insert_with(Vec::new).push(attempt));
        }
    }
    let Some(reply) = w
        .send(op, &path, token.as_deref(), valid_body, Purpose::Valid)
        .await
    else {
        return;
    };
    if reply.is_success()
        && let Some(json) = reply.json()
    {
        if op.method == "POST" && !op.path.ends_with('}') {
            created.remember(&op.path, &json);
        }
        if op.method == "GET" && !op.path.contains('{') {
            created.remember_listed(&op.path, &json);
            if ctx.settings.read_only && !created.has_listed(&op.path) && path.contains('?') {
                unfiltered_listing(w, op, token.as_deref(), created).await;
            }
        }
        let ids = values::ids_in(&json);
        if !ids.is_empty()
            && let Ok(mut seen) = w.seen_ids.lock()
        {
            for id in ids {
                if !seen.contains(&id) && seen.len() < 1000 {
                    seen.push(id);
                }
            }
        }
    }
}

/// A read-only run learns ids from listings; when the filters the walk chose (query
/// parameters from their examples) hid every item, the listing is asked once more without
/// them, if none is required.
async fn unfiltered_listing(
    w: &Walker<'_>,
    op: &Operation,
    token: Option<&str>,
    created: &mut Created,
) {
    let required_query = op
        .parameters
        .iter()
        .any(|p| p.location == ParamLocation::Query && p.required);
    if required_query {
        return;
    }
    let purpose = Purpose::Scenario("walk-listing".into());
    if let Some(reply) = w.send(op, &op.path, token, Body::None, purpose).await
        && reply.is_success()
        && let Some(json) = reply.json()
    {
        created.remember_listed(&op.path, &json);
    }
}

/// Schema-breaking bodies (only those the contract's own validator rejects), malformed JSON and
/// a body with a wrong content type, each recorded with what it violates.
async fn negative_inputs(
    w: &Walker<'_>,
    op: &Operation,
    path: &str,
    token: Option<&str>,
    schema: &Value,
    pointer: &str,
    valid_body: &Body,
) {
    let api = w.ctx.api();
    let mut cases: Vec<(String, Body)> = w
        .generator
        .invalid_variants(schema)
        .into_iter()
        .filter(|(_, v)| !api.schemas.validate(pointer, v).is_empty())
        .take(MAX_NEGATIVE)
        .map(|(label, v)| (label, Body::Json(v)))
        .collect();
    cases.push((
        "malformed JSON (unterminated object)".to_string(),
        Body::Raw("{\"unterminated\": ".to_string()),
    ));
    let text = match valid_body {
        Body::Json(v) => v.to_string(),
        _ => "{}".to_string(),
    };
    cases.push((
        "wrong Content-Type (text/plain)".to_string(),
        Body::Typed {
            content_type: "text/plain".to_string(),
            text,
        },
    ));
    for (violates, body) in cases {
        let purpose = if matches!(body, Body::Raw(_)) {
            Purpose::MalformedJson
        } else {
            Purpose::InvalidBody
        };
        if let Some(reply) = w.send(op, path, token, body, purpose).await {
            let case = NegativeCase {
                exchange_id: reply.exchange_id,
                violates,
            };
            w.record(|o| o.negative.push(case));
        }
    }
}

/// Calls after the operations: an unknown route (framework errors must use the error format
/// too) and the contract the deployment publishes about itself, where the binding says it is
/// (an unbound role leaves it unrequested; the check then says so).
pub(super) async fn closing_calls(w: &Walker<'_>) {
    let ctx = w.ctx;
    if w.request_deadline().is_none() {
        return;
    }
    ctx.call(
        "GET",
        "/voice-audit-no-such-route",
        Some(&ctx.user.access),
        Body::None,
        "unknown-route",
    )
    .await;
    let _ = ctx
        .call_role(
            "published_contract",
            None,
            None,
            &crate::binding::template::Vars::new(),
            "published-contract",
        )
        .await;
}
