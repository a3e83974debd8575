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
//!
//! Checkpoints run in the background, not inside a commit. By default SQLite checkpoints the
//! WAL into the database file (with an fsync of each) in whichever commit crosses 1,000 pages,
//! so that commit, and every write queued behind it on the one writer, waits for the disk: the
//! switch benchmark showed 100–150 ms stalls when the disk was busy. The writer therefore has
//! automatic checkpoints off, and a task runs a PASSIVE checkpoint on a reader connection every
//! [`CHECKPOINT_EVERY`]; a passive checkpoint never blocks the writer (nor waits for it).

mod accounts;
mod calls;
mod events;
mod sessions;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use tokio::sync::watch;
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
    /// Stops the background checkpoints when the last clone of the store is dropped.
    _checkpoints: Option<Arc<watch::Sender<()>>>,
}

/// How often the background task checkpoints the WAL.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Checkpoints `readers`' database every [`CHECKPOINT_EVERY`] until the returned sender and
/// its clones are all dropped or the pool is closed.
fn spawn_checkpoints(readers: SqlitePool) -> Arc<watch::Sender<()>> {
    let (stop, mut stopped) = watch::channel(());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                // Every sender dropped: the store is gone.
                _ = stopped.changed() => return,
            }
            if readers.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&readers)
                .await
                && !readers.is_closed()
            {
                tracing::warn!(error = %e, "background WAL checkpoint failed; retrying");
            }
        }
    });
    Arc::new(stop)
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
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        // An in-memory database lives in its connection: readers must share it.
        if database_url.contains(":memory:") || database_url.contains("mode=memory") {
            // One connection, no WAL file to checkpoint apart from it: SQLite's own.
            sqlx::query("PRAGMA wal_autocheckpoint = 1000")
                .execute(&writer)
                .await?;
            return Ok(SqliteStore {
                pool: writer.clone(),
                writer,
                _checkpoints: None,
            });
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let checkpoints = spawn_checkpoints(pool.clone());
        Ok(SqliteStore {
            pool,
            writer,
            _checkpoints: Some(checkpoints),
        })
    }
}

impl SqliteStore {
    /// Runs `query`, a whole `BEGIN IMMEDIATE; …; COMMIT` script, on the writer in one round
    /// trip to its thread (sqlx hands SQLite the statements one after the other, binding the
    /// arguments in order), instead of one round trip per statement. A failing statement stops
    /// the script inside its transaction: it is rolled back here, and a connection that cannot
    /// roll back is closed rather than returned to the pool with a transaction open.
    async fn atomically<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<(), sqlx::Error> {
        let mut conn = self.writer.acquire().await?;
        match query.execute(&mut *conn).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let rolled_back = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                if let Err(rollback) = rolled_back
                    && !rollback.to_string().contains("no transaction is active")
                {
                    let _ = conn.close().await;
                }
                Err(e)
            }
        }
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
