//! Token revocation: written to the database (the truth) and then to the cache tier, read
//! from the cache alone when it can vouch for itself, and pushed to open WebSockets.
//!
//! The hot path is one cache read per request. A cache miss means "not revoked" only while the
//! cache carries the revocation epoch (see `cache`): it is written after a warm-up that loads
//! every live revocation from the database, and it is missing after a Redis restart or flush.
//! Without it — or while this instance knows it failed to write a revocation to the cache, or
//! the cache is unreachable — every check also asks the database, so a revoked token stays
//! revoked (fail closed) and requests keep being served; a background warm-up, retried at most
//! once per [`REWARM_INTERVAL`], makes the cache whole again when it is back, without a restart.
//!
//! Push: a revocation goes to this instance's sockets directly and, through the event bus
//! (`bus`), to the sockets of every other instance, which close the token's sockets with 4001.
//! When the bus may have lost messages (it reconnected), [`Revocation::Recheck`] makes every
//! socket ask [`Revocations::check`] again, so a lost push delays nothing beyond the reconnect.
//!
//! Known limit: if this instance cannot reach Redis while another can, the other trusts a cache
//! that misses this instance's latest revocation until someone re-warms it; the revocation push
//! to sockets and the database are unaffected. A shared Redis outage is the case that matters,
//! and there every instance falls back to the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::Claims;
use crate::bus::{BusMessage, EventBus, InProcessBus, publish_or_warn};
use crate::cache::{Cache, RevocationView};
use crate::store::Store;

/// Minimum time between two warm-up attempts.
pub const REWARM_INTERVAL: Duration = Duration::from_secs(1);

/// A revocation, as pushed to open sockets (and between instances).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Revocation {
    /// One access token.
    Token {
        /// Its id.
        jti: String,
    },
    /// Every token of a user issued at or before the cut-off.
    User {
        /// The user.
        user_id: Uuid,
        /// Unix milliseconds.
        cutoff_ms: i64,
    },
    /// Revocations may have been missed (the bus reconnected): every socket checks its token.
    Recheck,
}

impl Revocation {
    /// Whether a token with these claims is covered.
    pub fn covers(&self, claims: &Claims) -> bool {
        match self {
            Revocation::Token { jti } => *jti == claims.jti,
            Revocation::User { user_id, cutoff_ms } => {
                claims.sub == user_id.to_string() && claims.iat_ms <= *cutoff_ms
            }
            Revocation::Recheck => false,
        }
    }
}

/// Why a token check failed.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The token is revoked.
    #[error("token revoked")]
    Revoked,
    /// Neither tier could answer; the token is refused (fail closed).
    #[error("revocation state unavailable: {0}")]
    Unavailable(String),
}

/// How far the cache can be trusted, as this instance knows it.
#[derive(Debug)]
struct Health {
    /// A write to the cache failed, or a read found no epoch: checks also ask the database.
    stale: AtomicBool,
    /// The last read or write failed.
    unreachable: AtomicBool,
    /// One warm-up at a time, and not too often.
    warming: tokio::sync::Mutex<Option<Instant>>,
}

/// State of the cache tier, for `/ready` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    /// Reachable and complete: checks are answered by the cache alone.
    Ok,
    /// Unreachable or incomplete: checks fall back to the database.
    Degraded,
}

/// The revocation service.
#[derive(Clone)]
pub struct Revocations {
    store: Store,
    cache: Arc<dyn Cache>,
    events: broadcast::Sender<Revocation>,
    bus: Arc<dyn EventBus>,
    health: Arc<Health>,
    /// Cut-offs older than this only cover expired tokens and need not be cached.
    token_lifetime: Duration,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> RevocationError {
    RevocationError::Unavailable(e.to_string())
}

impl Revocations {
    /// A service over both tiers; the cache is trusted only after [`Revocations::warm`].
    pub fn new(store: Store, cache: Arc<dyn Cache>, token_lifetime: Duration) -> Revocations {
        let (events, _) = broadcast::channel(1024);
        Revocations {
            store,
            cache,
            events,
            bus: Arc::new(InProcessBus),
            health: Arc::new(Health {
                stale: AtomicBool::new(true),
                unreachable: AtomicBool::new(false),
                warming: tokio::sync::Mutex::new(None),
            }),
            token_lifetime,
        }
    }

