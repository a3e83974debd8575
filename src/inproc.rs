//! The reference server run inside the auditor's process, restartable on the same database and
//! port, with its in-process cache switchable: what lets `voice-audit demo` (and the tests)
//! assess recovery after a restart and a cache outage through the same hooks a real deployment
//! gets from `--restart-cmd` and `--cache-down-cmd`/`--cache-up-cmd`.

use crate::error::AuditError;
use crate::probe::hook::{CallbackHook, SharedHook};
use crate::probe::recovery::Hooks;
use futures_util::FutureExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use voice_reference_server::{Application, ServerHandle, Settings};

pub struct InProcessServer {
    /// The settings the next start uses (the bound address once started).
    settings: Mutex<Settings>,
    handle: Mutex<Option<ServerHandle>>,
    base_url: String,
}

fn server_error(e: impl std::fmt::Display) -> AuditError {
    AuditError::Server(e.to_string())
}

impl InProcessServer {
    /// Starts the server; `settings.jwt_key_file` should be set, or tokens die with a restart.
    pub async fn start(mut settings: Settings) -> Result<Arc<InProcessServer>, AuditError> {
        let app = Application::build(settings.clone())
            .await
            .map_err(server_error)?;
        settings.addr = app.local_addr();
        let handle = app.spawn();
        Ok(Arc::new(InProcessServer {
            base_url: handle.base_url(),
            settings: Mutex::new(settings),
            handle: Mutex::new(Some(handle)),
        }))
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Changes the settings the next restart uses (tests: a server that forgets its database).
    pub async fn on_next_start(&self, change: impl FnOnce(&mut Settings)) {
        change(&mut *self.settings.lock().await);
    }

    /// Stops the server and starts it again on the same address and database.
    pub async fn restart(&self) -> Result<(), String> {
        let mut handle = self.handle.lock().await;
        if let Some(h) = handle.take() {
            h.shutdown().await;
        }
        let settings = self.settings.lock().await.clone();
        // The port was just released; binding it again can race the old listener's close.
        let mut last = String::new();
        for _ in 0..50 {
            match Application::build(settings.clone()).await {
                Ok(app) => {
                    *handle = Some(app.spawn());
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("the server did not start again: {last}"))
    }

    /// Switches the in-process cache tier off or on; `Err` when the server has none (Redis).
    pub async fn set_cache(&self, available: bool) -> Result<(), String> {
        let handle = self.handle.lock().await;
        let cache = handle
            .as_ref()
            .and_then(|h| h.state.in_process_cache.clone())
            .ok_or("the server has no in-process cache to switch")?;
        cache.set_available(available);
        Ok(())
    }

    /// Whether the cache tier is the in-process one (the cache hooks can switch it).
    pub async fn has_in_process_cache(&self) -> bool {
        let handle = self.handle.lock().await;
        handle
            .as_ref()
            .is_some_and(|h| h.state.in_process_cache.is_some())
    }

    /// The restart hook, and the cache hooks when the cache is in-process.
    pub async fn hooks(self: &Arc<Self>, ready_timeout: Duration) -> Hooks {
        let me = Arc::clone(self);
        let restart: SharedHook =
            CallbackHook::shared("restart the in-process server", move || {
                let me = Arc::clone(&me);
                async move { me.restart().await }.boxed()
            });
        let cache = |available: bool| -> SharedHook {
            let me = Arc::clone(self);
            let label = if available {
                "switch the in-process cache on"
            } else {
                "switch the in-process cache off"
            };
            CallbackHook::shared(label, move || {
                let me = Arc::clone(&me);
                async move { me.set_cache(available).await }.boxed()
            })
        };
        let in_process = self.has_in_process_cache().await;
        Hooks {
            restart: Some(restart),
            cache_down: in_process.then(|| cache(false)),
            cache_up: in_process.then(|| cache(true)),
            ready_timeout,
        }
    }

    pub async fn shutdown(&self) {
        if let Some(h) = self.handle.lock().await.take() {
            h.shutdown().await;
        }
    }
}
