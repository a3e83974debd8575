//! Starting and stopping the server: the API embedders (the `voice-audit` CLI, tests) call.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::routes::app;
use crate::settings::Settings;
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The JWT key could not be loaded or generated.
    #[error("jwt key: {0}")]
    Token(#[from] crate::auth::TokenError),
    /// The bundled contract could not be parsed.
    #[error("bundled contract: {0}")]
    Contract(String),
    /// The settings contradict each other.
    #[error("configuration: {0}")]
    Config(String),
    /// The cache tier could not be opened (a malformed URL; an unreachable Redis is not fatal).
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// An unknown fault name.
    #[error(transparent)]
    Fault(#[from] crate::faults::UnknownFault),
    /// Serving failed.
    #[error("server: {0}")]
    Serve(#[from] std::io::Error),
}

/// A bound, not yet serving, server.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
}

impl Application {
    /// Binds `settings.addr` (port 0 allowed), opens the database and prepares the state.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        let listener =
            TcpListener::bind(settings.addr)
                .await
                .map_err(|source| StartError::Bind {
                    addr: settings.addr,
                    source,
                })?;
        let addr = listener.local_addr()?;
        let state = AppState::build(&settings, Some(addr)).await?;
        if !settings.faults.is_none() {
            tracing::warn!(faults = %settings.faults, "FAULTS INJECTED: this server is deliberately broken");
        }
        Ok(Application {
            listener,
            addr,
            state,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (e.g. to flip provider health in tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until ctrl-c or SIGTERM, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> Result<(), StartError> {
        self.run_with_shutdown(os_signal()).await
    }

    /// Serves until `signal` resolves, then shuts down gracefully (open sockets get 1001).
    pub async fn run_with_shutdown<F>(self, signal: F) -> Result<(), StartError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Application {
            listener,
            addr,
            state,
        } = self;
        tracing::info!(%addr, "listening");
        let on_stop = state.clone();
        let router = app(state.clone());
        // Small real-time frames must leave at once, not wait for Nagle's algorithm.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!("cannot set TCP_NODELAY: {e}");
            }
        });
        // The peer address keys the failed-login budget (never a client-sent header).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                signal.await;
                tracing::info!("shutting down");
                on_stop.begin_shutdown();
            })
            .await?;
        state.store.close().await;
        Ok(())
    }

    /// Serves in a background task; the handle stops it (explicitly or on drop).
    pub fn spawn(self) -> ServerHandle {
        let addr = self.addr;
        let state = self.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(self.run_with_shutdown(async move {
            let _ = rx.await;
        }));
        ServerHandle {
            addr,
            state,
            stop: Some(tx),
            task: Some(task),
        }
    }
}

/// A server running in the background.
pub struct ServerHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), StartError>>>,
}

impl ServerHandle {
    /// `http://addr`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://addr`.
    pub fn ws_base_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Stops gracefully and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
                Err(e) => tracing::error!(error = %e, "server task failed"),
                Ok(Ok(())) => {}
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn os_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
