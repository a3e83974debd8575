//! Session domain logic shared by REST and WebSocket: the contract's views of a session and a
//! switch, ownership, processing an utterance, switching providers and ending a session. Every
//! state change goes through the session hub's `ops` lock so events and database writes happen
//! in one order; events leave through [`crate::events::Events`], the seam a decorator can wrap.
//!
//! An utterance must cost the same at message 5 and at message 5,000: it appends one message
//! and one insight row and bumps the session's counters, and reads nothing that grows with the
//! conversation. The few fields it needs (provider, status, counters) are kept under the `ops`
//! lock as a write-through copy of the session row, loaded from the database on first use.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{ProviderName, SessionStatus};
use crate::error::AppError;
use crate::events::{CallStatus, Insight, ProviderSwitched, SessionEvent, Transcript};
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
    pub provider: ProviderName,
    /// Lifecycle state.
    pub status: SessionStatus,
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

/// `Session` of the contract (`ended_at` is null while the session is active).
#[derive(Debug, Clone, Serialize)]
pub struct SessionView<'a> {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Current provider.
    pub provider: ProviderName,
    /// Lifecycle state.
    pub status: SessionStatus,
    /// Messages so far.
    pub message_count: i64,
    /// The metadata object of the create request.
    pub metadata: &'a serde_json::Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}

impl<'a> From<&'a SessionRow> for SessionView<'a> {
    fn from(s: &'a SessionRow) -> Self {
        SessionView {
            id: s.id,
            user_id: s.user_id,
            provider: s.provider.clone(),
            status: s.status.clone(),
            message_count: s.context.message_count,
            metadata: &s.metadata,
            created_at: s.created_at,
            updated_at: s.updated_at,
            ended_at: s.ended_at,
        }
    }
}

/// `SwitchResult` of the contract.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchResult {
    /// Whether the switch happened.
    pub success: bool,
    /// Session.
    pub session_id: Uuid,
    /// From.
    pub from_provider: ProviderName,
    /// To.
    pub to_provider: ProviderName,
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
    /// Target provider.
    pub to: ProviderName,
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
    if session.status != SessionStatus::Active {
        return Err(AppError::Conflict("the session has ended".into()));
    }
    if session.provider == request.to {
        return Err(AppError::Conflict(format!(
            "the session already uses {}",
            request.to
        )));
    }
    hub.set_switching(true);
    let preserve = request.preserve_context;
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
    let event = SessionEvent::ProviderSwitched(ProviderSwitched {
        from_provider: from,
        to_provider: request.to,
        context_preserved,
        reason: request.reason,
    });
    state.events.publish(&hub, event).await?;
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
    if session.status == SessionStatus::Ended {
        return Ok(session);
    }
    let at = now();
    session.status = SessionStatus::Ended;
    session.ended_at = Some(at);
    session.updated_at = at;
    let stored = state.store.update_session(&session).await;
    *live = stored.is_ok().then(|| LiveSession::from(&session));
    stored?;
    let event = SessionEvent::CallStatus(CallStatus {
        status: "completed",
        call_id: session_id.to_string(),
    });
    // The session has ended whatever happens to the event: sockets close either way.
    let published = state.events.publish(&hub, event).await;
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
    if live.status != SessionStatus::Active {
        return Err(TextError::Inactive);
    }
    let provider = state
        .providers
        .get(&live.provider)
        .ok_or_else(|| AppError::Internal(format!("no provider {}", live.provider)))?;
    let output = provider
        .process_text(session_id, &live.context, text)
        .await?;
    let message = ContextMessage {
        speaker: output.speaker.clone(),
        text: output.transcript.clone(),
        provider: output.provider.clone(),
        message_id: message_id.clone(),
        at: now(),
    };
    let insight = InsightRecord {
        insight_type: output.insight_type.clone(),
        content: output.insight.clone(),
        confidence: output.confidence,
        provider: output.provider.clone(),
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

    let transcript = SessionEvent::Transcript(Transcript {
        provider: output.provider.clone(),
        speaker: output.speaker,
        text: output.transcript,
        is_final: true,
        message_id,
    });
    state
        .events
        .publish(&hub, transcript)
        .await
        .map_err(AppError::from)?;
    let insight = SessionEvent::Insight(Insight {
        provider: output.provider,
        insight_type: output.insight_type,
        content: output.insight,
        confidence: output.confidence,
    });
    state
        .events
        .publish(&hub, insight)
        .await
        .map_err(AppError::from)?;
    Ok(())
}
