//! [`Store`]: the one handle the rest of the server holds, cheap to clone, with the method
//! names handlers have always used. Each aggregate sits behind its own trait object so a
//! decorator can later wrap one of them without touching the others or the handlers.

use std::sync::Arc;

use uuid::Uuid;

use super::session_cache::SessionCache;
use super::traits::{
    Backend, CallStore, ConversationStore, CredentialStore, Database, EventStore, SessionStore,
    SwitchStore, UserStore,
};
use super::{
    CallRow, Context, ContextMessage, InsightRecord, RefreshTokenRow, SessionFilter, SessionRow,
    StoreError, StoredEvent, SwitchRecord, UserRow, postgres, sqlite,
};

/// Handle to the database; cheap to clone: one reference count, because the state of every
/// request holds several copies and each clone or drop of a shared count is contended
/// between cores (it dominated the profile of `GET /health`).
#[derive(Clone)]
pub struct Store {
    aggregates: Arc<Aggregates>,
    /// Read-through copies of sessions (embedded shape only; see `session_cache`).
    sessions: Option<Arc<SessionCache>>,
}

/// The trait objects of each aggregate.
struct Aggregates {
    database: Arc<dyn Database>,
    users: Arc<dyn UserStore>,
    credentials: Arc<dyn CredentialStore>,
    sessions: Arc<dyn SessionStore>,
    conversation: Arc<dyn ConversationStore>,
    switches: Arc<dyn SwitchStore>,
    events: Arc<dyn EventStore>,
    /// `None` for a facade over a decorator (see [`Store::with_calls_of`]).
    calls: Option<Arc<dyn CallStore>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.aggregates.database.engine())
            .finish_non_exhaustive()
    }
}

/// The engine a database URL names, from its scheme.
fn engine_of(database_url: &str) -> Result<&'static str, StoreError> {
    let scheme = database_url
        .split_once(':')
        .map_or("", |(scheme, _)| scheme)
        .to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => Ok("sqlite"),
        "postgres" | "postgresql" => Ok("postgres"),
        _ => Err(StoreError::UnsupportedUrl(scheme)),
    }
}

impl Store {
    /// Connects to the database the URL names (`sqlite:…` or `postgres://…`) and runs its
    /// migrations.
    pub async fn connect(database_url: &str) -> Result<Store, StoreError> {
        match engine_of(database_url)? {
            "postgres" => {
                let engine = postgres::PgStore::connect(database_url).await?;
                Ok(Store::from_backend(engine.clone()).with_calls(Arc::new(engine)))
            }
            _ => {
                let engine = sqlite::SqliteStore::connect(database_url).await?;
                Ok(Store::from_backend(engine.clone()).with_calls(Arc::new(engine)))
            }
        }
    }

    /// The same facade with `calls` as its call store.
    #[must_use]
    fn with_calls(self, calls: Arc<dyn CallStore>) -> Store {
        let a = &self.aggregates;
        Store {
            aggregates: Arc::new(Aggregates {
                database: a.database.clone(),
                users: a.users.clone(),
                credentials: a.credentials.clone(),
                sessions: a.sessions.clone(),
                conversation: a.conversation.clone(),
                switches: a.switches.clone(),
                events: a.events.clone(),
                calls: Some(calls),
            }),
            sessions: self.sessions,
        }
    }

    /// The same facade with the call store of `engine` (a facade built by [`Store::connect`]):
    /// what a decorated facade uses, since decorators wrap every aggregate but calls.
    #[must_use]
    pub fn with_calls_of(self, engine: &Store) -> Store {
        match &engine.aggregates.calls {
            Some(calls) => self.with_calls(calls.clone()),
            None => self,
        }
    }

    /// The call store, or [`StoreError::NoCallStore`].
    fn calls(&self) -> Result<&Arc<dyn CallStore>, StoreError> {
        self.aggregates
            .calls
            .as_ref()
            .ok_or(StoreError::NoCallStore)
    }

    /// A facade over one engine implementing every aggregate.
    pub fn from_backend<B: Backend>(backend: B) -> Store {
        let backend = Arc::new(backend);
        Store {
            aggregates: Arc::new(Aggregates {
                database: backend.clone(),
                users: backend.clone(),
                credentials: backend.clone(),
                sessions: backend.clone(),
                conversation: backend.clone(),
                switches: backend.clone(),
                events: backend,
                calls: None,
            }),
            sessions: None,
        }
    }

