//! The reference server's router behind a test-only layer: deployments that misbehave in ways
//! the server has no fault for (refusing every switch, closing every stream at once), built
//! here so the server itself stays free of test knobs.

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use voice_reference_server::{Application, Settings};

/// A layered server running in the background; dropping it stops it.
pub struct Layered {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Layered {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the reference router wrapped by `layer` (an `axum::middleware::from_fn` function).
pub async fn serve<F, Fut>(layer: F) -> Layered
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("server.db").display()
    );
    let app = Application::build(Settings::ephemeral(database))
        .await
        .expect("server starts");
    // The state knows its address (the published contract names it); the application's own
    // listener is released and the same port served through the layer instead.
    let addr = app.local_addr();
    let state = app.state().clone();
    drop(app);
    // An outer router whose fallback is the whole reference app: the layer runs before the
    // reference app routes, so it may rewrite paths.
    let router: Router = Router::new()
        .fallback_service(voice_reference_server::app(state))
        .layer(axum::middleware::from_fn(layer));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Layered {
        url: format!("http://{addr}"),
        task,
        _dir: dir,
    }
}
