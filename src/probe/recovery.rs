//! What the restart and cache-outage probes share: the hooks of a run, the items they record,
//! and small steps (a revoked token, a session's state, waiting for the service to be ready).

use super::hook::{HookRun, SharedHook};
use super::{Ctx, auth, describe};
use crate::binding::template::Vars;
use std::time::{Duration, Instant};

/// The scenario of the polls while the target comes back: it is expected to be down then, so
/// `errors.availability` leaves these requests out.
pub const WAIT_SCENARIO: &str = "waiting-for-ready";

/// Sessions the restart probe leaves live across the restart.
pub const RESTART_SESSIONS: usize = 3;

/// The hooks of a run: what restarts the target and what takes its cache down and up.
#[derive(Clone, Default)]
pub struct Hooks {
    pub restart: Option<SharedHook>,
    pub cache_down: Option<SharedHook>,
    pub cache_up: Option<SharedHook>,
    /// How long the service may take to answer health and readiness after a hook.
    pub ready_timeout: Duration,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = |h: &Option<SharedHook>| h.as_ref().map(|h| h.label());
        f.debug_struct("Hooks")
            .field("restart", &label(&self.restart))
            .field("cache_down", &label(&self.cache_down))
            .field("cache_up", &label(&self.cache_up))
            .field("ready_timeout", &self.ready_timeout)
            .finish()
    }
}

/// One thing a recovery probe verified, passed or not.
#[derive(Debug, Clone)]
pub struct Item {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

impl Item {
    pub fn new(what: impl Into<String>, ok: bool, detail: impl Into<String>) -> Item {
        Item {
            what: what.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// What a recovery probe observed; `hook_error` set means a hook failed (the items before it
/// still count, the ones after it could not be checked).
#[derive(Debug, Clone, Default)]
pub struct RecoveryObservation {
    pub hooks: Vec<(String, HookRun)>,
    pub hook_error: Option<String>,
    /// From the start of the restart (or the cache's return) until health and readiness answered.
    pub ready_after: Option<Duration>,
    pub items: Vec<Item>,
}

/// A token of the audit user that was revoked (logout) and refused before the hook.
pub async fn revoked_token(ctx: &Ctx, scenario: &str) -> Result<String, String> {
    let victim = auth::login(&ctx.http, &ctx.user.email, &ctx.user.password, scenario).await?;
    let no_vars = Vars::new();
    let logout = ctx
        .call_role("logout", None, Some(&victim.access), &no_vars, scenario)
        .await?;
    if !logout.is_success() {
        return Err(format!("logout failed ({})", describe(&logout)));
    }
    // Revocation may take a moment to take effect; wait for it before the hook.
    let deadline = Instant::now() + ctx.settings.timeout;
    loop {
        if refused(ctx, &victim.access, scenario).await? {
            return Ok(victim.access);
        }
        if Instant::now() >= deadline {
            return Err("the token was still accepted after logout, before any hook ran".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `token` is refused (401) by the `me` role.
pub async fn refused(ctx: &Ctx, token: &str, scenario: &str) -> Result<bool, String> {
    let r = ctx
        .call_role("me", None, Some(token), &Vars::new(), scenario)
        .await?;
    Ok(r.status == Some(401))
}

/// A session's state as the `session_get` role reads it: provider, message count and status.
pub async fn session_state(ctx: &Ctx, id: &str, scenario: &str) -> Result<String, String> {
    let r = ctx
        .call_role(
            "session_get",
            Some(id),
            Some(&ctx.user.access),
            &Vars::new(),
            scenario,
        )
        .await?;
    if r.status != Some(200) {
        return Err(format!("reading session {id} failed ({})", describe(&r)));
    }
    let out = |name: &str| {
        ctx.role_value("session_get", name, &r)
            .ok()
            .flatten()
            .map_or("-".to_string(), |v| v.to_string())
    };
    Ok(format!(
        "provider {}, message_count {}, status {}",
        out("provider"),
        out("message_count"),
        out("status")
    ))
}

/// Polls the health and readiness roles until both answer 200, up to `limit`; the time it
/// took from `since`, or `Err` with what they last answered.
pub async fn wait_ready(ctx: &Ctx, since: Instant, limit: Duration) -> Result<Duration, String> {
    let scenario = WAIT_SCENARIO;
    let deadline = Instant::now() + limit;
    let roles: Vec<&str> = ["health", "readiness"]
        .into_iter()
        .filter(|r| ctx.http.binding().role(r).is_ok())
        .collect();
    if roles.is_empty() {
        return Err("neither the health nor the readiness role is bound".into());
    }
    let mut last = String::new();
    loop {
        let mut all = true;
        for role in &roles {
            let r = ctx
                .call_role(role, None, None, &Vars::new(), scenario)
                .await?;
            if r.status != Some(200) {
                all = false;
                last = format!("{role}: {}", describe(&r));
                break;
            }
        }
        if all {
            return Ok(since.elapsed());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not ready within {:.0} s (last answer: {last})",
                limit.as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
