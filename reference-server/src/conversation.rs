//! Session domain logic shared by REST and WebSocket: JSON views, ownership, processing an
//! utterance, switching providers and ending a session. Every state change goes through the
//! session hub's `ops` lock so events and database writes happen in one order.
//!
//! An utterance must cost the same at message 5 and at message 5,000: it appends one message
//! and one insight row and bumps the session's counters, and reads nothing that grows with the
//! conversation. The few fields it needs (provider, status, counters) are kept under the `ops`
//! lock as a write-through copy of the session row, loaded from the database on first use.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::AppError;
use crate::providers::ProviderError;
use crate::state::AppState;
use crate::store::{Context, ContextMessage, InsightRecord, SessionRow, SwitchRecord, now};

/// The mutable state of a session needed to process an utterance, cached in its hub.
///
/// Only ever read or written under the hub's `ops` lock, and only changed after the database
/// accepted the same change, so it never runs ahead of the source of truth; on a storage
/// error it is dropped and reloaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSession {
    /// Current provider.
    pub provider: String,
    /// `active` or `ended`.
    pub status: String,
    /// Message count and latest sentiment.
    pub context: Context,
}

impl From<&SessionRow> for LiveSession {
    fn from(s: &SessionRow) -> Self {
        LiveSession {
            provider: s.provider.clone(),
            status: s.status.clone(),
            context: s.context.clone(),
        }
    }
}

/// `Session` of the contract.
pub fn session_json(s: &SessionRow) -> Value {
    json!({
        "id": s.id,
        "user_id": s.user_id,
        "provider": s.provider,
        "status": s.status,
        "message_count": s.context.message_count,
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
    let mut live = hub.ops.lock().await;
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
        session.context.message_count
    } else {
        session.context = Context::default();
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
    let stored = state
        .store
        .record_switch(&session, &record, !preserve)
        .await;
    hub.set_switching(false);
    *live = stored.is_ok().then(|| LiveSession::from(&session));
    stored?;
    let mut fields = Map::new();
    fields.insert("from_provider".into(), from.into());
    fields.insert("to_provider".into(), request.to.into());
    fields.insert("context_preserved".into(), context_preserved.into());
    fields.insert(
        "reason".into(),
        request.reason.map_or(Value::Null, Value::from),
    );
    if !state.faults.silent_switch {
        hub.publish("provider_switched", fields).await?;
    }
    Ok(SwitchResult::from(&record))
}

/// Ends the session (idempotent): `call_status completed`, then sockets close with 1000.
pub async fn end_session(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<SessionRow, AppError> {
    let hub = state.hubs.get(session_id);
    let mut live = hub.ops.lock().await;
    let mut session = load_owned(state, user_id, session_id).await?;
    if session.status == "ended" {
        return Ok(session);
    }
    let at = now();
    session.status = "ended".into();
    session.ended_at = Some(at);
    session.updated_at = at;
    let stored = state.store.update_session(&session).await;
    *live = stored.is_ok().then(|| LiveSession::from(&session));
    stored?;
    let mut fields = Map::new();
    fields.insert("status".into(), "completed".into());
    fields.insert("call_id".into(), Value::from(session_id.to_string()));
    // The session has ended whatever happens to the event: sockets close either way.
    let published = hub.publish("call_status", fields).await;
    hub.close_all(1000, "session ended");
    published?;
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

/// Runs one utterance through the session's provider: appends it to the conversation,
/// persists, then publishes `transcript` and `insight`. Constant work per utterance: no read
/// at all while the hub holds the session's state, two INSERTs and a counter UPDATE in one
/// transaction.
pub async fn process_text(
    state: &AppState,
    session_id: Uuid,
    text: &str,
    message_id: Option<String>,
) -> Result<(), TextError> {
    let hub = state.hubs.get(session_id);
    let mut ops = hub.ops.lock().await;
    if hub.take_live_stale() {
        // Switched or ended through another instance.
        *ops = None;
    }
    if ops.is_none() {
        let row = state
            .store
            .session(session_id)
            .await
            .map_err(AppError::from)?
            .ok_or(TextError::Inactive)?;
        *ops = Some(LiveSession::from(&row));
    }
    let Some(live) = ops.as_mut() else {
        return Err(TextError::Inactive);
    };
    if live.status != "active" {
        return Err(TextError::Inactive);
    }
    let mut provider_name = live.provider.clone();
    if state.faults.stale_provider {
        let history = state
            .store
            .switch_history(session_id)
            .await
            .map_err(AppError::from)?;
        if let Some(last) = history.last() {
            provider_name = last.from_provider.clone();
        }
    }
    let provider = state
        .providers
        .get(&provider_name)
        .ok_or_else(|| AppError::Internal(format!("unknown provider {provider_name}")))?;
    let output = provider.process_text(&live.context, text).await?;
    let message = ContextMessage {
        speaker: output.speaker.clone(),
        text: output.transcript.clone(),
        provider: provider_name.clone(),
        message_id: message_id.clone(),
        at: now(),
    };
    let insight = InsightRecord {
        insight_type: output.insight_type.clone(),
        content: output.insight.clone(),
        confidence: output.confidence,
        provider: provider_name.clone(),
    };
    let next = Context {
        message_count: live.context.message_count + 1,
        sentiment: Some(output.insight.clone()),
    };
    let position = live.context.message_count;
    if let Err(e) = state
        .store
        .append_utterance(session_id, position, &message, &insight, &next)
        .await
    {
        // Whether the commit happened is unknown: reload from the database next time.
        *ops = None;
        return Err(AppError::from(e).into());
    }
    live.context = next;

    if state.faults.slow_events {
        // The `slow-events` fault: a deliberate delay, not a synchronisation.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut transcript = Map::new();
    transcript.insert("provider".into(), provider_name.clone().into());
    transcript.insert("speaker".into(), output.speaker.into());
    transcript.insert("text".into(), output.transcript.into());
    transcript.insert("is_final".into(), true.into());
    transcript.insert(
        "message_id".into(),
        message_id.map_or(Value::Null, Value::from),
    );
    if state.faults.drop_events && hub.is_fifth_transcript() {
        hub.skip_seq().await;
    } else {
        hub.publish("transcript", transcript)
            .await
            .map_err(AppError::from)?;
    }

    let mut insight = Map::new();
    insight.insert("provider".into(), provider_name.into());
    insight.insert("insight_type".into(), output.insight_type.into());
    insight.insert("content".into(), output.insight.into());
    let confidence = if state.faults.bad_event_schema {
        Value::from(output.confidence.to_string())
    } else {
        json!(output.confidence)
    };
    insight.insert("confidence".into(), confidence);
    if state.faults.seq_disorder {
        hub.publish_reusing_seq("insight", insight)
            .await
            .map_err(AppError::from)?;
    } else {
        hub.publish("insight", insight)
            .await
            .map_err(AppError::from)?;
    }
    Ok(())
}
