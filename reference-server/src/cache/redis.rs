//! The Redis cache tier, shared by every instance of a deployment.
//!
//! One multiplexed connection ([`ConnectionManager`]) that reconnects by itself, so that when
//! Redis returns after an outage the server uses it again without a restart. Every call has
//! a short deadline: a slow or dead Redis degrades the cache (checks go to the database), it
//! never stalls requests. After a failure the tier is skipped for a moment instead of being
//! retried on every request.
//!
//! Keys, all under the configured prefix: `rev:epoch` (the completeness marker, see the
//! module header of `cache`), `rev:jti:<jti>` (expires with the token), `rev:cut:<user>`;
//! active calls as `call:c:<call id>` (its session id, empty when none) and
//! `call:s:<session id>` (its call id). Call keys have no expiry: a call leaves the cache when
//! it ends, and the `calls` table rebuilds them at start.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{ActiveCall, Cache, CacheError, RevocationView};

/// Deadline of one call (local Redis answers in well under a millisecond).
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the tier is skipped after a failure.
const BACKOFF: Duration = Duration::from_millis(500);

/// Keeps the larger cut-off: `SET` only when absent or smaller.
const MAX_CUTOFF: &str = "local c = redis.call('GET', KEYS[1]) \
     if (not c) or tonumber(c) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end \
     return 1";

/// Deletes a key only when it holds the given value (a session's mapping to a call that
/// has since been replaced by another call stays).
const DEL_IF_EQUAL: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('DEL', KEYS[1]) end return 0";

/// Calls written per round trip (recovery writes every active call; one huge pipeline would
/// outlast the call deadline).
const CALLS_PER_PIPELINE: usize = 1000;

/// The Redis implementation.
pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
    down_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> CacheError {
    CacheError(e.to_string())
}

/// A client for `url` and a lazily connected, self-reconnecting connection on it with the
/// short deadlines every Redis call of the server uses (the cache tier and the event bus).
pub(crate) fn lazy_connection(url: &str) -> redis::RedisResult<(redis::Client, ConnectionManager)> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CALL_TIMEOUT))
        .set_response_timeout(Some(CALL_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
    Ok((client, conn))
}

impl RedisCache {
    /// A lazily connected cache at `url`; fails only on a malformed URL.
    pub fn open(url: &str, prefix: &str) -> Result<RedisCache, CacheError> {
        let (_, conn) = lazy_connection(url).map_err(failed)?;
        Ok(RedisCache {
            conn,
            prefix: prefix.to_owned(),
            down_until: Mutex::new(None),
        })
    }

    pub(super) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        key.push_str(&parts.join(":"));
        key
    }

    /// Runs `cmd` unless the tier failed a moment ago; a failure starts the back-off.
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: impl FnOnce() -> redis::Pipeline,
    ) -> Result<T, CacheError> {
        if let Ok(guard) = self.down_until.lock()
            && guard.is_some_and(|until| Instant::now() < until)
        {
            return Err(CacheError("redis failed a moment ago; skipped".into()));
        }
        let mut conn = self.conn.clone();
        let pipe = cmd();
        let result = tokio::time::timeout(CALL_TIMEOUT, pipe.query_async::<T>(&mut conn)).await;
        let outcome = match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(failed(e)),
            Err(_) => Err(CacheError("redis did not answer in time".into())),
        };
        if let Ok(mut guard) = self.down_until.lock() {
            *guard = match outcome {
                Ok(_) => None,
                Err(_) => Some(Instant::now() + BACKOFF),
            };
        }
        outcome
    }
}

