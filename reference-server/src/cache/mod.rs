//! The cache tier in front of the database, for the revocation check on every request and
//! the call ↔ session mappings of active calls (seed 000 §6.2; the `calls` table is their
//! truth and recovery at start rebuilds them, see `telephony::manager`).
//!
//! The database is the truth; the cache never holds the only copy of anything. What the cache
//! adds is speed: a token check is one cache read instead of two database queries. For that to
//! be safe, a cache miss must mean "not revoked", which only holds while the cache holds every
//! revocation. So the cache carries a *revocation epoch*: a marker written after the cache has
//! been loaded (warmed) from the database. No marker (a restarted or flushed Redis, a server
//! that could not write a revocation to it) means the cache is incomplete, and checks fall back
//! to the database until it has been warmed again. See `auth::revocation` for the protocol.
//!
//! Two implementations: [`InMemoryCache`] (embedded default) and [`RedisCache`] (shared by
//! several instances, `--cache-url redis://…`, keys under a configurable prefix).

mod login;
mod memory;
mod redis;

use std::sync::Arc;

use futures_util::future::BoxFuture;

pub use login::budget_key;
pub use memory::InMemoryCache;
pub use redis::RedisCache;
pub(crate) use redis::lazy_connection;

/// A cache failure: the tier is unreachable, slow or returned something unexpected.
#[derive(Debug, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheError(pub String);

/// What the cache knows about one token, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationView {
    /// The token id is recorded as revoked.
    pub jti_revoked: bool,
    /// The user's revocation cut-off (Unix milliseconds), if recorded.
    pub cutoff_ms: Option<i64>,
    /// The revocation epoch marker; `None` means the cache is not known to be complete.
    pub epoch: Option<String>,
}

/// An active call as the cache maps it (call ↔ session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCall {
    /// The carrier's call id.
    pub call_id: String,
    /// The session it feeds, if any.
    pub session_id: Option<String>,
}

/// Revocation state and active calls, kept close to the request path.
pub trait Cache: Send + Sync + 'static {
    /// Records a revoked token id until `expires_at` (Unix seconds).
    fn revoke_jti<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Records that every token of `user_id` issued at or before `cutoff_ms` is revoked
    /// (keeps the larger cut-off when one is already recorded).
    fn set_user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
        cutoff_ms: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    /// The token's and its user's revocation state plus the epoch marker.
    fn view<'a>(
        &'a self,
        jti: Option<&'a str>,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RevocationView, CacheError>>;
    /// Writes the epoch marker: the cache now holds every revocation.
    fn set_epoch<'a>(&'a self, epoch: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Removes the epoch marker: the cache may be incomplete.
    fn clear_epoch(&self) -> BoxFuture<'_, Result<(), CacheError>>;
    /// Records active calls, each as call → session (none when the call has no session) and
    /// session → call. Recovery at start passes every non-terminal call at once.
    fn put_calls<'a>(&'a self, calls: &'a [ActiveCall]) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Forgets a call that ended, both ways.
    fn remove_call<'a>(&'a self, call: &'a ActiveCall) -> BoxFuture<'a, Result<(), CacheError>>;
    /// The cached entry of an active call: `None` when the call is not cached, else its
    /// session (itself `None` when the call has no session).
    fn call_session<'a>(
        &'a self,
        call_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Option<String>>, CacheError>>;
    /// The active call of a session, if one is cached.
    fn session_call<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, CacheError>>;
    /// Reachability probe for `/ready`.
    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>>;
    /// `in-process` or `redis`, for logs and `/ready`.
    fn kind(&self) -> &'static str;
}

/// Which cache tier to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheConfig {
    /// The in-process map (one instance only).
    #[default]
    InProcess,
    /// Redis at `url`, every key under `prefix`.
    Redis {
        /// `redis://host:port[/db]`.
        url: String,
        /// Prepended to every key (e.g. `voice:prod:`).
        prefix: String,
    },
}

impl CacheConfig {
    /// Whether several instances share the tier.
    pub fn is_shared(&self) -> bool {
        matches!(self, CacheConfig::Redis { .. })
    }
}

/// An opened tier; the in-process one can also be switched off (outage drills, the demo).
#[derive(Clone)]
pub struct Opened {
    /// The tier.
    pub cache: Arc<dyn Cache>,
    /// The same tier when it is in-process.
    pub in_process: Option<Arc<InMemoryCache>>,
    /// The same tier when it is Redis (shared by the instances: the failed-login budget).
    pub redis: Option<Arc<RedisCache>>,
}

/// Opens the configured tier. Redis connects lazily: a Redis that is down at start makes the
/// cache degraded (checks go to the database), not the server unable to start.
pub fn open(config: &CacheConfig) -> Result<Opened, CacheError> {
    Ok(match config {
        CacheConfig::InProcess => {
            let memory = Arc::new(InMemoryCache::default());
            Opened {
                cache: memory.clone(),
                in_process: Some(memory),
                redis: None,
            }
        }
        CacheConfig::Redis { url, prefix } => {
            let redis = Arc::new(RedisCache::open(url, prefix)?);
            Opened {
                cache: redis.clone(),
                in_process: None,
                redis: Some(redis),
            }
        }
    })
}
