//! Provider switching: switch-provider, switch-status, auto-failover, switch-history.

use axum::Router;
use axum::routing::{get, post};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::conversation::{SwitchRequest, SwitchResult, load_owned, switch_provider as do_switch};
use crate::error::AppError;
use crate::extract::{AppJson, AuthUser, SessionId, Validate, check_len};
use crate::providers::is_known;
use crate::state::AppState;

/// Provider switching of a session.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/sessions/{session_id}/switch-provider",
            post(switch_provider),
        )
        .route(
            "/api/v1/sessions/{session_id}/switch-status",
            get(switch_status),
        )
        .route(
            "/api/v1/sessions/{session_id}/auto-failover",
            post(auto_failover),
        )
        .route(
            "/api/v1/sessions/{session_id}/switch-history",
            get(switch_history),
        )
}

/// `SwitchProviderRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchProviderRequest {
    provider: String,
    #[serde(default = "default_true")]
    preserve_context: bool,
    #[serde(default)]
    reason: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Validate for SwitchProviderRequest {
    fn validate(&self) -> Result<(), String> {
        if !is_known(&self.provider) {
            return Err(format!(
                "unknown provider `{}`; expected one of gemini, openai, deepgram",
                self.provider
            ));
        }
        if let Some(reason) = &self.reason {
            check_len("reason", reason, 0, 500)?;
        }
        Ok(())
    }
}

/// `AutoFailoverRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoFailoverRequest {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    force: bool,
}

impl Validate for AutoFailoverRequest {
    fn validate(&self) -> Result<(), String> {
        match &self.reason {
            Some(reason) => check_len("reason", reason, 0, 500),
            None => Ok(()),
        }
    }
}

/// Switch-provider requests seen under the `flaky-switch` fault, process-wide.
static FLAKY_SWITCHES: AtomicU64 = AtomicU64::new(0);

/// `POST /api/v1/sessions/{id}/switch-provider`.
pub async fn switch_provider(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
    AppJson(req): AppJson<SwitchProviderRequest>,
) -> Result<Json<SwitchResult>, AppError> {
    if state.faults.slow_switch {
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    if state.faults.flaky_switch && FLAKY_SWITCHES.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
        return Err(AppError::Unavailable(
            "the provider switch is temporarily unavailable".into(),
        ));
    }
    let request = SwitchRequest {
        to: req.provider,
        preserve_context: req.preserve_context,
        reason: req.reason,
    };
    Ok(Json(do_switch(&state, auth.user_id, id, request).await?))
}

/// `GET /api/v1/sessions/{id}/switch-status`.
pub async fn switch_status(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Json<Value>, AppError> {
    let session = load_owned(&state, auth.user_id, id).await?;
    let history = state.store.switch_history(id).await?;
    let hub = state.hubs.get(id);
    Ok(Json(json!({
        "session_id": id,
        "current_provider": session.provider,
        "state": if hub.is_switching() { "switching" } else { "idle" },
        "switch_count": history.len(),
        "last_switch": history.last().map(SwitchResult::from),
    })))
}

/// `POST /api/v1/sessions/{id}/auto-failover`.
pub async fn auto_failover(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
    AppJson(req): AppJson<AutoFailoverRequest>,
) -> Result<Json<Value>, AppError> {
    let session = load_owned(&state, auth.user_id, id).await?;
    if session.status != "active" {
        return Err(AppError::Conflict("the session has ended".into()));
    }
    let current_healthy = state
        .providers
        .get(&session.provider)
        .is_some_and(|p| p.health().healthy);
    let no_switch = |reason: String| {
        Json(
            json!({ "session_id": id, "failover_triggered": false, "reason": reason, "switch": null }),
        )
    };
    if req.force && state.faults.failover_noop {
        return Ok(no_switch("failover is not needed".into()));
    }
    if current_healthy && !req.force {
        return Ok(no_switch(format!(
            "current provider {} is healthy",
            session.provider
        )));
    }
    let Some(target) = state.providers.healthiest_other(&session.provider) else {
        return Ok(no_switch("no other healthy provider is available".into()));
    };
    let reason = req.reason.unwrap_or_else(|| {
        if current_healthy {
            format!("forced failover from {}", session.provider)
        } else {
            format!("provider {} is unhealthy", session.provider)
        }
    });
    let request = SwitchRequest {
        to: target.name().to_owned(),
        preserve_context: true,
        reason: Some(reason.clone()),
    };
    let result = do_switch(&state, auth.user_id, id, request).await?;
    Ok(Json(json!({
        "session_id": id,
        "failover_triggered": true,
        "reason": reason,
        "switch": result,
    })))
}

/// `GET /api/v1/sessions/{id}/switch-history`: oldest first.
pub async fn switch_history(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Json<Value>, AppError> {
    if state.faults.missing_switch_history {
        return Err(AppError::NotFound("no such route".into()));
    }
    load_owned(&state, auth.user_id, id).await?;
    let items: Vec<Value> = state
        .store
        .switch_history(id)
        .await?
        .iter()
        .map(|record| {
            let mut item = json!(SwitchResult::from(record));
            if let Some(obj) = item.as_object_mut() {
                obj.insert(
                    "reason".into(),
                    record.reason.clone().map_or(Value::Null, Value::from),
                );
            }
            item
        })
        .collect();
    Ok(Json(json!({ "session_id": id, "items": items })))
}
