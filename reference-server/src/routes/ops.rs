//! Operations endpoints: liveness, readiness, the contract.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::state::AppState;

/// `GET /health`.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.config.started_at.elapsed().as_secs_f64(),
    }))
}

/// `GET /ready`: the database and the cache answer.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "database not ready");
        AppError::Unavailable("the database is unreachable".into())
    })?;
    state.cache.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "cache not ready");
        AppError::Unavailable("the cache is unreachable".into())
    })?;
    Ok(Json(
        json!({ "status": "ready", "checks": { "database": "ok", "cache": "ok" } }),
    ))
}

/// `GET /openapi.json`.
pub async fn contract(State(state): State<AppState>) -> Json<Value> {
    let mut contract = state.contract.as_ref().clone();
    if state.faults.stale_published_contract {
        contract["info"]["version"] = Value::from("0.9.0");
        if let Some(paths) = contract.get_mut("paths").and_then(Value::as_object_mut) {
            paths.remove("/api/v1/sessions/{session_id}/switch-history");
        }
    }
    Json(contract)
}
