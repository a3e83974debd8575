//! A throw-away PostgreSQL database per test, so PostgreSQL tests can run in parallel and
//! against a shared server without seeing each other's rows.
//!
//! The server comes from `VOICE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! When it is unreachable the test fails with a message saying so, unless
//! `VOICE_SKIP_SERVICES=1`, in which case it prints that it skipped and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgPool, PgPoolOptions};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test and dropped (`WITH (FORCE)`) when this value is dropped,
/// even when the test panics.
pub struct PgDatabase {
    /// URL of the test's own database.
    pub url: String,
    name: String,
    admin_url: String,
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// `base` with its database name replaced by `name` (query string kept).
fn with_database(base: &str, name: &str) -> String {
    let (path, query) = match base.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (base, None),
    };
    let authority_start = path.find("://").map_or(0, |i| i + 3);
    let host_part = match path[authority_start..].find('/') {
        Some(slash) => &path[..authority_start + slash],
        None => path,
    };
    match query {
        Some(query) => format!("{host_part}/{name}?{query}"),
        None => format!("{host_part}/{name}"),
    }
}

async fn admin_pool(url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

impl PgDatabase {
    /// Creates `voice_t_<uuid>`; `None` (after saying so) when PostgreSQL is unreachable
    /// and `VOICE_SKIP_SERVICES=1`.
    pub async fn create() -> Option<PgDatabase> {
        let admin_url =
            std::env::var("VOICE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
        let admin = match admin_pool(&admin_url).await {
            Ok(pool) => pool,
            Err(e) => {
                let shown = redact(&admin_url);
                if std::env::var("VOICE_SKIP_SERVICES").as_deref() == Ok("1") {
                    eprintln!(
                        "skipped: PostgreSQL not reachable at {shown} ({e}); VOICE_SKIP_SERVICES=1"
                    );
                    return None;
                }
                panic!(
                    "PostgreSQL not reachable at {shown} ({e}); set VOICE_SKIP_SERVICES=1 to skip"
                );
            }
        };
        let name = format!("voice_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("CREATE DATABASE for the test");
        admin.close().await;
        Some(PgDatabase {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Dropping cannot await; a thread with its own runtime works from any context,
        // including a panicking test.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime to drop the test database");
            runtime.block_on(async move {
                let admin = admin_pool(&admin_url).await?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await?;
                admin.close().await;
                Ok::<(), sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

#[test]
fn urls_are_rebased_and_redacted() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
        "postgres://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
    assert_eq!(redact("postgres://h/db"), "postgres://h/db");
}