impl Cache for RedisCache {
    fn revoke_jti<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let key = self.key(&["rev", "jti", jti]);
            // Keep the key a little past the token's expiry; an already expired token needs none.
            let ttl = (expires_at - chrono::Utc::now().timestamp()).max(1) + 5;
            self.run::<()>(|| {
                let mut p = redis::pipe();
                p.cmd("SET").arg(key).arg(1).arg("EX").arg(ttl).ignore();
                p
            })
            .await
        })
    }

    fn set_user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
        cutoff_ms: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let key = self.key(&["rev", "cut", user_id]);
            self.run::<()>(|| {
                let mut p = redis::pipe();
                p.cmd("EVAL")
                    .arg(MAX_CUTOFF)
                    .arg(1)
                    .arg(key)
                    .arg(cutoff_ms)
                    .ignore();
                p
            })
            .await
        })
    }

    fn view<'a>(
        &'a self,
        jti: Option<&'a str>,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RevocationView, CacheError>> {
        Box::pin(async move {
            let epoch_key = self.key(&["rev", "epoch"]);
            let jti_key = self.key(&["rev", "jti", jti.unwrap_or("-")]);
            let cut_key = self.key(&["rev", "cut", user_id]);
            let (epoch, jti_revoked, cutoff_ms): (Option<String>, bool, Option<i64>) = self
                .run(|| {
                    let mut p = redis::pipe();
                    p.cmd("GET").arg(epoch_key);
                    p.cmd("EXISTS").arg(jti_key);
                    p.cmd("GET").arg(cut_key);
                    p
                })
                .await?;
            Ok(RevocationView {
                jti_revoked: jti.is_some() && jti_revoked,
                cutoff_ms,
                epoch,
            })
        })
    }

    fn set_epoch<'a>(&'a self, epoch: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let key = self.key(&["rev", "epoch"]);
            self.run::<()>(|| {
                let mut p = redis::pipe();
                p.cmd("SET").arg(key).arg(epoch).ignore();
                p
            })
            .await
        })
    }

    fn clear_epoch(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            let key = self.key(&["rev", "epoch"]);
            self.run::<()>(|| {
                let mut p = redis::pipe();
                p.cmd("DEL").arg(key).ignore();
                p
            })
            .await
        })
    }

    fn put_calls<'a>(&'a self, calls: &'a [ActiveCall]) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            for chunk in calls.chunks(CALLS_PER_PIPELINE) {
                self.run::<()>(|| {
                    let mut p = redis::pipe();
                    for call in chunk {
                        let session = call.session_id.as_deref().unwrap_or("");
                        p.cmd("SET")
                            .arg(self.key(&["call", "c", &call.call_id]))
                            .arg(session)
                            .ignore();
                        if !session.is_empty() {
                            p.cmd("SET")
                                .arg(self.key(&["call", "s", session]))
                                .arg(&call.call_id)
                                .ignore();
                        }
                    }
                    p
                })
                .await?;
            }
            Ok(())
        })
    }

    fn remove_call<'a>(&'a self, call: &'a ActiveCall) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.run::<()>(|| {
                let mut p = redis::pipe();
                p.cmd("DEL")
                    .arg(self.key(&["call", "c", &call.call_id]))
                    .ignore();
                if let Some(session) = &call.session_id {
                    // Only when the session still maps to this call.
                    p.cmd("EVAL")
                        .arg(DEL_IF_EQUAL)
                        .arg(1)
                        .arg(self.key(&["call", "s", session]))
                        .arg(&call.call_id)
                        .ignore();
                }
                p
            })
            .await
        })
    }

    fn call_session<'a>(
        &'a self,
        call_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Option<String>>, CacheError>> {
        Box::pin(async move {
            let key = self.key(&["call", "c", call_id]);
            let (session,): (Option<String>,) = self
                .run(|| {
                    let mut p = redis::pipe();
                    p.cmd("GET").arg(key);
                    p
                })
                .await?;
            Ok(session.map(|s| (!s.is_empty()).then_some(s)))
        })
    }

    fn session_call<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        Box::pin(async move {
            let key = self.key(&["call", "s", session_id]);
            let (call,): (Option<String>,) = self
                .run(|| {
                    let mut p = redis::pipe();
                    p.cmd("GET").arg(key);
                    p
                })
                .await?;
            Ok(call)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            // Bypasses the back-off so that `/ready` reports the present, not a moment ago.
            let mut conn = self.conn.clone();
            let pong = tokio::time::timeout(
                CALL_TIMEOUT,
                redis::cmd("PING").query_async::<String>(&mut conn),
            )
            .await;
            match pong {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(failed(e)),
                Err(_) => Err(CacheError("redis did not answer in time".into())),
            }
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
