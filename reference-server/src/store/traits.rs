//! The storage contract, one trait per aggregate, so that each database engine implements the
//! same operations and a decorator (fault injection, metrics) can wrap one aggregate alone.
//!
//! The traits are object-safe (`BoxFuture`, as in [`crate::cache`]) so the [`super::Store`]
//! facade holds `Arc<dyn …>` and handlers never name an engine. Every method is one short
//! statement or one short transaction; none reads data that grows with a conversation.

use futures_util::future::BoxFuture;
use uuid::Uuid;

use super::{
    CallRow, Context, ContextMessage, InsightRecord, RefreshTokenRow, SessionFilter, SessionRow,
    StoreError, StoredEvent, SwitchRecord, UserRow,
};

/// What every storage method returns.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// The database as a whole: readiness and shutdown.
pub trait Database: Send + Sync + 'static {
    /// The engine's name (`sqlite`, `postgres`), for logs and `/ready`.
    fn engine(&self) -> &'static str;
    /// Readiness probe: one round trip.
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// Closes the pool (waits for connections in use to be returned).
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// User accounts.
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a user; [`StoreError::Duplicate`] when the email exists.
    fn insert_user<'a>(&'a self, user: &'a UserRow) -> StoreFuture<'a, ()>;
    /// The user with this (lower-cased) email.
    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<UserRow>>;
    /// The user with this id.
    fn user_by_id(&self, id: Uuid) -> StoreFuture<'_, Option<UserRow>>;
}

/// Credentials and revocations: refresh tokens, revoked access-token ids, per-user cut-offs.
pub trait CredentialStore: Send + Sync + 'static {
    /// Stores a refresh token by hash.
    fn insert_refresh_token<'a>(
        &'a self,
        hash: &'a str,
        user_id: Uuid,
        family: &'a str,
        created_at_ms: i64,
        expires_at: i64,
    ) -> StoreFuture<'a, ()>;
    /// The refresh token with this hash.
    fn refresh_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<RefreshTokenRow>>;
    /// Marks the token used; `false` when it already was (atomic: two racing exchanges
    /// cannot both succeed).
    fn consume_refresh_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, bool>;
    /// Revokes every refresh token of a user.
    fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> StoreFuture<'_, ()>;
    /// Records a revoked access-token id (idempotent).
    fn insert_revoked_jti<'a>(
        &'a self,
        jti: &'a str,
        user_id: Uuid,
        expires_at: i64,
    ) -> StoreFuture<'a, ()>;
    /// Whether the access-token id is revoked.
    fn is_jti_revoked<'a>(&'a self, jti: &'a str) -> StoreFuture<'a, bool>;
    /// Raises the user's revocation cut-off (Unix ms) to at least `cutoff_ms`.
    fn set_user_cutoff(&self, user_id: Uuid, cutoff_ms: i64) -> StoreFuture<'_, ()>;
    /// The user's revocation cut-off (Unix ms), if any.
    fn user_cutoff(&self, user_id: Uuid) -> StoreFuture<'_, Option<i64>>;
    /// Every revoked access-token id not expired at `now` (Unix seconds), with its expiry:
    /// what a cache must hold to answer "not revoked" on its own.
    fn live_revoked_jtis(&self, now: i64) -> StoreFuture<'_, Vec<(String, i64)>>;
    /// Every user cut-off at or after `since_ms` (older ones only cover expired tokens).
    fn user_cutoffs_since(&self, since_ms: i64) -> StoreFuture<'_, Vec<(Uuid, i64)>>;
}

/// Voice sessions (the row, never the conversation).
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts a session.
    fn insert_session<'a>(&'a self, session: &'a SessionRow) -> StoreFuture<'a, ()>;
    /// The session with this id, whoever owns it.
    fn session(&self, id: Uuid) -> StoreFuture<'_, Option<SessionRow>>;
    /// The most recent session of any other user (for the `cross-user-leak` fault).
    fn session_of_other_user(&self, user_id: Uuid) -> StoreFuture<'_, Option<SessionRow>>;
    /// One page of a user's sessions, newest first, and the total matching.
    fn list_sessions<'a>(
        &'a self,
        user_id: Uuid,
        filter: &'a SessionFilter,
    ) -> StoreFuture<'a, (Vec<SessionRow>, i64)>;
    /// Writes provider, status, metadata, counters and timestamps back.
    fn update_session<'a>(&'a self, session: &'a SessionRow) -> StoreFuture<'a, ()>;
}

