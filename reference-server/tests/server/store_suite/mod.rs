//! One storage suite for every engine: each case is written once as an async fn taking a
//! [`Store`] and run against SQLite (a temp file) and PostgreSQL (a database of its own), so
//! the two implementations cannot drift apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;
use voice_reference_server::store::{Context, SessionRow, Store, UserRow};
use voice_reference_server::{Role, SessionStatus};

use crate::pg::PgDatabase;

pub(crate) async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("suite.db").display()
    );
    let store = Store::connect(&url).await.expect("SQLite store");
    assert_eq!(store.engine(), "sqlite");
    case(store.clone()).await;
    store.close().await;
}

pub(crate) async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let store = Store::connect(&db.url).await.expect("PostgreSQL store");
    assert_eq!(store.engine(), "postgres");
    case(store.clone()).await;
    store.close().await;
    drop(db);
}

/// Runs the case `$name` once per engine, as `$name::sqlite` and `$name::postgres`.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                crate::store_suite::on_sqlite(super::$name).await;
            }
            #[tokio::test]
            async fn postgres() {
                crate::store_suite::on_postgres(super::$name).await;
            }
        }
    )*};
}

mod accounts;
mod calls;
mod sessions;

/// A time at millisecond precision, `offset_ms` after a fixed instant.
pub(crate) fn at(offset_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_760_000_000_000 + offset_ms).expect("valid instant")
}

pub(crate) fn user(email: &str) -> UserRow {
    UserRow {
        id: Uuid::new_v4(),
        email: email.into(),
        display_name: format!("name of {email}"),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
        role: Role::User,
        created_at: at(0),
    }
}

pub(crate) async fn stored_user(store: &Store, email: &str) -> UserRow {
    let u = user(email);
    store.insert_user(&u).await.expect("insert user");
    u
}

pub(crate) fn session(user_id: Uuid, provider: &str, offset_ms: i64) -> SessionRow {
    SessionRow {
        id: Uuid::new_v4(),
        user_id,
        provider: provider.parse().expect("a provider"),
        status: SessionStatus::Active,
        metadata: json!({"customer": "c-1", "tags": ["a", "b"], "score": 0.25}),
        config: json!({"language": "en"}),
        context: Context::default(),
        created_at: at(offset_ms),
        updated_at: at(offset_ms),
        ended_at: None,
    }
}
