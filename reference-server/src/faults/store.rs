//! The storage faults, as one decorator around the store:
//!
//! * `refresh-reuse-accepted`: every refresh token reads as unused and every exchange succeeds,
//!   so the refresh handler (unchanged) accepts a consumed token again, issues a new pair and
//!   never sees a reuse to punish;
//! * `volatile-replay`: the durable event log reads as empty, so `resume` is served from the
//!   hub's in-memory buffer alone, as in a server that keeps replay in process memory: it
//!   works until a restart (or another instance) and then replays nothing, silently.
//!
//! The decorator wraps a whole [`Store`] (the facade is the only handle the engines give out)
//! and passes every other aggregate through untouched.

use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::store::traits::{
    ConversationStore, CredentialStore, Database, EventStore, SessionStore, StoreFuture,
    SwitchStore, UserStore,
};
use crate::store::{
    Context, ContextMessage, InsightRecord, RefreshTokenRow, SessionFilter, SessionRow, Store,
    StoredEvent, SwitchRecord, UserRow,
};

/// A store with the storage faults that are on.
#[derive(Debug, Clone)]
pub struct FaultyStore {
    inner: Store,
    reuse_refresh: bool,
    volatile_replay: bool,
}

impl FaultyStore {
    /// Wraps `inner`; `reuse_refresh` is `refresh-reuse-accepted`, `volatile_replay` is
    /// `volatile-replay`.
    pub fn new(inner: Store, reuse_refresh: bool, volatile_replay: bool) -> Self {
        FaultyStore {
            inner,
            reuse_refresh,
            volatile_replay,
        }
    }
}

impl CredentialStore for FaultyStore {
    fn refresh_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<RefreshTokenRow>> {
        Box::pin(async move {
            let row = self.inner.refresh_token(hash).await?;
            if !self.reuse_refresh {
                return Ok(row);
            }
            Ok(row.map(|row| RefreshTokenRow { used: false, ..row }))
        })
    }

    fn consume_refresh_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let fresh = self.inner.consume_refresh_token(hash).await?;
            Ok(fresh || self.reuse_refresh)
        })
    }

    // ----- passed through -----

    fn insert_refresh_token<'a>(
        &'a self,
        hash: &'a str,
        user_id: Uuid,
        family: &'a str,
        created_at_ms: i64,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(
            self.inner
                .insert_refresh_token(hash, user_id, family, created_at_ms, expires_at),
        )
    }

    fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> StoreFuture<'_, ()> {
        Box::pin(self.inner.revoke_user_refresh_tokens(user_id))
    }

    fn insert_revoked_jti<'a>(
        &'a self,
        jti: &'a str,
        user_id: Uuid,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.inner.insert_revoked_jti(jti, user_id, expires_at))
    }

    fn is_jti_revoked<'a>(&'a self, jti: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.inner.is_jti_revoked(jti))
    }

    fn set_user_cutoff(&self, user_id: Uuid, cutoff_ms: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.inner.set_user_cutoff(user_id, cutoff_ms))
    }

    fn user_cutoff(&self, user_id: Uuid) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.inner.user_cutoff(user_id))
    }

    fn live_revoked_jtis(&self, now: i64) -> StoreFuture<'_, Vec<(String, i64)>> {
        Box::pin(self.inner.live_revoked_jtis(now))
    }

    fn user_cutoffs_since(&self, since_ms: i64) -> StoreFuture<'_, Vec<(Uuid, i64)>> {
        Box::pin(self.inner.user_cutoffs_since(since_ms))
    }
}

impl Database for FaultyStore {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.inner.ping())
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.inner.close())
    }
}

impl UserStore for FaultyStore {
    fn insert_user<'a>(&'a self, user: &'a UserRow) -> StoreFuture<'a, ()> {
        Box::pin(self.inner.insert_user(user))
    }

    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<UserRow>> {
        Box::pin(self.inner.user_by_email(email))
    }

    fn user_by_id(&self, id: Uuid) -> StoreFuture<'_, Option<UserRow>> {
        Box::pin(self.inner.user_by_id(id))
    }
}

impl SessionStore for FaultyStore {
    fn insert_session<'a>(&'a self, session: &'a SessionRow) -> StoreFuture<'a, ()> {
        Box::pin(self.inner.insert_session(session))
    }

    fn session(&self, id: Uuid) -> StoreFuture<'_, Option<SessionRow>> {
        Box::pin(self.inner.session(id))
    }

    fn session_of_other_user(&self, user_id: Uuid) -> StoreFuture<'_, Option<SessionRow>> {
        Box::pin(self.inner.session_of_other_user(user_id))
    }

    fn list_sessions<'a>(
        &'a self,
        user_id: Uuid,
        filter: &'a SessionFilter,
    ) -> StoreFuture<'a, (Vec<SessionRow>, i64)> {
        Box::pin(self.inner.list_sessions(user_id, filter))
    }

    fn update_session<'a>(&'a self, session: &'a SessionRow) -> StoreFuture<'a, ()> {
        Box::pin(self.inner.update_session(session))
    }
}

impl ConversationStore for FaultyStore {
    fn append_utterance<'a>(
        &'a self,
        session_id: Uuid,
        position: i64,
        message: &'a ContextMessage,
        insight: &'a InsightRecord,
        context: &'a Context,
    ) -> StoreFuture<'a, ()> {
        Box::pin(
            self.inner
                .append_utterance(session_id, position, message, insight, context),
        )
    }

    fn messages(&self, session_id: Uuid) -> StoreFuture<'_, Vec<ContextMessage>> {
        Box::pin(self.inner.messages(session_id))
    }
}

impl SwitchStore for FaultyStore {
    fn record_switch<'a>(
        &'a self,
        session: &'a SessionRow,
        switch: &'a SwitchRecord,
        reset_context: bool,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.inner.record_switch(session, switch, reset_context))
    }

    fn switch_history(&self, session_id: Uuid) -> StoreFuture<'_, Vec<SwitchRecord>> {
        Box::pin(self.inner.switch_history(session_id))
    }
}

impl EventStore for FaultyStore {
    fn append_event<'a>(
        &'a self,
        session_id: Uuid,
        seq: u64,
        frame: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.inner.append_event(session_id, seq, frame))
    }

    fn events_after(
        &self,
        session_id: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredEvent>> {
        if self.volatile_replay {
            return Box::pin(async { Ok(Vec::new()) });
        }
        Box::pin(self.inner.events_after(session_id, after_seq, limit))
    }

    fn last_event_seq(&self, session_id: Uuid) -> StoreFuture<'_, u64> {
        Box::pin(self.inner.last_event_seq(session_id))
    }
}