    /// Live revocations, for open sockets.
    pub fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.events.subscribe()
    }

    /// Publishes revocations to the other instances through `bus` (in-process by default).
    pub fn set_bus(&mut self, bus: Arc<dyn EventBus>) {
        self.bus = bus;
    }

    /// Pushes to this instance's sockets only (also what the bus delivers from others).
    pub fn push_local(&self, revocation: Revocation) {
        // No receiver simply means no socket is open.
        let _ = self.events.send(revocation);
    }

    /// Pushes to the sockets of every instance.
    async fn push(&self, revocation: Revocation) {
        self.push_local(revocation.clone());
        publish_or_warn(&self.bus, &BusMessage::Revocation { revocation }).await;
    }

    /// Whether checks are answered by the cache alone.
    pub fn cache_state(&self) -> CacheState {
        if self.health.stale.load(Ordering::SeqCst)
            || self.health.unreachable.load(Ordering::SeqCst)
        {
            CacheState::Degraded
        } else {
            CacheState::Ok
        }
    }

    /// Records the outcome of a cache call; a failed write leaves the cache incomplete.
    fn note<T>(&self, result: &Result<T, crate::cache::CacheError>, is_write: bool) {
        match result {
            Ok(_) => self.health.unreachable.store(false, Ordering::SeqCst),
            Err(e) => {
                if !self.health.unreachable.swap(true, Ordering::SeqCst) {
                    tracing::warn!(cache = self.cache.kind(), error = %e, "cache tier unreachable: revocation checks fall back to the database");
                }
                if is_write {
                    self.health.stale.store(true, Ordering::SeqCst);
                }
            }
        }
    }

