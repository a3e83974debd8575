//! The REST faults, as one tower layer around the routes: it finds the route a request
//! matched ([`MatchedPath`]) and, for the routes a fault that is on breaks, rewrites the
//! request before the handler, the response after it, or answers in its place. The layer is
//! only added when one of these faults is on ([`layer`]).
//!
//! Where a fault answers instead of the handler, it first authenticates (and checks ownership)
//! the way the handler would, so a request without a token still gets the handler's 401.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::conversation::{SessionView, load_owned};
use crate::domain::{ProviderName, SessionStatus};
use crate::error::AppError;
use crate::extract::{AuthUser, SessionId};
use crate::routes::{AutoFailoverResponse, SessionPage};
use crate::state::AppState;

/// Largest body a fault reads to rewrite it.
const MAX_BODY: usize = 1024 * 1024;

/// A deliberate delay for auditors to measure, not a synchronisation.
const SLOW: Duration = Duration::from_millis(700);

const SESSIONS: &str = "/api/v1/sessions";
const SESSION: &str = "/api/v1/sessions/{session_id}";
const SWITCH: &str = "/api/v1/sessions/{session_id}/switch-provider";
const FAILOVER: &str = "/api/v1/sessions/{session_id}/auto-failover";
const HISTORY: &str = "/api/v1/sessions/{session_id}/switch-history";
const LOGOUT: &str = "/api/v1/auth/logout";
const STREAM: &str = "/ws/sessions/{session_id}";
const STREAM_ALIAS: &str = "/ai/ws/{session_id}";

/// What the layer holds: the state, and the `flaky-switch` count of this server.
#[derive(Clone)]
struct RestFaults {
    state: AppState,
    switches: Arc<AtomicU64>,
}

/// `router` behind the REST fault layer when one of its faults is on; `router` itself
/// otherwise.
pub fn layer(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let f = &state.faults;
    let any = f.missing_switch_history
        || f.schema_drift
        || f.invalid_input_accepted
        || f.no_auth_on_list
        || f.slow_switch
        || f.flaky_switch
        || f.drop_context
        || f.failover_noop
        || f.no_revocation
        || f.ws_ignores_revocation
        || f.cross_user_leak
        || f.slow_upgrade;
    if !any {
        return router;
    }
    let faults = RestFaults {
        state: state.clone(),
        switches: Arc::new(AtomicU64::new(0)),
    };
    router.layer(middleware::from_fn_with_state(faults, rest_faults))
}

async fn rest_faults(State(ctx): State<RestFaults>, request: Request, next: Next) -> Response {
    let Some(route) = request.extensions().get::<MatchedPath>().cloned() else {
        return next.run(request).await;
    };
    let f = ctx.state.faults;
    let state = &ctx.state;
    let method = request.method().clone();
    match (method, route.as_str()) {
        (Method::GET, HISTORY) if f.missing_switch_history => {
            answer(state, request, |_, _| async {
                AppError::NotFound("no such route".into()).into_response()
            })
            .await
        }
        (Method::GET, SESSION) if f.cross_user_leak || f.schema_drift => {
            get_session(state, request, next).await
        }
        (Method::POST, SESSIONS) if f.invalid_input_accepted => {
            let request = edit_request(request, |body| {
                let known = body
                    .get("provider")
                    .and_then(Value::as_str)
                    .is_none_or(|p| p.parse::<ProviderName>().is_ok());
                if !known {
                    body.insert("provider".into(), ProviderName::Gemini.as_str().into());
                }
            })
            .await;
            next.run(request).await
        }
        (Method::GET, SESSIONS) if f.no_auth_on_list => {
            let response = next.run(request).await;
            if response.status() == StatusCode::UNAUTHORIZED {
                let empty = SessionPage {
                    items: Vec::new(),
                    page: 1,
                    page_size: 20,
                    total: 0,
                };
                return Json(empty).into_response();
            }
            response
        }
        (Method::POST, SWITCH) if f.slow_switch || f.flaky_switch || f.drop_context => {
            if f.slow_switch {
                tokio::time::sleep(SLOW).await;
            }
            if f.flaky_switch && ctx.switches.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
                return AppError::Unavailable(
                    "the provider switch is temporarily unavailable".into(),
                )
                .into_response();
            }
            let request = if f.drop_context {
                edit_request(request, |body| {
                    body.insert("preserve_context".into(), false.into());
                })
                .await
            } else {
                request
            };
            next.run(request).await
        }
        (Method::POST, FAILOVER) if f.failover_noop => failover_noop(state, request, next).await,
        (Method::POST, LOGOUT) if f.no_revocation || f.ws_ignores_revocation => {
            let revoke = !f.no_revocation;
            answer(state, request, |state, auth| async move {
                if revoke {
                    // Revoked for REST, but the sockets are not told.
                    if let Err(e) = state.revocations.revoke_token(&auth.claims, false).await {
                        return e.into_response();
                    }
                }
                StatusCode::NO_CONTENT.into_response()
            })
            .await
        }
        (Method::GET, STREAM | STREAM_ALIAS) if f.slow_upgrade => {
            let response = next.run(request).await;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                tokio::time::sleep(SLOW).await;
            }
            response
        }
        _ => next.run(request).await,
    }
}

