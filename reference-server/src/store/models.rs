//! Rows as the rest of the server sees them, independent of the database engine.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{ProviderName, Role, SessionStatus};

/// A user account.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Id.
    pub id: Uuid,
    /// Lower-cased email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role of the account.
    pub role: Role,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// One message of the conversation (a row of `session_messages`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContextMessage {
    /// `customer` or `agent`.
    pub speaker: String,
    /// What was said.
    pub text: String,
    /// The provider that processed it.
    pub provider: ProviderName,
    /// Client-supplied id, if any.
    #[serde(default)]
    pub message_id: Option<String>,
    /// When it was processed.
    pub at: DateTime<Utc>,
}

/// An insight of the conversation (a row of `session_insights`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InsightRecord {
    /// `sentiment`, `intent` or `suggestion`.
    pub insight_type: String,
    /// The insight.
    pub content: String,
    /// In [0, 1].
    pub confidence: f64,
    /// The provider that produced it.
    pub provider: ProviderName,
}

/// What is kept of the conversation on the session itself: small counters, constant in size.
/// The messages and insights live in their own append-only tables and are never loaded to
/// process an utterance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// Messages so far (also the position of the next one).
    pub message_count: i64,
    /// The latest sentiment (`positive`, `negative`, `neutral`).
    pub sentiment: Option<String>,
}

/// A voice session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Current provider.
    pub provider: ProviderName,
    /// Lifecycle state.
    pub status: SessionStatus,
    /// Free-form metadata object.
    pub metadata: serde_json::Value,
    /// Config object from the create request.
    pub config: serde_json::Value,
    /// Conversation counters (the messages themselves are stored apart).
    pub context: Context,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// One provider switch.
#[derive(Debug, Clone)]
pub struct SwitchRecord {
    /// Session.
    pub session_id: Uuid,
    /// From.
    pub from_provider: ProviderName,
    /// To.
    pub to_provider: ProviderName,
    /// Messages carried over.
    pub context_preserved: i64,
    /// Whether it succeeded.
    pub success: bool,
    /// Failure message.
    pub error_message: Option<String>,
    /// Why it happened.
    pub reason: Option<String>,
    /// When.
    pub switched_at: DateTime<Utc>,
}

/// A stored refresh token (by hash).
#[derive(Debug, Clone)]
pub struct RefreshTokenRow {
    /// Owner.
    pub user_id: Uuid,
    /// Rotation family.
    pub family: String,
    /// Already exchanged.
    pub used: bool,
    /// Revoked by logout-all or reuse detection.
    pub revoked: bool,
    /// Issue time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

/// Filter and page of a session listing.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only this status.
    pub status: Option<SessionStatus>,
    /// Only this provider.
    pub provider: Option<ProviderName>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// One durable stream event (a row of `session_events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The wire `seq`.
    pub seq: u64,
    /// The serialized JSON frame, exactly as it was sent.
    pub frame: String,
}

/// A call (seed 000 §6.1): one row of `calls`, keyed by the carrier's call id.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    /// The carrier's call id.
    pub call_id: String,
    /// The owner.
    pub user_id: Uuid,
    /// The voice session the call feeds, if any.
    pub session_id: Option<Uuid>,
    /// The carrier.
    pub provider: crate::telephony::Carrier,
    /// Inbound or outbound.
    pub direction: crate::telephony::Direction,
    /// Where the call is in its lifecycle.
    pub status: crate::telephony::CallStatus,
    /// Calling party (E.164).
    pub from_number: Option<String>,
    /// Called party (E.164).
    pub to_number: Option<String>,
    /// Free-form metadata (an object).
    pub metadata: serde_json::Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Set when the status became terminal.
    pub ended_at: Option<DateTime<Utc>>,
}
