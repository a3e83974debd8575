//! Access tokens whose signature this process has already verified.
//!
//! A client sends the same access token with every request for its whole lifetime, and an
//! Ed25519 verification (plus base64 and JSON decoding) costs tens of microseconds — more than
//! the rest of an authenticated read. Verification is a pure function of the token's bytes and
//! the key, so its result can be remembered: a token found here byte for byte was verified by
//! this [`super::TokenService`]'s key, and only its expiry (which depends on the clock) is
//! checked again. Revocation is not cached here; it is checked on every request after this.
//!
//! The map is bounded: when it is full, expired entries are dropped, and if that frees nothing
//! it is emptied (a burst of new tokens then costs one verification each, as before).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::Claims;

/// Most tokens remembered (a few hundred bytes each).
pub const CAPACITY: usize = 4096;

/// Verified tokens and their claims.
#[derive(Debug, Default)]
pub struct Verified {
    tokens: RwLock<HashMap<Box<str>, Arc<Claims>>>,
}

impl Verified {
    /// The claims of `token` if it was verified before (expiry not checked).
    pub fn get(&self, token: &str) -> Option<Arc<Claims>> {
        // A poisoned lock only means another thread panicked mid-insert: verify again.
        self.tokens.read().ok()?.get(token).cloned()
    }

    /// Remembers a verified token; `now` (Unix seconds) decides which entries are expired.
    pub fn insert(&self, token: &str, claims: Arc<Claims>, now: i64) {
        let Ok(mut tokens) = self.tokens.write() else {
            return;
        };
        if tokens.len() >= CAPACITY {
            tokens.retain(|_, c| c.exp >= now);
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), claims);
    }

    /// Tokens remembered.
    pub fn len(&self) -> usize {
        self.tokens.read().map_or(0, |t| t.len())
    }

    /// Nothing remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Arc<Claims> {
        Arc::new(Claims {
            sub: "u".into(),
            jti: format!("j{exp}"),
            iat: 0,
            iat_ms: 0,
            exp,
            role: "user".into(),
        })
    }

    #[test]
    fn only_the_exact_token_is_found() {
        let verified = Verified::default();
        verified.insert("a.b.c", claims(10), 0);
        assert_eq!(verified.get("a.b.c").map(|c| c.exp), Some(10));
        assert!(verified.get("a.b.d").is_none());
        assert!(verified.get("a.b.").is_none());
    }

    #[test]
    fn a_full_map_drops_expired_tokens_first_and_never_grows_past_capacity() {
        let verified = Verified::default();
        for i in 0..CAPACITY {
            let exp = if i % 2 == 0 { 5 } else { 100 };
            verified.insert(&format!("t{i}"), claims(exp), 0);
        }
        assert_eq!(verified.len(), CAPACITY);
        verified.insert("fresh", claims(100), 50);
        assert_eq!(verified.len(), CAPACITY / 2 + 1);
        assert!(verified.get("t1").is_some(), "live tokens are kept");
        assert!(verified.get("t0").is_none(), "expired tokens are dropped");
        for i in 0..CAPACITY {
            verified.insert(&format!("u{i}"), claims(100), 50);
        }
        assert!(verified.len() <= CAPACITY);
    }
}
