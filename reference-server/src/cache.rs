//! The cache tier in front of the database for revocation checks.
//!
//! Behind the [`Cache`] trait so that Redis can replace the in-process map later; the
//! revocation service writes to both tiers and reads cache-first, then database.

use std::collections::HashMap;
use std::sync::RwLock;

use futures_util::future::BoxFuture;

/// A cache failure (the in-process cache only fails on a poisoned lock).
#[derive(Debug, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheError(pub String);

/// Revocation state kept close to the request path.
pub trait Cache: Send + Sync + 'static {
    /// Records a revoked token id until `expires_at` (Unix seconds).
    fn revoke_jti<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Whether the token id is known to be revoked (`false` means "not in the cache").
    fn is_jti_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, CacheError>>;
    /// Records that every token of `user_id` issued at or before `cutoff_ms` is revoked.
    fn set_user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
        cutoff_ms: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    /// The user's revocation cut-off (Unix milliseconds), if cached.
    fn user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<i64>, CacheError>>;
    /// Reachability probe for `/ready`.
    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>>;
}

/// The in-process implementation.
#[derive(Debug, Default)]
pub struct InMemoryCache {
    jtis: RwLock<HashMap<String, i64>>,
    cutoffs: RwLock<HashMap<String, i64>>,
}

fn poisoned<T>(_: T) -> CacheError {
    CacheError("lock poisoned".into())
}

impl Cache for InMemoryCache {
    fn revoke_jti<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let mut jtis = self.jtis.write().map_err(poisoned)?;
            let now = chrono::Utc::now().timestamp();
            jtis.retain(|_, exp| *exp >= now);
            jtis.insert(jti.to_owned(), expires_at);
            Ok(())
        })
    }

    fn is_jti_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move { Ok(self.jtis.read().map_err(poisoned)?.contains_key(jti)) })
    }

    fn set_user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
        cutoff_ms: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let mut cutoffs = self.cutoffs.write().map_err(poisoned)?;
            let entry = cutoffs.entry(user_id.to_owned()).or_insert(cutoff_ms);
            *entry = (*entry).max(cutoff_ms);
            Ok(())
        })
    }

    fn user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<i64>, CacheError>> {
        Box::pin(async move { Ok(self.cutoffs.read().map_err(poisoned)?.get(user_id).copied()) })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            drop(self.jtis.read().map_err(poisoned)?);
            Ok(())
        })
    }
}
