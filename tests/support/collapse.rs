//! A server that collapses under load, for the `perf.load` check: it serves `/health` and the
//! `me` path one request at a time (a semaphore of 1 and a sleep, like a backend with a single
//! database connection), and after `limit` requests it stops answering anything at all (a
//! request hangs forever). With no delay and no limit it is the trivial endpoint the load
//! phase's rate is compared with wrk's on.

use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct Collapse {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Collapse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct State {
    served: AtomicU64,
    limit: u64,
    delay: Duration,
    one: Semaphore,
}

async fn answer(state: Arc<State>) -> axum::Json<serde_json::Value> {
    if state.served.fetch_add(1, Ordering::Relaxed) >= state.limit {
        std::future::pending::<()>().await;
    }
    if !state.delay.is_zero() {
        let _one = state.one.acquire().await;
        tokio::time::sleep(state.delay).await;
    }
    axum::Json(serde_json::json!({ "status": "ok" }))
}

pub async fn serve(limit: u64, delay: Duration) -> Collapse {
    let state = Arc::new(State {
        served: AtomicU64::new(0),
        limit,
        delay,
        one: Semaphore::new(1),
    });
    let s = Arc::clone(&state);
    let router = Router::new()
        .route("/health", get(move || answer(Arc::clone(&s))))
        .route("/api/v1/auth/me", get(move || answer(Arc::clone(&state))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Collapse {
        url: format!("http://{addr}"),
        task,
    }
}
