//! PostgreSQL: call state (`calls`), on the main, fully synchronous pool (a call's state is
//! what recovery rebuilds the cache from). A status change is one conditional UPDATE
//! (`WHERE status = from`), so racing transitions cannot both apply.

use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::PgStore;
use crate::store::traits::{CallStore, StoreFuture};
use crate::store::{CallRow, StoreError, map_unique};
use crate::telephony::CallStatus;

/// `SELECT` of the columns of a [`CallRow`] followed by `$rest` (a static string for sqlx).
macro_rules! select_calls {
    ($rest:literal) => {
        concat!(
            "SELECT call_id, user_id, session_id, provider, direction, status, from_number, \
             to_number, call_metadata, created_at, updated_at, ended_at FROM calls ",
            $rest
        )
    };
}

fn call_from_row(row: &PgRow) -> Result<CallRow, StoreError> {
    Ok(CallRow {
        call_id: row.try_get("call_id")?,
        user_id: row.try_get("user_id")?,
        session_id: row.try_get("session_id")?,
        provider: row.try_get("provider")?,
        direction: row.try_get("direction")?,
        status: row.try_get("status")?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        metadata: row.try_get("call_metadata")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

impl CallStore for PgStore {
    fn insert_call<'a>(&'a self, c: &'a CallRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO calls (call_id, user_id, session_id, provider, direction, status, \
                 from_number, to_number, call_metadata, created_at, updated_at, ended_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&c.call_id)
            .bind(c.user_id)
            .bind(c.session_id)
            .bind(c.provider)
            .bind(c.direction)
            .bind(c.status)
            .bind(&c.from_number)
            .bind(&c.to_number)
            .bind(&c.metadata)
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.ended_at)
            .execute(&self.pool)
            .await
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn call<'a>(&'a self, call_id: &'a str) -> StoreFuture<'a, Option<CallRow>> {
        Box::pin(async move {
            let row = sqlx::query(select_calls!("WHERE call_id = $1"))
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(call_from_row).transpose()
        })
    }

    fn update_call_status<'a>(&'a self, c: &'a CallRow, from: CallStatus) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE calls SET status = $1, call_metadata = $2, updated_at = $3, ended_at = $4 \
                 WHERE call_id = $5 AND status = $6",
            )
            .bind(c.status)
            .bind(&c.metadata)
            .bind(c.updated_at)
            .bind(c.ended_at)
            .bind(&c.call_id)
            .bind(from)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn active_calls_of(&self, user_id: Uuid, limit: u32) -> StoreFuture<'_, Vec<CallRow>> {
        Box::pin(async move {
            let rows = sqlx::query(select_calls!(
                "WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at LIMIT $2"
            ))
            .bind(user_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(call_from_row).collect()
        })
    }

    fn all_active_calls(&self) -> StoreFuture<'_, Vec<(String, Option<Uuid>)>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT call_id, session_id FROM calls WHERE ended_at IS NULL")
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("call_id")?, row.try_get("session_id")?)))
                .collect()
        })
    }
}