    /// Keeps read-through copies of sessions in this process. Only for a database no other
    /// instance writes to: a write elsewhere would not drop the copy here.
    #[must_use]
    pub fn with_session_cache(mut self) -> Store {
        self.sessions = Some(Arc::new(SessionCache::default()));
        self
    }

    /// Drops the copy of a session that was just written (or failed to be).
    fn written(&self, id: Uuid) {
        if let Some(cache) = &self.sessions {
            cache.invalidate(id);
        }
    }

    /// After writing the whole row `s`: keeps it as the copy when the write succeeded, drops
    /// the copy when it failed.
    fn written_row(&self, s: &SessionRow, ok: bool) {
        match &self.sessions {
            Some(cache) if ok => cache.written(s),
            Some(cache) => cache.invalidate(s.id),
            None => {}
        }
    }

    /// The engine's name (`sqlite` or `postgres`).
    pub fn engine(&self) -> &'static str {
        self.aggregates.database.engine()
    }

    /// Readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.aggregates.database.ping().await
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.aggregates.database.close().await;
    }

    // ----- users -----

    /// Inserts a user; [`StoreError::Duplicate`] when the email exists.
    pub async fn insert_user(&self, user: &UserRow) -> Result<(), StoreError> {
        self.aggregates.users.insert_user(user).await
    }

    /// The user with this (lower-cased) email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        self.aggregates.users.user_by_email(email).await
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRow>, StoreError> {
        self.aggregates.users.user_by_id(id).await
    }

    // ----- credentials and revocations -----

    /// Stores a refresh token by hash.
    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        user_id: Uuid,
        family: &str,
        created_at_ms: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.aggregates
            .credentials
            .insert_refresh_token(hash, user_id, family, created_at_ms, expires_at)
            .await
    }

    /// The refresh token with this hash.
    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshTokenRow>, StoreError> {
        self.aggregates.credentials.refresh_token(hash).await
    }

    /// Marks the token used; `false` when it already was.
    pub async fn consume_refresh_token(&self, hash: &str) -> Result<bool, StoreError> {
        self.aggregates
            .credentials
            .consume_refresh_token(hash)
            .await
    }

    /// Revokes every refresh token of a user.
    pub async fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.aggregates
            .credentials
            .revoke_user_refresh_tokens(user_id)
            .await
    }

    /// Records a revoked access-token id.
    pub async fn insert_revoked_jti(
        &self,
        jti: &str,
        user_id: Uuid,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.aggregates
            .credentials
            .insert_revoked_jti(jti, user_id, expires_at)
            .await
    }

    /// Whether the access-token id is revoked.
    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.aggregates.credentials.is_jti_revoked(jti).await
    }

    /// Raises the user's revocation cut-off (Unix ms) to at least `cutoff_ms`.
    pub async fn set_user_cutoff(&self, user_id: Uuid, cutoff_ms: i64) -> Result<(), StoreError> {
        self.aggregates
            .credentials
            .set_user_cutoff(user_id, cutoff_ms)
            .await
    }

    /// The user's revocation cut-off (Unix ms), if any.
    pub async fn user_cutoff(&self, user_id: Uuid) -> Result<Option<i64>, StoreError> {
        self.aggregates.credentials.user_cutoff(user_id).await
    }

    /// Every revoked access-token id not expired at `now` (Unix seconds), with its expiry.
    pub async fn live_revoked_jtis(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
        self.aggregates.credentials.live_revoked_jtis(now).await
    }

    /// Every user cut-off at or after `since_ms`.
    pub async fn user_cutoffs_since(&self, since_ms: i64) -> Result<Vec<(Uuid, i64)>, StoreError> {
        self.aggregates
            .credentials
            .user_cutoffs_since(since_ms)
            .await
    }

    // ----- sessions -----

    /// Inserts a session.
    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        let result = self.aggregates.sessions.insert_session(s).await;
        self.written_row(s, result.is_ok());
        result
    }

    /// The session with this id, whoever owns it.
    pub async fn session(&self, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
        let Some(cache) = &self.sessions else {
            return self.aggregates.sessions.session(id).await;
        };
        if let Some(row) = cache.get(id) {
            return Ok(Some(row));
        }
        let read_at = cache.reading();
        let row = self.aggregates.sessions.session(id).await?;
        if let Some(row) = &row {
            cache.fill(row, read_at);
        }
        Ok(row)
    }

    /// Any session of another user (for the `cross-user-leak` fault).
    pub async fn session_of_other_user(
        &self,
        user_id: Uuid,
    ) -> Result<Option<SessionRow>, StoreError> {
        self.aggregates
            .sessions
            .session_of_other_user(user_id)
            .await
    }

    /// One page of a user's sessions, newest first, and the total matching.
    pub async fn list_sessions(
        &self,
        user_id: Uuid,
        filter: &SessionFilter,
    ) -> Result<(Vec<SessionRow>, i64), StoreError> {
        self.aggregates
            .sessions
            .list_sessions(user_id, filter)
            .await
    }

    /// Writes provider, status, metadata, counters and timestamps back (never the messages).
    /// Writes of one session must be serialized by the caller (see `session_cache`).
    pub async fn update_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        let result = self.aggregates.sessions.update_session(s).await;
        self.written_row(s, result.is_ok());
        result
    }

    // ----- conversation -----

    /// Appends one utterance at `position` and moves the session's counters, atomically.
    pub async fn append_utterance(
        &self,
        session_id: Uuid,
        position: i64,
        message: &ContextMessage,
        insight: &InsightRecord,
        context: &Context,
    ) -> Result<(), StoreError> {
        let result = self
            .aggregates
            .conversation
            .append_utterance(session_id, position, message, insight, context)
            .await;
        self.written(session_id);
        result
    }

    /// The messages of a session, oldest first.
    pub async fn messages(&self, session_id: Uuid) -> Result<Vec<ContextMessage>, StoreError> {
        self.aggregates.conversation.messages(session_id).await
    }

    // ----- switches -----

    /// Updates the session and appends the switch, atomically. Writes of one session must be
    /// serialized by the caller (see `session_cache`).
    pub async fn record_switch(
        &self,
        s: &SessionRow,
        switch: &SwitchRecord,
        reset_context: bool,
    ) -> Result<(), StoreError> {
        let result = self
            .aggregates
            .switches
            .record_switch(s, switch, reset_context)
            .await;
        self.written_row(s, result.is_ok());
        result
    }

    /// Every switch of a session, oldest first.
    pub async fn switch_history(&self, session_id: Uuid) -> Result<Vec<SwitchRecord>, StoreError> {
        self.aggregates.switches.switch_history(session_id).await
    }

    // ----- stream events -----

    /// Appends one frame at `seq`; [`StoreError::Duplicate`] when that seq is taken.
    pub async fn append_event(
        &self,
        session_id: Uuid,
        seq: u64,
        frame: &str,
    ) -> Result<(), StoreError> {
        self.aggregates
            .events
            .append_event(session_id, seq, frame)
            .await
    }

    /// Up to `limit` events with `seq > after_seq`, in seq order.
    pub async fn events_after(
        &self,
        session_id: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.aggregates
            .events
            .events_after(session_id, after_seq, limit)
            .await
    }

    /// The highest stored seq of the session (0 when none).
    pub async fn last_event_seq(&self, session_id: Uuid) -> Result<u64, StoreError> {
        self.aggregates.events.last_event_seq(session_id).await
    }
}

