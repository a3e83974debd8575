//! The failed-login budget: after `max_failures` wrong passwords for one account from one peer
//! address within `window`, sign-in answers 429 with `Retry-After` until the window ends.
//!
//! The key is (account email, peer IP of the TCP connection). `X-Forwarded-For` is never read:
//! anyone can send it, so trusting it would let a guesser reset the budget with every request.
//! Keying on the account as well keeps one noisy client from locking everybody out.
//!
//! Where the count lives: in memory for one instance (a restart resets it, which only costs an
//! attacker a restart they cannot cause); in Redis when the deployment shares a cache
//! ([`LoginLimiter::shared`]), so several instances spend one budget. When Redis cannot be
//! reached the instance counts in memory meanwhile (a budget per instance for that time)
//! rather than refusing every sign-in or waiving the budget.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cache::{RedisCache, budget_key};

/// How many failed sign-ins are allowed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimit {
    /// Failures allowed per window; the next attempt is refused.
    pub max_failures: u32,
    /// Length of the window, counted from the first failure.
    pub window: Duration,
}

impl Default for LoginLimit {
    /// 10 failures per 5 minutes.
    fn default() -> Self {
        LoginLimit {
            max_failures: 10,
            window: Duration::from_secs(5 * 60),
        }
    }
}

/// The peer IP of the connection, when the server was started with connect info (the
/// reference server always is; a router embedded without it keys on the account alone).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Sign-in refused: what the 429 answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// Seconds until an attempt is accepted again (at least 1).
    pub retry_after: u64,
    /// The budget per window.
    pub limit: u32,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Failed sign-ins per (account, peer), shared by every request.
#[derive(Debug)]
pub struct LoginLimiter {
    limit: LoginLimit,
    windows: Mutex<HashMap<(String, Option<IpAddr>), Window>>,
    shared: Option<Arc<RedisCache>>,
}

/// Above this many tracked keys, expired windows are dropped before a new one is added.
const PRUNE_ABOVE: usize = 10_000;

impl LoginLimiter {
    /// An empty budget table.
    pub fn new(limit: LoginLimit) -> LoginLimiter {
        LoginLimiter {
            limit,
            windows: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// A budget every instance sharing `redis` spends together.
    pub fn shared(limit: LoginLimit, redis: Arc<RedisCache>) -> LoginLimiter {
        LoginLimiter {
            shared: Some(redis),
            ..LoginLimiter::new(limit)
        }
    }

    fn shared_key(email: &str, peer: Peer) -> String {
        let (email, ip) = Self::key(email, peer);
        budget_key(&email, &ip.map(|ip| ip.to_string()).unwrap_or_default())
    }

    /// `Err(Blocked)` while the account has used up its budget from this peer (on every
    /// instance when the budget is shared).
    pub async fn check(&self, email: &str, peer: Peer) -> Result<(), Blocked> {
        if let Some(redis) = &self.shared {
            match redis.login_failures(&Self::shared_key(email, peer)).await {
                Ok(Some((failures, left))) if failures >= self.limit.max_failures => {
                    return Err(Blocked {
                        retry_after: left.max(1),
                        limit: self.limit.max_failures,
                    });
                }
                Ok(_) => return self.check_local(email, peer),
                Err(e) => {
                    tracing::warn!(error = %e, "shared login budget unreachable; counting locally")
                }
            }
        }
        self.check_local(email, peer)
    }

    /// Counts a wrong password.
    pub async fn record_failure(&self, email: &str, peer: Peer) {
        if let Some(redis) = &self.shared {
            match redis
                .count_login_failure(&Self::shared_key(email, peer), self.limit.window)
                .await
            {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "shared login budget unreachable; counting locally")
                }
            }
        }
        self.record_failure_at(email, peer, Instant::now());
    }

    /// A successful sign-in clears the account's failures from this peer.
    pub async fn record_success(&self, email: &str, peer: Peer) {
        if let Some(redis) = &self.shared
            && let Err(e) = redis
                .clear_login_failures(&Self::shared_key(email, peer))
                .await
        {
            tracing::warn!(error = %e, "shared login budget unreachable; failures stay until their window ends");
        }
        self.lock().remove(&Self::key(email, peer));
    }

    fn key(email: &str, peer: Peer) -> (String, Option<IpAddr>) {
        (email.trim().to_lowercase(), peer.0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Option<IpAddr>), Window>> {
        // A panic while holding the lock cannot leave a window half-written; keep serving.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The in-memory half of [`LoginLimiter::check`].
    fn check_local(&self, email: &str, peer: Peer) -> Result<(), Blocked> {
        self.check_at(email, peer, Instant::now())
    }

    fn check_at(&self, email: &str, peer: Peer, now: Instant) -> Result<(), Blocked> {
        let windows = self.lock();
        match windows.get(&Self::key(email, peer)) {
            Some(w) if w.failures >= self.limit.max_failures => {
                let ends = w.started + self.limit.window;
                match ends.checked_duration_since(now) {
                    Some(left) if !left.is_zero() => Err(Blocked {
                        retry_after: left.as_secs_f64().ceil().max(1.0) as u64,
                        limit: self.limit.max_failures,
                    }),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn record_failure_at(&self, email: &str, peer: Peer, now: Instant) {
        let window = self.limit.window;
        let mut windows = self.lock();
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, w| now.saturating_duration_since(w.started) < window);
        }
        let entry = windows.entry(Self::key(email, peer)).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.saturating_duration_since(entry.started) >= window {
            *entry = Window {
                started: now,
                failures: 0,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(last: u8) -> Peer {
        Peer(Some(IpAddr::from([10, 0, 0, last])))
    }

    #[test]
    fn the_budget_is_per_account_and_peer_and_ends_with_the_window() {
        let limiter = LoginLimiter::new(LoginLimit {
            max_failures: 3,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("a@x.test", peer(1), t0).is_ok());
            limiter.record_failure_at("A@x.test ", peer(1), t0);
        }
        let blocked = limiter
            .check_at("a@x.test", peer(1), t0 + Duration::from_secs(20))
            .expect_err("budget used up");
        assert_eq!(
            blocked,
            Blocked {
                retry_after: 40,
                limit: 3
            }
        );
        // Another account, or the same account from another peer, is not affected.
        assert!(limiter.check_at("b@x.test", peer(1), t0).is_ok());
        assert!(limiter.check_at("a@x.test", peer(2), t0).is_ok());
        // The window ends.
        assert!(
            limiter
                .check_at("a@x.test", peer(1), t0 + Duration::from_secs(60))
                .is_ok()
        );
        limiter.record_failure_at("a@x.test", peer(1), t0 + Duration::from_secs(61));
        assert!(
            limiter
                .check_at("a@x.test", peer(1), t0 + Duration::from_secs(62))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_success_clears_the_failures() {
        let limiter = LoginLimiter::new(LoginLimit {
            max_failures: 1,
            window: Duration::from_secs(60),
        });
        limiter.record_failure("a@x.test", peer(1)).await;
        assert!(limiter.check("a@x.test", peer(1)).await.is_err());
        limiter.record_success("a@x.test", peer(1)).await;
        assert!(limiter.check("a@x.test", peer(1)).await.is_ok());
    }
}
