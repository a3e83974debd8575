//! Token revocation: written to the cache tier and the database, read cache-first then
//! database (failing closed), and pushed to open WebSockets through a broadcast channel.

use std::sync::Arc;

use tokio::sync::broadcast;
use uuid::Uuid;

use super::Claims;
use crate::cache::Cache;
use crate::store::Store;

/// A revocation, as pushed to open sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Revocation {
    /// Whether a token with these claims is covered.
    pub fn covers(&self, claims: &Claims) -> bool {
        match self {
            Revocation::Token { jti } => *jti == claims.jti,
            Revocation::User { user_id, cutoff_ms } => {
                claims.sub == user_id.to_string() && claims.iat_ms <= *cutoff_ms
            }
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

/// The revocation service.
#[derive(Clone)]
pub struct Revocations {
    store: Store,
    cache: Arc<dyn Cache>,
    events: broadcast::Sender<Revocation>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").finish_non_exhaustive()
    }
}

impl Revocations {
    /// A service over both tiers.
    pub fn new(store: Store, cache: Arc<dyn Cache>) -> Revocations {
        let (events, _) = broadcast::channel(1024);
        Revocations {
            store,
            cache,
            events,
        }
    }

    /// Live revocations, for open sockets.
    pub fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.events.subscribe()
    }

    fn push(&self, revocation: Revocation) {
        // No receiver simply means no socket is open.
        let _ = self.events.send(revocation);
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
        self.cache.revoke_jti(&claims.jti, claims.exp).await?;
        if notify_sockets {
            self.push(Revocation::Token {
                jti: claims.jti.clone(),
            });
        }
        Ok(())
    }

    /// Revokes every token (access and refresh) of a user issued up to now; returns the cut-off.
    pub async fn revoke_user(&self, user_id: Uuid) -> Result<i64, crate::AppError> {
        let cutoff_ms = chrono::Utc::now().timestamp_millis();
        self.store.set_user_cutoff(user_id, cutoff_ms).await?;
        self.store.revoke_user_refresh_tokens(user_id).await?;
        self.cache
            .set_user_cutoff(&user_id.to_string(), cutoff_ms)
            .await?;
        self.push(Revocation::User { user_id, cutoff_ms });
        // Tokens issued after this call returns must have `iat_ms > cutoff_ms`.
        while chrono::Utc::now().timestamp_millis() <= cutoff_ms {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Ok(cutoff_ms)
    }

    /// Cache first, then database; any failure refuses the token.
    pub async fn check(&self, claims: &Claims) -> Result<(), RevocationError> {
        let unavailable = |e: &dyn std::fmt::Display| RevocationError::Unavailable(e.to_string());
        if self
            .cache
            .is_jti_revoked(&claims.jti)
            .await
            .map_err(|e| unavailable(&e))?
        {
            return Err(RevocationError::Revoked);
        }
        let cached_cutoff = self
            .cache
            .user_cutoff(&claims.sub)
            .await
            .map_err(|e| unavailable(&e))?;
        if cached_cutoff.is_some_and(|cutoff| claims.iat_ms <= cutoff) {
            return Err(RevocationError::Revoked);
        }
        if self
            .store
            .is_jti_revoked(&claims.jti)
            .await
            .map_err(|e| unavailable(&e))?
        {
            let _ = self.cache.revoke_jti(&claims.jti, claims.exp).await;
            return Err(RevocationError::Revoked);
        }
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| RevocationError::Revoked)?;
        if let Some(cutoff) = self
            .store
            .user_cutoff(user_id)
            .await
            .map_err(|e| unavailable(&e))?
        {
            let _ = self.cache.set_user_cutoff(&claims.sub, cutoff).await;
            if claims.iat_ms <= cutoff {
                return Err(RevocationError::Revoked);
            }
        }
        Ok(())
    }

    /// The user's cut-off (ms), cache first, then database.
    pub async fn user_cutoff(&self, user_id: Uuid) -> Result<Option<i64>, RevocationError> {
        let unavailable = |e: &dyn std::fmt::Display| RevocationError::Unavailable(e.to_string());
        if let Some(c) = self
            .cache
            .user_cutoff(&user_id.to_string())
            .await
            .map_err(|e| unavailable(&e))?
        {
            return Ok(Some(c));
        }
        self.store
            .user_cutoff(user_id)
            .await
            .map_err(|e| unavailable(&e))
    }
}
