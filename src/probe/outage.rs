//! The cache outage (`--cache-down-cmd` / `--cache-up-cmd`): with the fast tier gone, a token
//! revoked before the outage must stay refused (fail closed), reads must be served and a write
//! accepted; once the cache is back, without any restart, readiness must report healthy again,
//! the write made during the outage must read back and the revoked token stay refused.

use super::hook::Hook;
use super::recovery::{Hooks, Item, RecoveryObservation, refused, revoked_token, wait_ready};
use super::{Ctx, describe, switch};
use crate::binding::template::Vars;
use serde_json::json;
use std::time::Instant;

const SCENARIO: &str = "cache-outage";

/// `None` without both hooks; `Err` when the probe could not prepare.
pub async fn probe(ctx: &Ctx, hooks: &Hooks) -> Option<Result<RecoveryObservation, String>> {
    let (down, up) = (hooks.cache_down.clone()?, hooks.cache_up.clone()?);
    Some(run(ctx, hooks, &*down, &*up).await)
}

async fn run(
    ctx: &Ctx,
    hooks: &Hooks,
    down: &dyn Hook,
    up: &dyn Hook,
) -> Result<RecoveryObservation, String> {
    let providers = switch::providers(ctx)?;
    let (first, last) = match (providers.first(), providers.last()) {
        (Some(f), Some(l)) => (f.clone(), l.clone()),
        _ => return Err("no providers to create and switch a session with".into()),
    };
    let session = ctx
        .create_session(&ctx.user.access, &first, SCENARIO)
        .await?;
    let revoked = revoked_token(ctx, SCENARIO).await?;
    let mut obs = RecoveryObservation::default();
    let limit = hooks.ready_timeout * 2;

    match down.run(limit).await {
        Ok(r) => obs.hooks.push((down.label(), r)),
        Err(e) => {
            obs.hook_error = Some(e.to_string());
            // Whatever the down hook managed to do, bring the cache back for the rest of the run.
            let _ = up.run(limit).await;
            return Ok(obs);
        }
    }
    let still = refused(ctx, &revoked, SCENARIO).await;
    obs.items.push(revocation_item("during the outage", still));
    let read = provider_of(ctx, &session).await;
    obs.items.push(Item::new(
        "a read during the outage",
        read.as_ref().is_ok_and(|p| *p == first),
        match &read {
            Ok(p) => format!("session served, provider {p}"),
            Err(e) => e.clone(),
        },
    ));
    let vars = super::vars(&[
        ("provider", json!(last)),
        ("reason", json!("voice-audit cache outage probe")),
    ]);
    let write = ctx
        .call_role(
            "switch",
            Some(&session),
            Some(&ctx.user.access),
            &vars,
            SCENARIO,
        )
        .await;
    obs.items.push(Item::new(
        "a write during the outage",
        write.as_ref().is_ok_and(|w| w.is_success()),
        match &write {
            Ok(w) => format!("switch to {last}: {}", describe(w)),
            Err(e) => e.clone(),
        },
    ));

    let back = Instant::now();
    match up.run(limit).await {
        Ok(r) => obs.hooks.push((up.label(), r)),
        Err(e) => {
            obs.hook_error = Some(e.to_string());
            return Ok(obs);
        }
    }
    match wait_ready(ctx, back, hooks.ready_timeout).await {
        Ok(t) => {
            obs.ready_after = Some(t);
            obs.items.push(Item::new(
                "readiness after the cache returned, without a restart",
                true,
                format!(
                    "healthy {:.0} ms after the cache came back",
                    t.as_secs_f64() * 1000.0
                ),
            ));
        }
        Err(reason) => obs.items.push(Item::new(
            "readiness after the cache returned, without a restart",
            false,
            reason,
        )),
    }
    let after = provider_of(ctx, &session).await;
    obs.items.push(Item::new(
        "the write made during the outage reads back",
        after.as_ref().is_ok_and(|p| *p == last),
        match &after {
            Ok(p) => format!("provider {p} (switched to {last})"),
            Err(e) => e.clone(),
        },
    ));
    let still = refused(ctx, &revoked, SCENARIO).await;
    obs.items
        .push(revocation_item("after the cache returned", still));
    Ok(obs)
}

fn revocation_item(when: &str, still: Result<bool, String>) -> Item {
    Item::new(
        format!("a token revoked before the outage, {when}"),
        still == Ok(true),
        match still {
            Ok(true) => "refused (401)".to_string(),
            Ok(false) => "accepted: revocation failed open".to_string(),
            Err(e) => e,
        },
    )
}

/// The provider the `session_get` role reports for `session`.
async fn provider_of(ctx: &Ctx, session: &str) -> Result<String, String> {
    let r = ctx
        .call_role(
            "session_get",
            Some(session),
            Some(&ctx.user.access),
            &Vars::new(),
            SCENARIO,
        )
        .await?;
    if r.status != Some(200) {
        return Err(format!("reading the session failed ({})", describe(&r)));
    }
    ctx.role_value("session_get", "provider", &r)?
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| format!("the answer names no provider ({})", describe(&r)))
}
