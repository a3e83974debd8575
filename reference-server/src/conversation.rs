//! Session domain logic shared by REST and WebSocket: JSON views, ownership, processing an
//! utterance, switching providers and ending a session. Every state change goes through the
//! session hub's `ops` lock so events and database writes happen in one order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::AppError;
use crate::providers::ProviderError;
use crate::state::AppState;
use crate::store::{ContextMessage, InsightRecord, SessionRow, SwitchRecord, now};

/// `Session` of the contract.
pub fn session_json(s: &SessionRow) -> Value {
    json!({
        "id": s.id,
        "user_id": s.user_id,
        "provider": s.provider,
        "status": s.status,
        "message_count": s.context.messages.len(),
        "metadata": s.metadata,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "ended_at": s.ended_at,
    })
}

/// `SwitchResult` of the contract.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchResult {
    /// Whether the switch happened.
    pub success: bool,
    /// Session.
    pub session_id: Uuid,
    /// From.
    pub from_provider: String,
    /// To.
    pub to_provider: String,
    /// Messages carried over.
    pub context_preserved: i64,
    /// When.
    pub switched_at: DateTime<Utc>,
    /// Failure message.
    pub error_message: Option<String>,
}

impl From<&SwitchRecord> for SwitchResult {
    fn from(r: &SwitchRecord) -> Self {
        SwitchResult {
            success: r.success,
            session_id: r.session_id,
            from_provider: r.from_provider.clone(),
            to_provider: r.to_provider.clone(),
            context_preserved: r.context_preserved,
            switched_at: r.switched_at,
            error_message: r.error_message.clone(),
        }
    }
}

fn not_found() -> AppError {
    AppError::NotFound("no such session".into())
}

/// The session if it belongs to `user_id`; 404 otherwise (never 403, never the data).
pub async fn load_owned(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<SessionRow, AppError> {
    match state.store.session(session_id).await? {
        Some(s) if s.user_id == user_id => Ok(s),
        _ => Err(not_found()),
    }
}

/// What to switch to and how.
#[derive(Debug, Clone)]
pub struct SwitchRequest {
    /// Target provider (already validated).
    pub to: String,
    /// Carry the context over.
    pub preserve_context: bool,
    /// Why.
    pub reason: Option<String>,
}

/// Switches the session's provider: 409 when ended or already on `to`.
pub async fn switch_provider(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    request: SwitchRequest,
) -> Result<SwitchResult, AppError> {
    let hub = state.hubs.get(session_id);
    let _ops = hub.ops.lock().await;
    let mut session = load_owned(state, user_id, session_id).await?;
    if session.status != "active" {
        return Err(AppError::Conflict("the session has ended".into()));
    }
    if session.provider == request.to {
        return Err(AppError::Conflict(format!(
            "the session already uses {}",
            request.to
        )));
    }
    hub.set_switching(true);
    let preserve = request.preserve_context && !state.faults.drop_context;
    let context_preserved = if preserve {
        session.context.messages.len() as i64
    } else {
        session.context = Default::default();
        0
    };
    let from = std::mem::replace(&mut session.provider, request.to.clone());
    let switched_at = now();
    session.updated_at = switched_at;
    let record = SwitchRecord {
        session_id,
        from_provider: from.clone(),
        to_provider: request.to.clone(),
        context_preserved,
        success: true,
        error_message: None,
        reason: request.reason.clone(),
        switched_at,
    };
    let stored = state.store.record_switch(&session, &record).await;
    hub.set_switching(false);
    stored?;
    let mut fields = Map::new();
    fields.insert("from_provider".into(), from.into());
    fields.insert("to_provider".into(), request.to.into());
    fields.insert("context_preserved".into(), context_preserved.into());
    fields.insert(
        "reason".into(),
        request.reason.map_or(Value::Null, Value::from),
    );
    hub.publish("provider_switched", fields);
    Ok(SwitchResult::from(&record))
}

/// Ends the session (idempotent): `call_status completed`, then sockets close with 1000.
pub async fn end_session(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<SessionRow, AppError> {
    let hub = state.hubs.get(session_id);
    let _ops = hub.ops.lock().await;
    let mut session = load_owned(state, user_id, session_id).await?;
    if session.status == "ended" {
        return Ok(session);
    }
    let at = now();
    session.status = "ended".into();
    session.ended_at = Some(at);
    session.updated_at = at;
    state.store.update_session(&session).await?;
    let mut fields = Map::new();
    fields.insert("status".into(), "completed".into());
    fields.insert("call_id".into(), Value::from(session_id.to_string()));
    hub.publish("call_status", fields);
    hub.close_all(1000, "session ended");
    Ok(session)
}

/// Why an utterance produced no events.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The session is gone or ended.
    #[error("the session is not active")]
    Inactive,
    /// Storage failed.
    #[error(transparent)]
    App(#[from] AppError),
}

/// Runs one utterance through the session's provider: appends it to the context, persists,
/// then publishes `transcript` and `insight`.
pub async fn process_text(
    state: &AppState,
    session_id: Uuid,
    text: &str,
    message_id: Option<String>,
) -> Result<(), TextError> {
    let hub = state.hubs.get(session_id);
    let _ops = hub.ops.lock().await;
    let mut session = state
        .store
        .session(session_id)
        .await
        .map_err(AppError::from)?
        .ok_or(TextError::Inactive)?;
    if session.status != "active" {
        return Err(TextError::Inactive);
    }
    let provider = state
        .providers
        .get(&session.provider)
        .ok_or_else(|| AppError::Internal(format!("unknown provider {}", session.provider)))?;
    let output = provider.process_text(&session.context, text).await?;
    let at = now();
    session.context.messages.push(ContextMessage {
        speaker: output.speaker.clone(),
        text: output.transcript.clone(),
        provider: session.provider.clone(),
        message_id: message_id.clone(),
        at,
    });
    session.context.sentiment = Some(output.insight.clone());
    session.context.insights.push(InsightRecord {
        insight_type: output.insight_type.clone(),
        content: output.insight.clone(),
        confidence: output.confidence,
        provider: session.provider.clone(),
    });
    session.updated_at = at;
    state
        .store
        .update_session(&session)
        .await
        .map_err(AppError::from)?;

    if state.faults.slow_events {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut transcript = Map::new();
    transcript.insert("provider".into(), session.provider.clone().into());
    transcript.insert("speaker".into(), output.speaker.into());
    transcript.insert("text".into(), output.transcript.into());
    transcript.insert("is_final".into(), true.into());
    transcript.insert(
        "message_id".into(),
        message_id.map_or(Value::Null, Value::from),
    );
    hub.publish("transcript", transcript);

    let mut insight = Map::new();
    insight.insert("provider".into(), session.provider.into());
    insight.insert("insight_type".into(), output.insight_type.into());
    insight.insert("content".into(), output.insight.into());
    let confidence = if state.faults.bad_event_schema {
        Value::from(output.confidence.to_string())
    } else {
        json!(output.confidence)
    };
    insight.insert("confidence".into(), confidence);
    if state.faults.seq_disorder {
        hub.publish_reusing_seq("insight", insight);
    } else {
        hub.publish("insight", insight);
    }
    Ok(())
}
