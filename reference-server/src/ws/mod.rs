//! The session stream (`/ws/sessions/{id}`, alias `/ai/ws/{id}`): authentication before the
//! upgrade, then one [`connection`] task per socket fed by the session [`hub`].

mod connection;
pub mod hub;
pub mod hubs;
pub mod messages;

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;

use crate::conversation::load_owned;
use crate::domain::SessionStatus;
use crate::error::AppError;
use crate::extract::{SessionId, authenticate, bearer_token};
use crate::faults::ws::FrameFaults;
use crate::state::AppState;

/// The session stream (and its `/ai/ws` alias).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws/sessions/{session_id}", get(upgrade))
        .route("/ai/ws/{session_id}", get(upgrade))
}

/// Largest accepted client frame.
const MAX_FRAME_BYTES: usize = 64 * 1024;

/// `GET /ws/sessions/{session_id}`: 401 / 404 problems before the upgrade.
pub async fn upgrade(
    State(state): State<AppState>,
    SessionId(session_id): SessionId,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let query_token = query.ok().and_then(|Query(q)| q.get("token").cloned());
    let token = bearer_token(&headers)
        .map(str::to_owned)
        .or(query_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::Unauthorized("missing access token (Authorization header or ?token=)".into())
        })?;
    let auth = authenticate(&state, &token).await?;
    let session = load_owned(&state, auth.user_id, session_id).await?;
    let upgrade =
        upgrade.map_err(|e| AppError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let ended = session.status != SessionStatus::Active;
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let (sink, frames) = socket.split();
            let claims = auth.claims;
            // The frames are decorated only when a socket fault is on.
            match FrameFaults::of(&state) {
                None => connection::run(sink, frames, state, session_id, claims, ended).await,
                Some(faults) => {
                    let frames = faults.wrap(frames);
                    connection::run(sink, frames, state, session_id, claims, ended).await;
                }
            }
        })
        .into_response())
}
