//! `/api/telephony/*`: outbound calls, call lookup, active calls, status changes over the
//! lifecycle, carrier health, and the carriers' signed webhooks.
//!
//! A call belongs to the user who placed it (another user's call is a 404, like a session).
//! The webhooks carry no bearer token: the carrier's signature is their authentication, so
//! they are verified before anything is read from them (see `telephony::webhooks`), and they
//! are not in `openapi.yaml`'s walked paths (an auditor cannot sign for a carrier).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::conversation::load_owned;
use crate::error::AppError;
use crate::extract::{AppJson, AuthUser, Validate};
use crate::state::AppState;
use crate::store::CallRow;
use crate::telephony::calls::{self, NewCall};
use crate::telephony::webhooks::{self, SignatureError};
use crate::telephony::{CallStatus, Carrier, CarrierHealth, Direction, is_e164};

/// At most this many active calls are listed.
const ACTIVE_LIMIT: u32 = 100;

/// Telephony.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/telephony/call", post(outbound))
        .route("/api/telephony/call/{call_id}", get(lookup))
        .route("/api/telephony/call/{call_id}/status", post(update_status))
        .route("/api/telephony/calls/active", get(active))
        .route("/api/telephony/provider-health", get(health))
        .route("/api/telephony/webhooks/twilio", post(twilio_webhook))
        .route("/api/telephony/webhooks/telnyx", post(telnyx_webhook))
}

/// `Call`.
#[derive(Debug, Serialize)]
struct CallView<'a> {
    id: &'a str,
    call_id: &'a str,
    session_id: Option<Uuid>,
    provider: Carrier,
    direction: Direction,
    status: CallStatus,
    from_number: Option<&'a str>,
    to_number: Option<&'a str>,
    metadata: &'a Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

impl<'a> From<&'a CallRow> for CallView<'a> {
    fn from(c: &'a CallRow) -> Self {
        CallView {
            id: &c.call_id,
            call_id: &c.call_id,
            session_id: c.session_id,
            provider: c.provider,
            direction: c.direction,
            status: c.status,
            from_number: c.from_number.as_deref(),
            to_number: c.to_number.as_deref(),
            metadata: &c.metadata,
            created_at: c.created_at,
            updated_at: c.updated_at,
            ended_at: c.ended_at,
        }
    }
}

fn view(call: &CallRow) -> Response {
    Json(CallView::from(call)).into_response()
}

/// `OutboundCallRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundCallRequest {
    provider: Carrier,
    from_number: String,
    to_number: String,
    #[serde(default)]
    session_id: Option<Uuid>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
}

impl Validate for OutboundCallRequest {
    fn validate(&self) -> Result<(), String> {
        for (field, number) in [
            ("from_number", &self.from_number),
            ("to_number", &self.to_number),
        ] {
            if !is_e164(number) {
                return Err(format!(
                    "{field} must be an E.164 number (+ and 2 to 15 digits)"
                ));
            }
        }
        Ok(())
    }
}

/// `CallStatusUpdate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallStatusUpdate {
    status: CallStatus,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
}

impl Validate for CallStatusUpdate {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A call id from the path: the carriers' ids are short, printable and unreserved.
fn call_id(path: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    let Path(id) = path.map_err(|e| AppError::BadRequest(format!("bad call id: {e}")))?;
    let fine = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
    if fine {
        Ok(id)
    } else {
        Err(AppError::NotFound(format!("no call {id:?}")))
    }
}

/// `POST /api/telephony/call`: places an outbound call through the carrier.
async fn outbound(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(req): AppJson<OutboundCallRequest>,
) -> Result<Response, AppError> {
    if let Some(session_id) = req.session_id {
        load_owned(&state, auth.user_id, session_id).await?;
    }
    let call_id = state
        .carriers
        .get(req.provider)
        .place_call(&req.from_number, &req.to_number)
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let call = calls::register(
        &state,
        NewCall {
            call_id,
            user_id: auth.user_id,
            session_id: req.session_id,
            provider: req.provider,
            direction: Direction::Outbound,
            from_number: Some(req.from_number),
            to_number: Some(req.to_number),
            metadata: Value::Object(req.metadata.unwrap_or_default()),
        },
    )
    .await?;
    tracing::info!(call_id = %call.call_id, provider = %call.provider, "outbound call placed");
    Ok((StatusCode::CREATED, Json(CallView::from(&call))).into_response())
}

/// `GET /api/telephony/call/{call_id}`.
async fn lookup(
    State(state): State<AppState>,
    auth: AuthUser,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let call = calls::owned(&state, auth.user_id, &call_id(path)?).await?;
    Ok(view(&call))
}

/// `POST /api/telephony/call/{call_id}/status`: one step of the lifecycle (409 when illegal).
async fn update_status(
    State(state): State<AppState>,
    auth: AuthUser,
    path: Result<Path<String>, PathRejection>,
    AppJson(req): AppJson<CallStatusUpdate>,
) -> Result<Response, AppError> {
    let call = calls::owned(&state, auth.user_id, &call_id(path)?).await?;
    let call = calls::transition(&state, call, req.status, req.metadata).await?;
    Ok(view(&call))
}

/// `ActiveCalls`.
#[derive(Debug, Serialize)]
struct ActiveCalls<'a> {
    items: Vec<CallView<'a>>,
    total: usize,
}

