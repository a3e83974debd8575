//! The PostgreSQL engine (sqlx, runtime-bound queries, embedded migrations from
//! `migrations/postgres`): the shared database of a deployment with several instances.
//!
//! Native types throughout (uuid, timestamptz, jsonb, bigint, boolean), so rows decode
//! without parsing text. The pool is bounded (16 connections) and waits at most a few
//! seconds for a connection, so an overloaded or unreachable database turns into a prompt
//! 503 instead of requests piling up.

mod accounts;
mod events;
mod sessions;

use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreError;
use super::traits::{Database, StoreFuture};

/// Connections per instance: enough for the request and stream paths of one process, small
/// enough that several instances stay well under PostgreSQL's default `max_connections`.
const MAX_CONNECTIONS: u32 = 16;

/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL implementation of every storage trait.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and runs the migrations (sqlx takes an advisory lock, so instances starting
    /// together migrate once).
    pub async fn connect(database_url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(database_url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }
}

impl Database for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
}
