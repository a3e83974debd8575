//! The failed-login budget in Redis, so that every instance of a deployment counts the same
//! failures: with a table per instance, a guesser behind a load balancer would get the budget
//! once per instance. Keys are `login:<sha256(email|peer)>` under the prefix (the email never
//! appears in Redis in clear), an integer that expires when its window does.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{CacheError, RedisCache};

/// Counts one failure; the first failure of a window sets the window's expiry.
const COUNT: &str = "local n = redis.call('INCR', KEYS[1]) \
     if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n";

/// The key of one (account, peer) pair.
pub fn budget_key(email: &str, peer: &str) -> String {
    let digest = Sha256::digest(format!("{email}|{peer}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl RedisCache {
    /// Failures counted in the current window and the seconds left in it.
    pub async fn login_failures(&self, key: &str) -> Result<Option<(u32, u64)>, CacheError> {
        let key = self.key(&["login", key]);
        let (count, ttl): (Option<u32>, i64) = self
            .run(|| {
                let mut pipe = redis::pipe();
                pipe.get(&key).ttl(&key);
                pipe
            })
            .await?;
        Ok(count.map(|c| (c, u64::try_from(ttl).unwrap_or(0))))
    }

    /// Counts a failure in a window of `window` starting with the first one.
    pub async fn count_login_failure(&self, key: &str, window: Duration) -> Result<(), CacheError> {
        let key = self.key(&["login", key]);
        let seconds = window.as_secs().max(1);
        let _: (u32,) = self
            .run(|| {
                let mut pipe = redis::pipe();
                pipe.cmd("EVAL").arg(COUNT).arg(1).arg(&key).arg(seconds);
                pipe
            })
            .await?;
        Ok(())
    }

    /// Forgets the failures (a successful sign-in).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), CacheError> {
        let key = self.key(&["login", key]);
        let _: (u32,) = self
            .run(|| {
                let mut pipe = redis::pipe();
                pipe.del(&key);
                pipe
            })
            .await?;
        Ok(())
    }
}