/// `GET /api/telephony/calls/active`: the caller's non-terminal calls, oldest first.
async fn active(State(state): State<AppState>, auth: AuthUser) -> Result<Response, AppError> {
    let rows = state
        .store
        .active_calls_of(auth.user_id, ACTIVE_LIMIT)
        .await?;
    let body = ActiveCalls {
        items: rows.iter().map(CallView::from).collect(),
        total: rows.len(),
    };
    Ok(Json(body).into_response())
}

/// `TelephonyHealth`.
#[derive(Debug, Serialize)]
struct TelephonyHealth {
    providers: Vec<CarrierHealth>,
}

/// `GET /api/telephony/provider-health`.
async fn health(State(state): State<AppState>, _auth: AuthUser) -> Json<TelephonyHealth> {
    Json(TelephonyHealth {
        providers: state.carriers.health(),
    })
}

fn refused(e: SignatureError) -> AppError {
    tracing::warn!(reason = %e, "webhook refused");
    if e.is_missing() {
        AppError::Unauthorized(e.to_string())
    } else {
        AppError::Forbidden(e.to_string())
    }
}

fn signature_header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, AppError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused(SignatureError::Missing(name)))
}

/// The URL Twilio requested: the public URL when configured, else the `Host` header.
fn requested_url(state: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match &state.config.public_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            format!("http://{host}{path}")
        }
    }
}

/// Applies a carrier's status report: unknown calls are 404, a repeat of the current status
/// is acknowledged unchanged (carriers retry), anything else goes through the lifecycle.
async fn apply(
    state: &AppState,
    call_id: &str,
    status: impl FnOnce(CallStatus) -> Option<CallStatus>,
) -> Result<Response, AppError> {
    let call = state
        .store
        .call(call_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no call {call_id:?}")))?;
    match status(call.status) {
        Some(to) if to != call.status => Ok(view(&calls::transition(state, call, to, None).await?)),
        _ => Ok(view(&call)),
    }
}

/// `POST /api/telephony/webhooks/twilio` (form-encoded, `X-Twilio-Signature`).
async fn twilio_webhook(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let token = state
        .webhook_keys
        .twilio
        .as_ref()
        .ok_or_else(|| refused(SignatureError::NotConfigured("twilio")))?;
    let signature = signature_header(&headers, "x-twilio-signature")?;
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| refused(SignatureError::Invalid))?;
    let url = requested_url(&state, &headers, &uri);
    webhooks::verify_twilio(&token.0, &url, &params, signature).map_err(refused)?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| AppError::Unprocessable(format!("missing form parameter {name}")))
    };
    let reported = webhooks::twilio_status(param("CallStatus")?);
    apply(&state, param("CallSid")?, |_| reported).await
}

/// `POST /api/telephony/webhooks/telnyx` (JSON, Ed25519 signature and timestamp headers).
async fn telnyx_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let key = state
        .webhook_keys
        .telnyx
        .as_ref()
        .ok_or_else(|| refused(SignatureError::NotConfigured("telnyx")))?;
    let signature = signature_header(&headers, "telnyx-signature-ed25519")?;
    let timestamp = signature_header(&headers, "telnyx-timestamp")?;
    webhooks::verify_telnyx(
        key,
        &state.webhook_keys.replays,
        &body,
        signature,
        timestamp,
        Utc::now().timestamp(),
    )
    .map_err(refused)?;
    let event: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("invalid JSON: {e}")))?;
    let data = event.get("data").unwrap_or(&Value::Null);
    let text = |v: Option<&Value>, name: &str| {
        v.and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| AppError::Unprocessable(format!("missing {name}")))
    };
    let event_type = text(data.get("event_type"), "data.event_type")?;
    let call_id = text(
        data.pointer("/payload/call_control_id"),
        "data.payload.call_control_id",
    )?;
    apply(&state, &call_id, |current| {
        webhooks::telnyx_status(&event_type, current)
    })
    .await
}
