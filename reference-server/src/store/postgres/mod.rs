//! The PostgreSQL engine (sqlx, runtime-bound queries, embedded migrations from
//! `migrations/postgres`): the shared database of a deployment with several instances.
//!
//! Native types throughout (uuid, timestamptz, jsonb, bigint, boolean), so rows decode
//! without parsing text. The pool is bounded (16 connections) and waits at most a few
//! seconds for a connection, so an overloaded or unreachable database turns into a prompt
//! 503 instead of requests piling up.
//!
//! The stream path's writes — events, and the conversation (each utterance with its insight
//! and the session's counters, one transaction) — go through a second, small pool whose
//! sessions run with `synchronous_commit = off`: a commit then returns without waiting for the
//! WAL flush (measured on this machine: 5.7 ms per event with the flush, the cost of an fsync;
//! with it, a stream could not carry more than a few hundred events per second). This is the
//! trade the SQLite engine makes with `synchronous = NORMAL`: a committed write survives a
//! crash or restart of the server; only a crash of PostgreSQL or the machine within a few
//! hundred milliseconds of the commit can drop the last ones, and never half of a transaction.
//! Everything else (accounts, credentials and revocations, sessions, switch history) keeps the
//! default, fully synchronous commit.

mod accounts;
mod calls;
mod events;
mod sessions;

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;
use super::traits::{Database, StoreFuture};

/// Connections per instance: enough for the request and stream paths of one process, small
/// enough that several instances stay well under PostgreSQL's default `max_connections`.
const MAX_CONNECTIONS: u32 = 16;

/// Connections of the event pool: one INSERT each, serialised per session by the hub.
const EVENT_CONNECTIONS: u32 = 4;

/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL implementation of every storage trait.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The stream path: events and the conversation (`synchronous_commit = off`).
    events: PgPool,
}

impl PgStore {
    /// Connects and runs the migrations (sqlx takes an advisory lock, so instances starting
    /// together migrate once).
    pub async fn connect(database_url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(database_url)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let events = PgPoolOptions::new()
            .max_connections(EVENT_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.options([("synchronous_commit", "off")]));
        Ok(PgStore { pool, events })
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
        Box::pin(async move {
            self.events.close().await;
            self.pool.close().await;
        })
    }
}
