//! Operations endpoints: liveness, readiness, the contract.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::auth::CacheState;
use crate::error::AppError;
use crate::state::AppState;

/// Liveness, readiness and the published contract.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(contract))
}

/// `GET /health`.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.config.started_at.elapsed().as_secs_f64(),
    }))
}

/// `GET /ready`: 503 without the database (nothing can be served); with the database but
/// without a complete cache the server still serves every request correctly (revocation
/// checks go to the database), so it is ready and reports the cache as `degraded`.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "database not ready");
        AppError::Unavailable("the database is unreachable".into())
    })?;
    let reachable = state.cache.ping().await.is_ok();
    // Back after an outage: made whole now rather than on the next request.
    let cache = if reachable && state.revocations.refresh_health().await == CacheState::Ok {
        "ok"
    } else {
        "degraded"
    };
    Ok(Json(json!({
        "status": "ready",
        "checks": { "database": "ok", "cache": cache },
        "cache_backend": state.cache.kind(),
    })))
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