    /// Loads every live revocation from the database into the cache, then writes a new epoch.
    /// Returns whether the cache is now complete.
    pub async fn warm(&self) -> bool {
        let mut last = self.health.warming.lock().await;
        if !self.health.stale.load(Ordering::SeqCst) {
            return true;
        }
        *last = Some(Instant::now());
        match self.load_into_cache().await {
            Ok(()) => {
                self.health.stale.store(false, Ordering::SeqCst);
                self.health.unreachable.store(false, Ordering::SeqCst);
                tracing::info!(cache = self.cache.kind(), "revocation cache warmed");
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "revocation cache warm-up failed");
                false
            }
        }
    }

    async fn load_into_cache(&self) -> Result<(), RevocationError> {
        // Readers must not trust the cache while it is being filled.
        self.cache.clear_epoch().await.map_err(unavailable)?;
        let now = chrono::Utc::now();
        let jtis = self
            .store
            .live_revoked_jtis(now.timestamp())
            .await
            .map_err(unavailable)?;
        let lifetime = i64::try_from(self.token_lifetime.as_millis()).unwrap_or(i64::MAX);
        let since = now.timestamp_millis().saturating_sub(lifetime);
        let cutoffs = self
            .store
            .user_cutoffs_since(since)
            .await
            .map_err(unavailable)?;
        for (jti, exp) in &jtis {
            self.cache
                .revoke_jti(jti, *exp)
                .await
                .map_err(unavailable)?;
        }
        for (user, cutoff) in &cutoffs {
            self.cache
                .set_user_cutoff(&user.to_string(), *cutoff)
                .await
                .map_err(unavailable)?;
        }
        let epoch = Uuid::new_v4().to_string();
        self.cache.set_epoch(&epoch).await.map_err(unavailable)
    }

    /// Asks the cache how it is now (reachable? epoch present?) and warms it when it is
    /// reachable but incomplete; returns the resulting state. For `/ready`.
    pub async fn refresh_health(&self) -> CacheState {
        let view = self.cache.view(None, "-").await;
        self.note(&view, false);
        if let Ok(v) = view {
            if v.epoch.is_none() {
                self.health.stale.store(true, Ordering::SeqCst);
            }
            if self.health.stale.load(Ordering::SeqCst) {
                self.warm().await;
            }
        }
        self.cache_state()
    }

    /// Starts a background warm-up unless one ran a moment ago.
    fn rewarm_soon(&self) {
        let due = match self.health.warming.try_lock() {
            Ok(last) => last.is_none_or(|at| at.elapsed() >= REWARM_INTERVAL),
            Err(_) => false,
        };
        if due {
            let this = self.clone();
            tokio::spawn(async move {
                this.warm().await;
            });
        }
    }

    /// Revokes one access token; `notify_sockets` pushes it to open sockets.
    pub async fn revoke_token(
        &self,
        claims: &Claims,
        notify_sockets: bool,
    ) -> Result<(), crate::AppError> {
        let user_id = claims
            .user_id()
            .map_err(|_| crate::AppError::Unauthorized("invalid token".into()))?;
        self.store
            .insert_revoked_jti(&claims.jti, user_id, claims.exp)
            .await?;
        let written = self.cache.revoke_jti(&claims.jti, claims.exp).await;
        self.note(&written, true);
        if notify_sockets {
            self.push(Revocation::Token {
                jti: claims.jti.clone(),
            })
            .await;
        }
        Ok(())
    }

    /// Revokes every token (access and refresh) of a user issued up to now; returns the
    /// cut-off. Tokens issued later get `iat_ms` above it ([`Revocations::issue_floor`]).
    pub async fn revoke_user(&self, user_id: Uuid) -> Result<i64, crate::AppError> {
        let cutoff_ms = chrono::Utc::now().timestamp_millis();
        self.store.set_user_cutoff(user_id, cutoff_ms).await?;
        self.store.revoke_user_refresh_tokens(user_id).await?;
        let written = self
            .cache
            .set_user_cutoff(&user_id.to_string(), cutoff_ms)
            .await;
        self.note(&written, true);
        self.push(Revocation::User { user_id, cutoff_ms }).await;
        Ok(cutoff_ms)
    }

    /// The smallest `iat_ms` a token issued now for `user_id` may carry: one past the user's
    /// cut-off, so that a token issued in the same millisecond as a revocation is not covered.
    pub async fn issue_floor(&self, user_id: Uuid) -> Result<i64, RevocationError> {
        Ok(self.user_cutoff(user_id).await?.map_or(i64::MIN, |c| c + 1))
    }

    /// The cache alone when it vouches for itself, else the database too; any failure of the
    /// database refuses the token.
    pub async fn check(&self, claims: &Claims) -> Result<(), RevocationError> {
        let view = self.cache.view(Some(&claims.jti), &claims.sub).await;
        self.note(&view, false);
        if let Ok(v) = &view {
            if covered(v, claims) {
                return Err(RevocationError::Revoked);
            }
            if v.epoch.is_some() && !self.health.stale.load(Ordering::SeqCst) {
                return Ok(());
            }
            self.health.stale.store(true, Ordering::SeqCst);
        }
        self.rewarm_soon();
        if self
            .store
            .is_jti_revoked(&claims.jti)
            .await
            .map_err(unavailable)?
        {
            return Err(RevocationError::Revoked);
        }
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| RevocationError::Revoked)?;
        let cutoff = self.store.user_cutoff(user_id).await.map_err(unavailable)?;
        if cutoff.is_some_and(|c| claims.iat_ms <= c) {
            return Err(RevocationError::Revoked);
        }
        Ok(())
    }

    /// The user's cut-off (ms): the cache when it vouches for itself, else the database.
    pub async fn user_cutoff(&self, user_id: Uuid) -> Result<Option<i64>, RevocationError> {
        let view = self.cache.view(None, &user_id.to_string()).await;
        self.note(&view, false);
        if let Ok(v) = view
            && (v.cutoff_ms.is_some()
                || (v.epoch.is_some() && !self.health.stale.load(Ordering::SeqCst)))
        {
            return Ok(v.cutoff_ms);
        }
        self.store.user_cutoff(user_id).await.map_err(unavailable)
    }
}

fn covered(view: &RevocationView, claims: &Claims) -> bool {
    view.jti_revoked || view.cutoff_ms.is_some_and(|c| claims.iat_ms <= c)
}
