//! `/api/v1/sessions*`: create (bootstrap with the WebSocket URL), list, get, end.

use axum::Router;
use axum::routing::{get, post};
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::conversation::{end_session, load_owned, session_json};
use crate::error::AppError;
use crate::extract::{AppJson, AuthUser, SessionId, Validate, check_len};
use crate::providers::is_known;
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
pub struct CreateSessionRequest {
    provider: String,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    config: Option<serde_json::Map<String, Value>>,
}

impl Validate for CreateSessionRequest {
    fn validate(&self) -> Result<(), String> {
        // `provider` is checked by the handler (the `invalid-input-accepted` fault lives there).
        if let Some(language) = self.config.as_ref().and_then(|c| c.get("language")) {
            let language = language
                .as_str()
                .ok_or("config.language must be a string")?;
            check_len("config.language", language, 2, 35)?;
        }
        Ok(())
    }
}

fn unknown_provider(name: &str) -> AppError {
    AppError::Unprocessable(format!(
        "unknown provider `{name}`; expected one of gemini, openai, deepgram"
    ))
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
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    AppJson(req): AppJson<CreateSessionRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let provider = if is_known(&req.provider) {
        req.provider
    } else if state.faults.invalid_input_accepted {
        "gemini".to_owned()
    } else {
        return Err(unknown_provider(&req.provider));
    };
    let at = now();
    let session = SessionRow {
        id: Uuid::new_v4(),
        user_id: auth.user_id,
        provider,
        status: "active".into(),
        metadata: Value::Object(req.metadata.unwrap_or_default()),
        config: Value::Object(req.config.unwrap_or_default()),
        context: Default::default(),
        created_at: at,
        updated_at: at,
        ended_at: None,
    };
    state.store.insert_session(&session).await?;
    tracing::info!(session_id = %session.id, provider = %session.provider, "session created");
    let body = json!({
        "session": session_json(&session),
        "websocket_url": websocket_url(&state, &headers, session.id),
    });
    Ok((StatusCode::CREATED, Json(body)))
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

/// `GET /api/v1/sessions`: the caller's sessions, newest first.
pub async fn list(
    State(state): State<AppState>,
    auth: Result<AuthUser, AppError>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let auth = match auth {
        Ok(auth) => auth,
        Err(_) if state.faults.no_auth_on_list => {
            return Ok(Json(
                json!({ "items": [], "page": 1, "page_size": 20, "total": 0 }),
            ));
        }
        Err(e) => return Err(e),
    };
    let Query(params) = query.map_err(|e| AppError::BadRequest(format!("bad query: {e}")))?;
    let page = parse_page(&params, "page", 1, i64::from(i32::MAX))?;
    let page_size = parse_page(&params, "page_size", 20, 100)?;
    let status = params.get("status").cloned();
    if status
        .as_ref()
        .is_some_and(|s| s != "active" && s != "ended")
    {
        return Err(AppError::BadRequest(
            "status must be active or ended".into(),
        ));
    }
    let provider = params.get("provider").cloned();
    if provider.as_ref().is_some_and(|p| !is_known(p)) {
        return Err(AppError::BadRequest(
            "provider must be gemini, openai or deepgram".into(),
        ));
    }
    let filter = SessionFilter {
        status,
        provider,
        limit: page_size,
        offset: (page - 1).saturating_mul(page_size),
    };
    let (items, total) = state.store.list_sessions(auth.user_id, &filter).await?;
    Ok(Json(json!({
        "items": items.iter().map(session_json).collect::<Vec<_>>(),
        "page": page,
        "page_size": page_size,
        "total": total,
    })))
}

/// `GET /api/v1/sessions/{session_id}`.
pub async fn get_one(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Json<Value>, AppError> {
    let session = match load_owned(&state, auth.user_id, id).await {
        Err(AppError::NotFound(_)) if state.faults.cross_user_leak => state
            .store
            .session(id)
            .await?
            .or(state.store.session_of_other_user(auth.user_id).await?)
            .ok_or_else(|| AppError::NotFound("no such session".into()))?,
        other => other?,
    };
    let mut body = session_json(&session);
    if state.faults.schema_drift
        && let Some(obj) = body.as_object_mut()
    {
        obj.remove("updated_at");
        let count = session.context.message_count.to_string();
        obj.insert("message_count".into(), Value::from(count));
    }
    Ok(Json(body))
}

/// `POST /api/v1/sessions/{session_id}/end`.
pub async fn end(
    State(state): State<AppState>,
    auth: AuthUser,
    SessionId(id): SessionId,
) -> Result<Json<Value>, AppError> {
    let session = end_session(&state, auth.user_id, id).await?;
    Ok(Json(session_json(&session)))
}
