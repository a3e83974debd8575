//! Persistence behind one module boundary: handlers talk to [`Store`] and never see SQL.
//!
//! One trait per aggregate ([`traits`]) with two engines: SQLite (embedded, a file, the
//! default) and PostgreSQL (several instances can share it). [`Store::connect`] picks the
//! engine from the URL scheme and runs that dialect's embedded migrations
//! (`migrations/sqlite`, `migrations/postgres`). Storage errors become HTTP errors in one
//! place, `From<StoreError> for AppError` in [`crate::error`].

mod facade;
mod models;
mod postgres;
mod session_cache;
mod sqlite;
pub mod traits;

pub use facade::Store;
pub use models::{
    CallRow, Context, ContextMessage, InsightRecord, RefreshTokenRow, SessionFilter, SessionRow,
    StoredEvent, SwitchRecord, UserRow,
};

use chrono::{DateTime, Utc};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A unique constraint was violated (e.g. duplicate email, duplicate event seq).
    #[error("duplicate")]
    Duplicate,
    /// The facade was built without a call store (see `Store::with_calls_of`).
    #[error("this store has no call store")]
    NoCallStore,
    /// The database URL names no supported engine (only the scheme is kept: URLs carry
    /// passwords).
    #[error("unsupported database URL scheme {0:?} (expected sqlite: or postgres:)")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Whether the database could not be reached at all (pool exhausted or closed, I/O),
    /// as opposed to a failing statement.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }
}

/// Turns a unique violation into [`StoreError::Duplicate`], on every engine.
fn map_unique(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
        _ => StoreError::Database(err),
    }
}

/// A seq as the databases store it (signed 64-bit).
fn seq_to_db(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("seq {seq} out of range")))
}

/// A stored seq back (never negative in a sound database).
fn seq_from_db(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("negative seq {seq}")))
}

/// `DateTime<Utc>` now, at millisecond precision (what the API shows).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
