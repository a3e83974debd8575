//! `cache-fail-open` as a decorator around the cache tier: when the tier fails, a revocation
//! lookup answers "nothing revoked, and the cache is complete" instead of an error, so a token
//! revoked before the outage is accepted again. This is the defect an auditor's cache-outage
//! check must catch: a two-tier store that trusts its fast tier even when it is gone. Every
//! other call (writes, the readiness ping) passes through, so `/ready` still tells the truth.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::cache::{ActiveCall, Cache, CacheError, RevocationView};

/// `inner`, failing open on revocation lookups.
pub fn fail_open(inner: Arc<dyn Cache>) -> Arc<dyn Cache> {
    Arc::new(FailOpen { inner })
}

struct FailOpen {
    inner: Arc<dyn Cache>,
}

impl Cache for FailOpen {
    fn revoke_jti<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.revoke_jti(jti, expires_at)
    }

    fn set_user_cutoff<'a>(
        &'a self,
        user_id: &'a str,
        cutoff_ms: i64,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.set_user_cutoff(user_id, cutoff_ms)
    }

    fn view<'a>(
        &'a self,
        jti: Option<&'a str>,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RevocationView, CacheError>> {
        Box::pin(async move {
            match self.inner.view(jti, user_id).await {
                Ok(view) => Ok(view),
                // The defect: an unreachable tier is read as "complete and empty".
                Err(_) => Ok(RevocationView {
                    jti_revoked: false,
                    cutoff_ms: None,
                    epoch: Some("fail-open".into()),
                }),
            }
        })
    }

    fn set_epoch<'a>(&'a self, epoch: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.set_epoch(epoch)
    }

    fn clear_epoch(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        self.inner.clear_epoch()
    }

    fn put_calls<'a>(&'a self, calls: &'a [ActiveCall]) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.put_calls(calls)
    }

    fn remove_call<'a>(&'a self, call: &'a ActiveCall) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.remove_call(call)
    }

    fn call_session<'a>(
        &'a self,
        call_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Option<String>>, CacheError>> {
        self.inner.call_session(call_id)
    }

    fn session_call<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        self.inner.session_call(session_id)
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        self.inner.ping()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
