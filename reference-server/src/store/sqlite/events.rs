//! SQLite: the durable stream-event log (`session_events`), one INSERT per event.

use sqlx::Row;
use uuid::Uuid;

use super::SqliteStore;
use crate::store::traits::{EventStore, StoreFuture};
use crate::store::{StoredEvent, map_unique, now, seq_from_db, seq_to_db};

impl EventStore for SqliteStore {
    fn append_event<'a>(
        &'a self,
        session_id: Uuid,
        seq: u64,
        frame: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO session_events (session_id, seq, frame, at) VALUES (?, ?, ?, ?)",
            )
            .bind(session_id.to_string())
            .bind(seq_to_db(seq)?)
            .bind(frame)
            .bind(now())
            .execute(&self.writer)
            .await
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn events_after(
        &self,
        session_id: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredEvent>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT seq, frame FROM session_events WHERE session_id = ? AND seq > ? \
                 ORDER BY seq ASC LIMIT ?",
            )
            .bind(session_id.to_string())
            .bind(seq_to_db(after_seq)?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(StoredEvent {
                        seq: seq_from_db(row.try_get("seq")?)?,
                        frame: row.try_get("frame")?,
                    })
                })
                .collect()
        })
    }

    fn last_event_seq(&self, session_id: Uuid) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let last: Option<i64> =
                sqlx::query("SELECT MAX(seq) AS last FROM session_events WHERE session_id = ?")
                    .bind(session_id.to_string())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("last")?;
            last.map_or(Ok(0), seq_from_db)
        })
    }
}
