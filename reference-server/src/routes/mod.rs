//! The router: every path of `openapi.yaml` and `websocket.yaml`, plus problem-document
//! fallbacks for unknown routes (404) and wrong methods (405).
//!
//! Each area (operations, auth, sessions, switching, telephony, the stream) owns its `router()` next to
//! its handlers; `app()` merges them and adds what every route shares (fallbacks, correlation
//! ids, fault layers, hardening), so a new area of the backend is one module and one `merge`.

mod auth;
mod ops;
mod sessions;
mod switching;
mod telephony;

pub(crate) use sessions::SessionPage;
pub(crate) use switching::AutoFailoverResponse;

use axum::Router;

use crate::error::AppError;
use crate::faults;
use crate::hardening::Hardening;
use crate::request_context;
use crate::state::AppState;
use crate::ws;

/// The whole HTTP + WebSocket surface over `state`.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .merge(ops::router())
        .merge(auth::router())
        .merge(sessions::router())
        .merge(switching::router())
        .merge(telephony::router())
        .merge(ws::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let router = faults::http::layer(router, &state);
    let router = faults::responses::layer(router, &state).layer(request_context::CorrelationLayer);
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
