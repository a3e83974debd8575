//! The in-process cache: the embedded default, for one instance.
//!
//! It can be switched off ([`InMemoryCache::set_available`]) so that tests and the demo can
//! show what the server does when its cache tier is lost, without a Redis to kill.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;

use super::{ActiveCall, Cache, CacheError, RevocationView};

/// The in-process implementation.
#[derive(Debug)]
pub struct InMemoryCache {
    jtis: RwLock<HashMap<String, i64>>,
    cutoffs: RwLock<HashMap<String, i64>>,
    epoch: RwLock<Option<String>>,
    /// Active calls: call id → session id (if any).
    calls: RwLock<HashMap<String, Option<String>>>,
    /// Session id → its active call.
    session_calls: RwLock<HashMap<String, String>>,
    available: AtomicBool,
}

impl Default for InMemoryCache {
    fn default() -> Self {
        InMemoryCache {
            jtis: RwLock::default(),
            cutoffs: RwLock::default(),
            epoch: RwLock::default(),
            calls: RwLock::default(),
            session_calls: RwLock::default(),
            available: AtomicBool::new(true),
        }
    }
}

fn poisoned<T>(_: T) -> CacheError {
    CacheError("lock poisoned".into())
}

impl InMemoryCache {
    /// Simulates an outage (`false`: every call fails, and the contents are lost, as when a
    /// Redis without persistence restarts) and the return of the tier (`true`).
    pub fn set_available(&self, available: bool) {
        if !available {
            if let Ok(mut j) = self.jtis.write() {
                j.clear();
            }
            if let Ok(mut c) = self.cutoffs.write() {
                c.clear();
            }
            if let Ok(mut e) = self.epoch.write() {
                *e = None;
            }
            if let Ok(mut c) = self.calls.write() {
                c.clear();
            }
            if let Ok(mut s) = self.session_calls.write() {
                s.clear();
            }
        }
        self.available.store(available, Ordering::SeqCst);
    }

    fn up(&self) -> Result<(), CacheError> {
        if self.available.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(CacheError("in-process cache switched off".into()))
        }
    }
}

impl Cache for InMemoryCache {
    fn revoke_jti<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.up()?;
            let mut jtis = self.jtis.write().map_err(poisoned)?;
            let now = chrono::Utc::now().timestamp();
            jtis.retain(|_, exp| *exp >= now);
            jtis.insert(jti.to_owned(), expires_at);
            Ok(())
        })
    }

    fn set_user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
        cutoff_ms: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.up()?;
            let mut cutoffs = self.cutoffs.write().map_err(poisoned)?;
            let entry = cutoffs.entry(user_id.to_owned()).or_insert(cutoff_ms);
            *entry = (*entry).max(cutoff_ms);
            Ok(())
        })
    }

    fn view<'a>(
        &'a self,
        jti: Option<&'a str>,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RevocationView, CacheError>> {
        Box::pin(async move {
            self.up()?;
            let jti_revoked = match jti {
                Some(jti) => self.jtis.read().map_err(poisoned)?.contains_key(jti),
                None => false,
            };
            Ok(RevocationView {
                jti_revoked,
                cutoff_ms: self.cutoffs.read().map_err(poisoned)?.get(user_id).copied(),
                epoch: self.epoch.read().map_err(poisoned)?.clone(),
            })
        })
    }

    fn set_epoch<'a>(&'a self, epoch: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.up()?;
            *self.epoch.write().map_err(poisoned)? = Some(epoch.to_owned());
            Ok(())
        })
    }

    fn clear_epoch(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            self.up()?;
            *self.epoch.write().map_err(poisoned)? = None;
            Ok(())
        })
    }

    fn put_calls<'a>(&'a self, calls: &'a [ActiveCall]) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.up()?;
            let mut by_call = self.calls.write().map_err(poisoned)?;
            let mut by_session = self.session_calls.write().map_err(poisoned)?;
            for call in calls {
                by_call.insert(call.call_id.clone(), call.session_id.clone());
                if let Some(session) = &call.session_id {
                    by_session.insert(session.clone(), call.call_id.clone());
                }
            }
            Ok(())
        })
    }

    fn remove_call<'a>(&'a self, call: &'a ActiveCall) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.up()?;
            self.calls.write().map_err(poisoned)?.remove(&call.call_id);
            if let Some(session) = &call.session_id {
                let mut by_session = self.session_calls.write().map_err(poisoned)?;
                if by_session.get(session) == Some(&call.call_id) {
                    by_session.remove(session);
                }
            }
            Ok(())
        })
    }

    fn call_session<'a>(
        &'a self,
        call_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Option<String>>, CacheError>> {
        Box::pin(async move {
            self.up()?;
            Ok(self.calls.read().map_err(poisoned)?.get(call_id).cloned())
        })
    }

    fn session_call<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        Box::pin(async move {
            self.up()?;
            Ok(self
                .session_calls
                .read()
                .map_err(poisoned)?
                .get(session_id)
                .cloned())
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move { self.up() })
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}