/// The append-only conversation of a session.
pub trait ConversationStore: Send + Sync + 'static {
    /// Appends one utterance at `position` (message and insight) and moves the session's
    /// counters to `context`, atomically.
    fn append_utterance<'a>(
        &'a self,
        session_id: Uuid,
        position: i64,
        message: &'a ContextMessage,
        insight: &'a InsightRecord,
        context: &'a Context,
    ) -> StoreFuture<'a, ()>;
    /// The messages of a session, oldest first.
    fn messages(&self, session_id: Uuid) -> StoreFuture<'_, Vec<ContextMessage>>;
}

/// Provider switches.
pub trait SwitchStore: Send + Sync + 'static {
    /// Updates the session and appends the switch, atomically; with `reset_context` the
    /// session's messages and insights are deleted too.
    fn record_switch<'a>(
        &'a self,
        session: &'a SessionRow,
        switch: &'a SwitchRecord,
        reset_context: bool,
    ) -> StoreFuture<'a, ()>;
    /// Every switch of a session, oldest first.
    fn switch_history(&self, session_id: Uuid) -> StoreFuture<'_, Vec<SwitchRecord>>;
}

/// The durable log of stream events, read by `resume`.
pub trait EventStore: Send + Sync + 'static {
    /// Appends one frame at `seq` (one INSERT); [`StoreError::Duplicate`] when the session
    /// already has an event at that seq.
    fn append_event<'a>(
        &'a self,
        session_id: Uuid,
        seq: u64,
        frame: &'a str,
    ) -> StoreFuture<'a, ()>;
    /// Up to `limit` events with `seq > after_seq`, in seq order.
    fn events_after(
        &self,
        session_id: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredEvent>>;
    /// The highest stored seq of the session (0 when it has none).
    fn last_event_seq(&self, session_id: Uuid) -> StoreFuture<'_, u64>;
}

/// Call state (seed 000 §6.1), the durable tier of the call store.
pub trait CallStore: Send + Sync + 'static {
    /// Inserts a call; [`StoreError::Duplicate`] when the call id exists.
    fn insert_call<'a>(&'a self, call: &'a CallRow) -> StoreFuture<'a, ()>;
    /// The call with this id, whoever owns it.
    fn call<'a>(&'a self, call_id: &'a str) -> StoreFuture<'a, Option<CallRow>>;
    /// Moves a call from `from` to the row's status (with its metadata, `updated_at` and
    /// `ended_at`); `false` when the stored status is no longer `from` (a concurrent change
    /// won), so two racing transitions cannot both apply.
    fn update_call_status<'a>(
        &'a self,
        call: &'a CallRow,
        from: crate::telephony::CallStatus,
    ) -> StoreFuture<'a, bool>;
    /// A user's non-terminal calls, oldest first (at most `limit`).
    fn active_calls_of(&self, user_id: Uuid, limit: u32) -> StoreFuture<'_, Vec<CallRow>>;
    /// Every non-terminal call (`call_id`, `session_id`), for recovery at start.
    fn all_active_calls(&self) -> StoreFuture<'_, Vec<(String, Option<Uuid>)>>;
}

/// Everything an engine implements; the facade is built from one value of such a type.
/// (Calls are not part of it: a decorator built on an older facade has no call store to
/// forward to, so the facade takes the engine's call store on its own, see
/// [`super::Store::with_calls_of`].)
pub trait Backend:
    Database + UserStore + CredentialStore + SessionStore + ConversationStore + SwitchStore + EventStore
{
}

impl<T> Backend for T where
    T: Database
        + UserStore
        + CredentialStore
        + SessionStore
        + ConversationStore
        + SwitchStore
        + EventStore
{
}
