//! Provider switching: switch-provider, switch-status, auto-failover, switch-history.

use axum::Router;
use axum::routing::{get, post};

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::conversation::{SwitchRequest, SwitchResult, load_owned, switch_provider as do_switch};
use crate::domain::{ProviderName, SessionStatus};
use crate::error::AppError;
use crate::extract::{AppJson, AuthUser, SessionId, Validate, check_len};
use crate::state::AppState;
use crate::store::SwitchRecord;

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
struct SwitchProviderRequest {
    provider: ProviderName,
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
        if let Some(reason) = &self.reason {
            check_len("reason", reason, 0, 500)?;
        }
        Ok(())
    }
}

/// `AutoFailoverRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoFailoverRequest {
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

/// `SwitchStatus`.
#[derive(Debug, Serialize)]
struct SwitchStatus {
    session_id: Uuid,
    current_provider: ProviderName,
    state: &'static str,
    switch_count: usize,
    last_switch: Option<SwitchResult>,
}

/// `AutoFailoverResponse` (`switch` is null when no failover happened).
#[derive(Debug, Serialize)]
pub(crate) struct AutoFailoverResponse {
    pub(crate) session_id: Uuid,
    pub(crate) failover_triggered: bool,
    pub(crate) reason: String,
    pub(crate) switch: Option<SwitchResult>,
}

/// One item of `SwitchHistory`: a `SwitchResult` and its reason (null when none was given).
#[derive(Debug, Serialize)]
struct SwitchHistoryItem {
    #[serde(flatten)]
    result: SwitchResult,
    reason: Option<String>,
}

impl From<&SwitchRecord> for SwitchHistoryItem {
    fn from(record: &SwitchRecord) -> Self {
        SwitchHistoryItem {
            result: SwitchResult::from(record),
            reason: record.reason.clone(),
        }
    }
}

/// `SwitchHistory`, oldest first.
#[derive(Debug, Serialize)]
struct SwitchHistory {
    session_id: Uuid,
    items: Vec<SwitchHistoryItem>,
}

/// `POST /api/v1/sessions/{id}/switch-provider`.
async fn switch_provider(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
    AppJson(req): AppJson<SwitchProviderRequest>,
) -> Result<Json<SwitchResult>, AppError> {
    let request = SwitchRequest {
        to: req.provider,
        preserve_context: req.preserve_context,
        reason: req.reason,
    };
    Ok(Json(do_switch(&state, auth.user_id, id, request).await?))
}

/// `GET /api/v1/sessions/{id}/switch-status`.
async fn switch_status(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Json<SwitchStatus>, AppError> {
    let session = load_owned(&state, auth.user_id, id).await?;
    let history = state.store.switch_history(id).await?;
    let hub = state.hubs.get(id);
    Ok(Json(SwitchStatus {
        session_id: id,
        current_provider: session.provider,
        state: if hub.is_switching() {
            "switching"
        } else {
            "idle"
        },
        switch_count: history.len(),
        last_switch: history.last().map(SwitchResult::from),
    }))
}

/// `POST /api/v1/sessions/{id}/auto-failover`.
async fn auto_failover(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
    AppJson(req): AppJson<AutoFailoverRequest>,
) -> Result<Json<AutoFailoverResponse>, AppError> {
    let session = load_owned(&state, auth.user_id, id).await?;
    if session.status != SessionStatus::Active {
        return Err(AppError::Conflict("the session has ended".into()));
    }
    let current_healthy = state
        .providers
        .get(&session.provider)
        .is_some_and(|p| p.health().healthy);
    let no_switch = |reason: String| {
        Json(AutoFailoverResponse {
            session_id: id,
            failover_triggered: false,
            reason,
            switch: None,
        })
    };
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
        to: target.name(),
        preserve_context: true,
        reason: Some(reason.clone()),
    };
    let result = do_switch(&state, auth.user_id, id, request).await?;
    Ok(Json(AutoFailoverResponse {
        session_id: id,
        failover_triggered: true,
        reason,
        switch: Some(result),
    }))
}

/// `GET /api/v1/sessions/{id}/switch-history`: oldest first.
async fn switch_history(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Json<SwitchHistory>, AppError> {
    load_owned(&state, auth.user_id, id).await?;
    let history = state.store.switch_history(id).await?;
    Ok(Json(SwitchHistory {
        session_id: id,
        items: history.iter().map(SwitchHistoryItem::from).collect(),
    }))
}
