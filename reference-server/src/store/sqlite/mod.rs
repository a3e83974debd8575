//! The SQLite engine (sqlx, runtime-bound queries, embedded migrations from
//! `migrations/sqlite`): the embedded default, one file, no service to run.
//!
//! The conversation is append-only (`session_messages`, `session_insights`): recording an
//! utterance is one short transaction whose cost does not depend on how long the conversation
//! already is, and reading a session never reads its messages.
//!
//! Writes go through one connection, reads through a pool of several. SQLite admits one
//! writer at a time; with several pooled connections writing, the losers of each race got
//! `SQLITE_BUSY` and SQLite's busy handler slept 1, 2, 5, 10… ms before retrying (strace under
//! 1,000 switches/s: thousands of sleeps averaging 5 ms, which made the switch p99 20–25 ms).
//! Queued on one connection instead, writers wait only for the writes ahead of them, which
//! take tens of microseconds each. In WAL mode readers never wait for the writer.

mod accounts;
mod calls;
mod events;
mod sessions;

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use uuid::Uuid;

use super::StoreError;
use super::traits::{Database, StoreFuture};

/// The SQLite implementation of every storage trait.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers (several connections).
    pool: SqlitePool,
    /// The one writer connection; every statement that writes goes here.
    writer: SqlitePool,
}

/// Ids are stored as their hyphenated text.
fn uuid_col(row: &SqliteRow, col: &str) -> Result<Uuid, StoreError> {
    let raw: String = row.try_get(col)?;
    Uuid::parse_str(&raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

/// JSON documents are stored as text.
fn json_col(row: &SqliteRow, col: &str) -> Result<serde_json::Value, StoreError> {
    let raw: String = row.try_get(col)?;
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteStore {
    /// Connects (creating the file when the URL says `mode=rwc`) and runs the migrations.
    pub async fn connect(database_url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL syncs at checkpoints instead of every commit: a commit survives a
            // crash of the process; only a power loss can drop the last few. FULL would cost an
            // fsync per utterance on the stream's hot path.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // The writer first: it creates the file (`mode=rwc`) and the schema.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        // An in-memory database lives in its connection: readers must share it.
        if database_url.contains(":memory:") || database_url.contains("mode=memory") {
            return Ok(SqliteStore {
                pool: writer.clone(),
                writer,
            });
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, writer })
    }
}

impl Database for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.pool.close().await;
            self.writer.close().await;
        })
    }
}
