//! Active calls across a restart: where the binding has the call roles (`call_create`,
//! `call_get`, optionally `calls_active`), the restart probe places one call per live session
//! before the restart and afterwards reads each back: it must still exist with the state it had,
//! and, when the active-calls role is bound, still be listed as active (a server that rebuilds
//! its call cache from the database at start lists it; one that kept calls only in memory
//! does not).
//!
//! Without the roles nothing is placed and the restart items are the sessions' alone: the
//! template asks about calls "where the binding has the role".

use super::recovery::Item;
use super::{Ctx, describe, vars};

/// A call placed before the restart.
pub struct LiveCall {
    pub id: String,
    /// The call's state as `call_get` read it (`status …, session …`).
    pub state: String,
}

/// Whether the roles needed to place and read a call are bound.
pub fn bound(ctx: &Ctx) -> bool {
    let b = ctx.http.binding();
    b.role("call_create").is_ok() && b.role("call_get").is_ok()
}

/// Places a call tied to `session_id` and reads its state back.
pub async fn place(ctx: &Ctx, session_id: &str, scenario: &str) -> Result<LiveCall, String> {
    let vars = vars(&[("session_id", session_id.into())]);
    let reply = ctx
        .call_role("call_create", None, Some(&ctx.user.access), &vars, scenario)
        .await?;
    if !reply.is_success() {
        return Err(format!(
            "placing a call for session {session_id} failed ({})",
            describe(&reply)
        ));
    }
    let id = ctx
        .role_output("call_create", "call_id", &reply)
        .ok_or("the call_create role's call_id output is not bound or absent in its answer")?;
    let state = state(ctx, &id, scenario).await?;
    Ok(LiveCall { id, state })
}

/// The call's state as `call_get` reads it: its status and session outputs.
async fn state(ctx: &Ctx, id: &str, scenario: &str) -> Result<String, String> {
    let reply = ctx
        .call_role(
            "call_get",
            Some(id),
            Some(&ctx.user.access),
            &vars(&[]),
            scenario,
        )
        .await?;
    if reply.status != Some(200) {
        return Err(format!("reading call {id} failed ({})", describe(&reply)));
    }
    let out = |name: &str| {
        ctx.role_value("call_get", name, &reply)
            .ok()
            .flatten()
            .map_or("-".to_string(), |v| v.to_string())
    };
    Ok(format!(
        "status {}, session {}",
        out("status"),
        out("session_id")
    ))
}

/// The items a call contributes after the restart: kept with its state, and listed as active
/// when the active-calls role is bound.
pub async fn after_restart(ctx: &Ctx, call: &LiveCall, scenario: &str) -> Vec<Item> {
    let now = state(ctx, &call.id, scenario).await;
    let (ok, detail) = match &now {
        Ok(s) if *s == call.state => (true, s.clone()),
        Ok(s) => (false, format!("was {}, now {s}", call.state)),
        Err(e) => (false, e.clone()),
    };
    let mut items = vec![Item::new(
        format!("call {} kept its state", call.id),
        ok,
        detail,
    )];
    if ctx.http.binding().role("calls_active").is_ok() {
        let (ok, detail) = listed_active(ctx, &call.id, scenario).await;
        items.push(Item::new(
            format!("call {} still listed as active", call.id),
            ok,
            detail,
        ));
    }
    items
}

async fn listed_active(ctx: &Ctx, id: &str, scenario: &str) -> (bool, String) {
    let reply = match ctx
        .call_role(
            "calls_active",
            None,
            Some(&ctx.user.access),
            &vars(&[]),
            scenario,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return (false, e),
    };
    if reply.status != Some(200) {
        return (
            false,
            format!("listing active calls failed ({})", describe(&reply)),
        );
    }
    match ctx.role_items("calls_active", &["id"], &reply) {
        Ok(Some(items)) => {
            let found = items
                .iter()
                .any(|i| i.get("id").and_then(|v| v.as_str()) == Some(id));
            if found {
                (true, format!("listed among {} active calls", items.len()))
            } else {
                (
                    false,
                    format!(
                        "missing from the {} active calls listed after the restart",
                        items.len()
                    ),
                )
            }
        }
        Ok(None) => (
            false,
            "the active-calls answer has no item list where the binding points".into(),
        ),
        Err(e) => (false, e),
    }
}
