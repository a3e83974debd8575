//! SQLite: call state (`calls`). Writes on the writer connection; a status change is one
//! conditional UPDATE (`WHERE status = from`), so racing transitions cannot both apply.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, json_col, to_json, uuid_col};
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

fn call_from_row(row: &SqliteRow) -> Result<CallRow, StoreError> {
    let session: Option<String> = row.try_get("session_id")?;
    let session_id = session
        .map(|s| Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("session_id: {e}"))))
        .transpose()?;
    Ok(CallRow {
        call_id: row.try_get("call_id")?,
        user_id: uuid_col(row, "user_id")?,
        session_id,
        provider: row.try_get("provider")?,
        direction: row.try_get("direction")?,
        status: row.try_get("status")?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        metadata: json_col(row, "call_metadata")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

impl CallStore for SqliteStore {
    fn insert_call<'a>(&'a self, c: &'a CallRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO calls (call_id, user_id, session_id, provider, direction, status, \
                 from_number, to_number, call_metadata, created_at, updated_at, ended_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&c.call_id)
            .bind(c.user_id.to_string())
            .bind(c.session_id.map(|s| s.to_string()))
            .bind(c.provider)
            .bind(c.direction)
            .bind(c.status)
            .bind(&c.from_number)
            .bind(&c.to_number)
            .bind(to_json(&c.metadata)?)
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.ended_at)
            .execute(&self.writer)
            .await
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn call<'a>(&'a self, call_id: &'a str) -> StoreFuture<'a, Option<CallRow>> {
        Box::pin(async move {
            let row = sqlx::query(select_calls!("WHERE call_id = ?"))
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(call_from_row).transpose()
        })
    }

    fn update_call_status<'a>(&'a self, c: &'a CallRow, from: CallStatus) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE calls SET status = ?, call_metadata = ?, updated_at = ?, ended_at = ? \
                 WHERE call_id = ? AND status = ?",
            )
            .bind(c.status)
            .bind(to_json(&c.metadata)?)
            .bind(c.updated_at)
            .bind(c.ended_at)
            .bind(&c.call_id)
            .bind(from)
            .execute(&self.writer)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn active_calls_of(&self, user_id: Uuid, limit: u32) -> StoreFuture<'_, Vec<CallRow>> {
        Box::pin(async move {
            let rows = sqlx::query(select_calls!(
                "WHERE user_id = ? AND ended_at IS NULL ORDER BY created_at LIMIT ?"
            ))
            .bind(user_id.to_string())
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
                .map(|row| {
                    let session: Option<String> = row.try_get("session_id")?;
                    let session = session
                        .map(|s| {
                            Uuid::parse_str(&s)
                                .map_err(|e| StoreError::Corrupt(format!("session_id: {e}")))
                        })
                        .transpose()?;
                    Ok((row.try_get("call_id")?, session))
                })
                .collect()
        })
    }
}
