//! A read-through copy of recently read sessions, for the embedded (single-instance) shape.
//!
//! Why: an authenticated `GET /api/v1/sessions/{id}` and every provider switch read one
//! session row. On SQLite each query hops to the connection's worker thread and back (two
//! thread wake-ups), which the profile of the session read under wrk showed as most of its
//! CPU. Every session write goes through [`super::Store`], so within one process the copy can
//! be kept exact: a write drops the row's copy once the database has it, and the next read
//! fills it again from the database (which stays the truth; the copy is never the only one).
//!
//! A read racing a write must not put the pre-write row back: each write bumps a generation
//! before it drops the copy, and a read only fills the copy if no write happened since it
//! started reading (checked under the map's lock). Under heavy writes some reads therefore go
//! to the database; none returns a row older than the last write it could have seen.
//!
//! A write whose caller knows the whole row afterwards (create, end, switch) puts that row in
//! place of the copy instead of dropping it, so the next read needs no query. That relies on
//! one rule the callers keep: writes of one session are serialized (the conversation module
//! holds the session hub's operation lock around each), so no other write of the same session
//! can land between the database write and the copy.
//!
//! With several instances (a shared cache) a write on another instance would not drop this
//! copy, so [`super::Store::with_session_cache`] is only called for the embedded shape.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

use super::SessionRow;

/// Most sessions kept (a few hundred bytes each); when full, the copy starts over.
pub const CAPACITY: usize = 16 * 1024;

/// Copies of session rows as the database last returned them.
#[derive(Debug, Default)]
pub struct SessionCache {
    rows: RwLock<HashMap<Uuid, SessionRow>>,
    generation: AtomicU64,
}

impl SessionCache {
    /// The copy of the session, if there is one.
    pub fn get(&self, id: Uuid) -> Option<SessionRow> {
        self.rows.read().ok()?.get(&id).cloned()
    }

    /// To be called before reading the database; pass the result to [`SessionCache::fill`].
    pub fn reading(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `row` unless a write happened since [`SessionCache::reading`] returned `read_at`.
    pub fn fill(&self, row: &SessionRow, read_at: u64) {
        let Ok(mut rows) = self.rows.write() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != read_at {
            return;
        }
        if rows.len() >= CAPACITY {
            rows.clear();
        }
        rows.insert(row.id, row.clone());
    }

    /// Puts `row`, just written to the database, in place of any copy (see the module header
    /// for why no other write of the session can race this one).
    pub fn written(&self, row: &SessionRow) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let Ok(mut rows) = self.rows.write() else {
            return;
        };
        if rows.len() >= CAPACITY {
            rows.clear();
        }
        rows.insert(row.id, row.clone());
    }

    /// Drops the copy of `id`; to be called after every write of that session, failed or not.
    pub fn invalidate(&self, id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match self.rows.write() {
            Ok(mut rows) => {
                rows.remove(&id);
            }
            // A thread panicked holding the lock: drop everything rather than trust it.
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    /// Sessions kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.rows.read().map_or(0, |r| r.len())
    }

    /// Nothing kept.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ProviderName, SessionStatus};
    use crate::store::Context;

    fn row(provider: ProviderName) -> SessionRow {
        SessionRow {
            id: Uuid::from_u128(7),
            user_id: Uuid::from_u128(1),
            provider,
            status: SessionStatus::Active,
            metadata: serde_json::json!({}),
            config: serde_json::json!({}),
            context: Context::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            ended_at: None,
        }
    }

    #[test]
    fn a_read_fills_the_copy_and_a_write_drops_it() {
        let cache = SessionCache::default();
        let read_at = cache.reading();
        cache.fill(&row(ProviderName::Gemini), read_at);
        assert_eq!(
            cache.get(Uuid::from_u128(7)).map(|r| r.provider),
            Some(ProviderName::Gemini)
        );
        cache.invalidate(Uuid::from_u128(7));
        assert!(cache.get(Uuid::from_u128(7)).is_none());
    }

    #[test]
    fn a_read_that_raced_a_write_does_not_put_the_old_row_back() {
        let cache = SessionCache::default();
        let read_at = cache.reading();
        // The write lands between the read's query and its fill.
        cache.invalidate(Uuid::from_u128(7));
        cache.fill(&row(ProviderName::OpenAi), read_at);
        assert!(cache.get(Uuid::from_u128(7)).is_none());
        let read_at = cache.reading();
        cache.fill(&row(ProviderName::Deepgram), read_at);
        assert_eq!(
            cache.get(Uuid::from_u128(7)).map(|r| r.provider),
            Some(ProviderName::Deepgram)
        );
    }

    #[test]
    fn a_written_row_replaces_the_copy_and_stops_older_reads_from_filling() {
        let cache = SessionCache::default();
        let before_write = cache.reading();
        cache.fill(&row(ProviderName::Gemini), before_write);
        cache.written(&row(ProviderName::OpenAi));
        // A read that started before the write must not put its older row back.
        cache.fill(&row(ProviderName::Gemini), before_write);
        assert_eq!(
            cache.get(Uuid::from_u128(7)).map(|r| r.provider),
            Some(ProviderName::OpenAi)
        );
    }

    #[test]
    fn the_copy_never_grows_past_its_capacity() {
        let cache = SessionCache::default();
        for i in 0..(CAPACITY as u128 + 10) {
            let mut r = row(ProviderName::Gemini);
            r.id = Uuid::from_u128(i);
            cache.fill(&r, cache.reading());
        }
        assert!(cache.len() <= CAPACITY);
        assert!(!cache.is_empty());
    }
}