/// Answers in the handler's place, for an authenticated caller (the handler's 401 otherwise).
async fn answer<F, Fut>(state: &AppState, request: Request, reply: F) -> Response
where
    F: FnOnce(AppState, AuthUser) -> Fut,
    Fut: Future<Output = Response>,
{
    let (mut parts, _) = request.into_parts();
    match AuthUser::from_request_parts(&mut parts, state).await {
        Ok(auth) => reply(state.clone(), auth).await,
        Err(e) => e.into_response(),
    }
}

/// The caller and the session of a `/sessions/{session_id}…` request, if both are valid.
async fn caller_and_session(parts: &mut Parts, state: &AppState) -> Option<(AuthUser, SessionId)> {
    let auth = AuthUser::from_request_parts(parts, state).await.ok()?;
    let id = SessionId::from_request_parts(parts, state).await.ok()?;
    Some((auth, id))
}

/// `cross-user-leak` (a session the caller does not own is shown anyway, or another user's
/// when it does not exist) and `schema-drift` (`message_count` as a string, no `updated_at`).
async fn get_session(state: &AppState, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let leak_to = if state.faults.cross_user_leak {
        caller_and_session(&mut parts, state).await
    } else {
        None
    };
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some((auth, SessionId(id))) = leak_to
        && response.status() == StatusCode::NOT_FOUND
    {
        response = match leaked(state, &auth, id).await {
            Ok(Some(session)) => Json(SessionView::from(&session)).into_response(),
            Ok(None) => response,
            Err(e) => e.into_response(),
        };
    }
    if state.faults.schema_drift {
        response = edit_response(response, |body| {
            body.remove("updated_at");
            if let Some(count) = body.get("message_count").map(Value::to_string) {
                body.insert("message_count".into(), count.into());
            }
        })
        .await;
    }
    response
}

async fn leaked(
    state: &AppState,
    auth: &AuthUser,
    id: uuid::Uuid,
) -> Result<Option<crate::store::SessionRow>, AppError> {
    Ok(match state.store.session(id).await? {
        Some(session) => Some(session),
        None => state.store.session_of_other_user(auth.user_id).await?,
    })
}

/// `failover-noop`: `force: true` answers "not needed" for an owned, active session.
async fn failover_noop(state: &AppState, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = read(body).await;
    let forced = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("force").and_then(Value::as_bool))
        .unwrap_or(false);
    if forced && let Some((auth, SessionId(id))) = caller_and_session(&mut parts, state).await {
        return match load_owned(state, auth.user_id, id).await {
            Ok(session) if session.status == SessionStatus::Active => Json(AutoFailoverResponse {
                session_id: id,
                failover_triggered: false,
                reason: "failover is not needed".into(),
                switch: None,
            })
            .into_response(),
            Ok(_) => AppError::Conflict("the session has ended".into()).into_response(),
            Err(e) => e.into_response(),
        };
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn read(body: Body) -> Bytes {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default()
}

/// The JSON object of `bytes` edited, or `bytes` unchanged when they are not one.
fn edit_json(bytes: Bytes, edit: impl FnOnce(&mut Map<String, Value>)) -> Bytes {
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut object)) => {
            edit(&mut object);
            serde_json::to_vec(&object).map_or(bytes, Bytes::from)
        }
        _ => bytes,
    }
}

/// The request with its JSON body edited.
async fn edit_request(request: Request, edit: impl FnOnce(&mut Map<String, Value>)) -> Request {
    let (mut parts, body) = request.into_parts();
    let bytes = edit_json(read(body).await, edit);
    parts.headers.remove(header::CONTENT_LENGTH);
    Request::from_parts(parts, Body::from(bytes))
}

/// A successful response with its JSON body edited.
async fn edit_response(response: Response, edit: impl FnOnce(&mut Map<String, Value>)) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = edit_json(read(body).await, edit);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}
