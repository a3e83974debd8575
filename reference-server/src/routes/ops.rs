//! Operations endpoints: liveness, readiness, the contract.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

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

/// `Health`.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: f64,
}

/// `Readiness` (503 problems are [`AppError`]s).
#[derive(Debug, Serialize)]
struct Readiness {
    status: &'static str,
    checks: ReadinessChecks,
    cache_backend: &'static str,
    recovery: RecoveryView,
}

/// What call recovery did at start.
#[derive(Debug, Serialize)]
struct RecoveryView {
    /// Non-terminal calls loaded back into the cache.
    calls: usize,
    /// How long it took, in milliseconds.
    duration_ms: f64,
    /// Whether the cache took them.
    cached: bool,
}

/// The dependencies `/ready` looked at.
#[derive(Debug, Serialize)]
struct ReadinessChecks {
    database: &'static str,
    cache: &'static str,
}

/// `GET /health`.
async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.config.started_at.elapsed().as_secs_f64(),
    })
}

/// `GET /ready`: 503 without the database (nothing can be served); with the database but
/// without a complete cache the server still serves every request correctly (revocation
/// checks go to the database), so it is ready and reports the cache as `degraded`.
async fn ready(State(state): State<AppState>) -> Result<Json<Readiness>, AppError> {
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
    Ok(Json(Readiness {
        status: "ready",
        checks: ReadinessChecks {
            database: "ok",
            cache,
        },
        cache_backend: state.cache.kind(),
        recovery: RecoveryView {
            calls: state.recovery.calls,
            duration_ms: state.recovery.duration.as_secs_f64() * 1000.0,
            cached: state.recovery.cached,
        },
    }))
}

/// `GET /openapi.json`: the contract as published at start.
async fn contract(State(state): State<AppState>) -> Response {
    Json(state.contract.as_ref()).into_response()
}
