//! Persistence behind one module boundary.
//!
//! Only SQLite exists today; handlers talk to [`Store`] and never see SQL, so PostgreSQL can
//! be added here later without touching them.

mod models;
mod sqlite;

pub use models::{
    Context, ContextMessage, InsightRecord, RefreshTokenRow, SessionRow, SwitchRecord, UserRow,
};
pub use sqlite::{SessionFilter, Store, now};

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
    /// A unique constraint was violated (e.g. duplicate email).
    #[error("duplicate")]
    Duplicate,
}
