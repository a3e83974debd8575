//! The router: every path of `openapi.yaml` and `websocket.yaml`, plus problem-document
//! fallbacks for unknown routes (404) and wrong methods (405).

mod auth;
mod ops;
mod sessions;
mod switching;

use axum::Router;
use axum::routing::{get, post};

use crate::error::AppError;
use crate::hardening::Hardening;
use crate::request_context;
use crate::state::AppState;
use crate::ws;

/// The whole HTTP + WebSocket surface over `state`.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/openapi.json", get(ops::contract))
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/logout-all", post(auth::logout_all))
        .route("/api/v1/auth/me", get(auth::me))
        .route(
            "/api/v1/sessions",
            post(sessions::create).get(sessions::list),
        )
        .route("/api/v1/sessions/{session_id}", get(sessions::get_one))
        .route("/api/v1/sessions/{session_id}/end", post(sessions::end))
        .route(
            "/api/v1/sessions/{session_id}/switch-provider",
            post(switching::switch_provider),
        )
        .route(
            "/api/v1/sessions/{session_id}/switch-status",
            get(switching::switch_status),
        )
        .route(
            "/api/v1/sessions/{session_id}/auto-failover",
            post(switching::auto_failover),
        )
        .route(
            "/api/v1/sessions/{session_id}/switch-history",
            get(switching::switch_history),
        )
        .route("/ws/sessions/{session_id}", get(ws::upgrade))
        .route("/ai/ws/{session_id}", get(ws::upgrade))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let router = request_context::with_response_faults(router, &state)
        .layer(request_context::CorrelationLayer);
    let hardening = Hardening::new(
        &state.config.cors_origins,
        state.config.public_url.as_deref(),
    );
    hardening.apply(router).with_state(state)
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
