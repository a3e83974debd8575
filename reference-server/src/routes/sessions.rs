//! `/api/v1/sessions*`: create (bootstrap with the WebSocket URL), list, get, end.

use axum::Router;
use axum::routing::{get, post};
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::conversation::{SessionView, end_session, load_owned};
use crate::domain::{ProviderName, SessionStatus};
use crate::error::AppError;
use crate::extract::{AppJson, AuthUser, SessionId, Validate, check_len};
use crate::state::AppState;
use crate::store::{SessionFilter, SessionRow, now};

/// Voice sessions.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(create).get(list))
        .route("/api/v1/sessions/{session_id}", get(get_one))
        .route("/api/v1/sessions/{session_id}/end", post(end))
}

/// `CreateSessionRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSessionRequest {
    provider: ProviderName,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    config: Option<serde_json::Map<String, Value>>,
}

impl Validate for CreateSessionRequest {
    fn validate(&self) -> Result<(), String> {
        if let Some(language) = self.config.as_ref().and_then(|c| c.get("language")) {
            let language = language
                .as_str()
                .ok_or("config.language must be a string")?;
            check_len("config.language", language, 2, 35)?;
        }
        Ok(())
    }
}

/// `CreateSessionResponse`.
#[derive(Debug, Serialize)]
struct CreateSessionResponse<'a> {
    session: SessionView<'a>,
    websocket_url: String,
}

/// `SessionList`: one page of the caller's sessions.
#[derive(Debug, Serialize)]
pub(crate) struct SessionPage<'a> {
    pub(crate) items: Vec<SessionView<'a>>,
    pub(crate) page: i64,
    pub(crate) page_size: i64,
    pub(crate) total: i64,
}

/// A session as the API shows it.
fn view(session: &SessionRow) -> Response {
    Json(SessionView::from(session)).into_response()
}

/// The absolute `ws://` URL of a session's stream.
fn websocket_url(state: &AppState, headers: &HeaderMap, session_id: Uuid) -> String {
    let path = format!("/ws/sessions/{session_id}");
    if let Some(base) = &state.config.public_url {
        let base = base.trim_end_matches('/');
        let base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if base.starts_with("ws://") || base.starts_with("wss://") {
            base.to_owned()
        } else {
            format!("ws://{base}")
        };
        return format!("{base}{path}");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        })
        .map(str::to_owned)
        .or_else(|| state.config.bound_addr.map(|a| a.to_string()))
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    format!("ws://{host}{path}")
}

/// `POST /api/v1/sessions`.
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    AppJson(req): AppJson<CreateSessionRequest>,
) -> Result<Response, AppError> {
    let at = now();
    let session = SessionRow {
        id: Uuid::new_v4(),
        user_id: auth.user_id,
        provider: req.provider,
        status: SessionStatus::Active,
        metadata: Value::Object(req.metadata.unwrap_or_default()),
        config: Value::Object(req.config.unwrap_or_default()),
        context: Default::default(),
        created_at: at,
        updated_at: at,
        ended_at: None,
    };
    state.store.insert_session(&session).await?;
    tracing::info!(session_id = %session.id, provider = %session.provider, "session created");
    let body = CreateSessionResponse {
        session: SessionView::from(&session),
        websocket_url: websocket_url(&state, &headers, session.id),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn parse_page(
    params: &HashMap<String, String>,
    name: &str,
    default: i64,
    max: i64,
) -> Result<i64, AppError> {
    match params.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!("{name} must be an integer between 1 and {max}"))
            }),
    }
}

/// A filter parameter of the listing: absent, or one of the vocabulary (400 otherwise).
fn parse_filter<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    name: &str,
    expected: &str,
) -> Result<Option<T>, AppError> {
    params
        .get(name)
        .map(|raw| {
            raw.parse()
                .map_err(|_| AppError::BadRequest(format!("{name} must be {expected}")))
        })
        .transpose()
}

/// `GET /api/v1/sessions`: the caller's sessions, newest first.
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(params) = query.map_err(|e| AppError::BadRequest(format!("bad query: {e}")))?;
    let page = parse_page(&params, "page", 1, i64::from(i32::MAX))?;
    let page_size = parse_page(&params, "page_size", 20, 100)?;
    let status = parse_filter::<SessionStatus>(&params, "status", "active or ended")?;
    let provider = parse_filter::<ProviderName>(&params, "provider", "gemini, openai or deepgram")?;
    let filter = SessionFilter {
        status,
        provider,
        limit: page_size,
        offset: (page - 1).saturating_mul(page_size),
    };
    let (items, total) = state.store.list_sessions(auth.user_id, &filter).await?;
    let page = SessionPage {
        items: items.iter().map(SessionView::from).collect(),
        page,
        page_size,
        total,
    };
    Ok(Json(page).into_response())
}

/// `GET /api/v1/sessions/{session_id}`.
async fn get_one(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Response, AppError> {
    let session = load_owned(&state, auth.user_id, id).await?;
    Ok(view(&session))
}

/// `POST /api/v1/sessions/{session_id}/end`.
async fn end(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Response, AppError> {
    let session = end_session(&state, auth.user_id, id).await?;
    Ok(view(&session))
}
