//! The call state manager (seed 000 §6.3–6.4): register, transition and recover calls.
//!
//! Every write goes to the database first and to the cache second; a cache failure is logged
//! and never fails the request (the table is the truth, recovery rebuilds the cache). A status
//! change is checked against the lifecycle, then written with a conditional UPDATE, so when
//! two changes race only one applies and the other is a 409 like any illegal change.

use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use super::{CallStatus, Carrier, Direction};
use crate::cache::{ActiveCall, Cache};
use crate::error::AppError;
use crate::events::{self, SessionEvent};
use crate::state::AppState;
use crate::store::{CallRow, Store, StoreError, now};

/// What recovery at start did (logged, and shown in `/ready`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Recovery {
    /// Non-terminal calls loaded back into the cache.
    pub calls: usize,
    /// How long it took.
    pub duration: Duration,
    /// Whether the cache took them (false: it was unreachable; lookups use the database).
    pub cached: bool,
}

/// Loads every non-terminal call from the database into the cache (seed 000 §6.3).
pub async fn recover(store: &Store, cache: &dyn Cache) -> Result<Recovery, StoreError> {
    let started = Instant::now();
    let calls: Vec<ActiveCall> = store
        .all_active_calls()
        .await?
        .into_iter()
        .map(|(call_id, session)| ActiveCall {
            call_id,
            session_id: session.map(|s| s.to_string()),
        })
        .collect();
    let cached = match cache.put_calls(&calls).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cache unavailable during call recovery");
            false
        }
    };
    let recovery = Recovery {
        calls: calls.len(),
        duration: started.elapsed(),
        cached,
    };
    tracing::info!(
        calls = recovery.calls,
        duration_ms = recovery.duration.as_secs_f64() * 1000.0,
        cached,
        "recovered active calls into the cache"
    );
    Ok(recovery)
}

/// A new call, as the API or a carrier describes it.
#[derive(Debug, Clone)]
pub struct NewCall {
    /// The carrier's id.
    pub call_id: String,
    /// The owner.
    pub user_id: Uuid,
    /// The session it feeds.
    pub session_id: Option<Uuid>,
    /// The carrier.
    pub provider: Carrier,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Calling party.
    pub from_number: Option<String>,
    /// Called party.
    pub to_number: Option<String>,
    /// An object.
    pub metadata: Value,
}

fn active(call: &CallRow) -> ActiveCall {
    ActiveCall {
        call_id: call.call_id.clone(),
        session_id: call.session_id.map(|s| s.to_string()),
    }
}

/// Registers a call in `initiated`: database, then cache.
pub async fn register(state: &AppState, new: NewCall) -> Result<CallRow, AppError> {
    let at = now();
    let call = CallRow {
        call_id: new.call_id,
        user_id: new.user_id,
        session_id: new.session_id,
        provider: new.provider,
        direction: new.direction,
        status: CallStatus::Initiated,
        from_number: new.from_number,
        to_number: new.to_number,
        metadata: new.metadata,
        created_at: at,
        updated_at: at,
        ended_at: None,
    };
    state.store.insert_call(&call).await?;
    if let Err(e) = state.cache.put_calls(&[active(&call)]).await {
        tracing::warn!(error = %e, "call registered in the database only (cache unavailable)");
    }
    publish(state, &call).await;
    Ok(call)
}

/// The call `call_id` if `user_id` owns it (404 otherwise: another user's call is not shown).
pub async fn owned(state: &AppState, user_id: Uuid, call_id: &str) -> Result<CallRow, AppError> {
    match state.store.call(call_id).await? {
        Some(call) if call.user_id == user_id => Ok(call),
        _ => Err(AppError::NotFound(format!("no call {call_id}"))),
    }
}

/// Moves `call` to `to` (merging `metadata` into its metadata): 409 when the lifecycle forbids
/// it or a concurrent change won. Terminal states set `ended_at` and leave the cache.
pub async fn transition(
    state: &AppState,
    mut call: CallRow,
    to: CallStatus,
    metadata: Option<serde_json::Map<String, Value>>,
) -> Result<CallRow, AppError> {
    let from = call.status;
    if !from.can_become(to) {
        return Err(AppError::Conflict(format!(
            "a call in `{from}` cannot become `{to}`"
        )));
    }
    let at = now();
    call.status = to;
    call.updated_at = at;
    if to.is_terminal() {
        call.ended_at = Some(at);
    }
    if let Some(extra) = metadata {
        match &mut call.metadata {
            Value::Object(m) => m.extend(extra),
            other => *other = Value::Object(extra),
        }
    }
    if !state.store.update_call_status(&call, from).await? {
        return Err(AppError::Conflict(format!(
            "the call is no longer `{from}` (changed concurrently)"
        )));
    }
    let cached = if to.is_terminal() {
        state.cache.remove_call(&active(&call)).await
    } else {
        state.cache.put_calls(&[active(&call)]).await
    };
    if let Err(e) = cached {
        tracing::warn!(error = %e, "call status written to the database only (cache unavailable)");
    }
    publish(state, &call).await;
    Ok(call)
}

/// `call_status` on the stream of the call's session (none without a session). A failure to
/// publish is logged: the status is stored, and the stream's durable log is best effort here.
async fn publish(state: &AppState, call: &CallRow) {
    let Some(session_id) = call.session_id else {
        return;
    };
    let hub = state.hubs.get(session_id);
    let event = SessionEvent::CallStatus(events::CallStatus {
        status: call.status.as_str(),
        call_id: call.call_id.clone(),
    });
    if let Err(e) = state.events.publish(&hub, event).await {
        tracing::warn!(error = %e, %session_id, "call_status not published");
    }
}

/// The session of an active call: the cache first, the database when the cache misses or is
/// down (a lost cache never loses a call).
pub async fn session_of(state: &AppState, call_id: &str) -> Result<Option<Uuid>, AppError> {
    if let Ok(Some(session)) = state.cache.call_session(call_id).await {
        return Ok(session.and_then(|s| Uuid::parse_str(&s).ok()));
    }
    Ok(state.store.call(call_id).await?.and_then(|c| c.session_id))
}