impl Store {
    // ----- calls -----

    /// Inserts a call; [`StoreError::Duplicate`] when the call id exists.
    pub async fn insert_call(&self, call: &CallRow) -> Result<(), StoreError> {
        self.calls()?.insert_call(call).await
    }

    /// The call with this id, whoever owns it.
    pub async fn call(&self, call_id: &str) -> Result<Option<CallRow>, StoreError> {
        self.calls()?.call(call_id).await
    }

    /// Moves a call from `from` to the row's status; `false` when a concurrent change won.
    pub async fn update_call_status(
        &self,
        call: &CallRow,
        from: crate::telephony::CallStatus,
    ) -> Result<bool, StoreError> {
        self.calls()?.update_call_status(call, from).await
    }

    /// A user's non-terminal calls, oldest first.
    pub async fn active_calls_of(
        &self,
        user_id: Uuid,
        limit: u32,
    ) -> Result<Vec<CallRow>, StoreError> {
        self.calls()?.active_calls_of(user_id, limit).await
    }

    /// Every non-terminal call (`call_id`, `session_id`).
    pub async fn all_active_calls(&self) -> Result<Vec<(String, Option<Uuid>)>, StoreError> {
        self.calls()?.all_active_calls().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_engine_and_unknown_schemes_name_only_the_scheme() {
        assert_eq!(engine_of("sqlite://x.db?mode=rwc").ok(), Some("sqlite"));
        assert_eq!(engine_of("sqlite::memory:").ok(), Some("sqlite"));
        assert_eq!(engine_of("postgres://127.0.0.1/db").ok(), Some("postgres"));
        assert_eq!(engine_of("PostgreSQL://h/db").ok(), Some("postgres"));
        let err = engine_of("mysql://root:hunter2@h/db")
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
