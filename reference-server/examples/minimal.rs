//! The yardstick of `bench/hot-path.sh`: the smallest axum server that answers `GET /health`
//! with a JSON body of the same shape as the reference server's, on the same tokio runtime
//! defaults (`#[tokio::main]`, one worker per core) and the same `axum::serve`.
//!
//! The hot-path targets of the reference server are ratios to this server's requests per
//! second, measured in the same run on the same machine, so that the machine's speed and load
//! cancel out. Usage: `minimal [ADDR]` (default `127.0.0.1:8001`).

use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8001".to_owned());
    let started = Instant::now();
    let app = Router::new()
        .route("/health", get(health))
        .with_state(started);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn health(State(started): State<Instant>) -> axum::Json<Value> {
    axum::Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": started.elapsed().as_secs_f64(),
    }))
}
