//! Per-request context (correlation id, path) and the middleware that sets it.
//!
//! A task-local lets [`crate::AppError`] put the correlation id and the request path into
//! every problem document without threading them through each handler.

use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use futures_util::FutureExt as _;
use futures_util::future::{Join, Map, Ready, join, ready};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

/// The header carrying the correlation id, in and out.
pub static CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// What is known about the request being served.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// From `X-Correlation-ID`, or generated.
    pub correlation_id: String,
    /// The request path (never the query, which may carry a token).
    pub path: String,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The context of the request this task serves, if any.
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `f` on the context of the request this task serves, if any, without copying it.
pub fn with_current<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
    CURRENT.try_with(f).ok()
}

/// Runs `f` as if serving a request with `context` (tests of what reads the context).
#[cfg(test)]
pub(crate) fn sync_scope<R>(context: RequestContext, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(context, f)
}

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// A fresh correlation id: a random (v4) UUID from the thread's generator, which, unlike
/// `Uuid::new_v4`, costs no system call per request.
fn generated_id() -> HeaderValue {
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Accepts or generates the correlation id, echoes it, scopes logs and problem bodies to it,
/// and logs one access line per request.
///
/// No tracing span per request: the log formatter ([`crate::telemetry`]) reads the task-local
/// context instead, which costs nothing when nothing is logged.
///
/// A plain tower layer rather than `axum::middleware::from_fn`, which clones the wrapped
/// service and boxes a future on every request: this runs on every request, so its own cost
/// is part of every figure in `bench/hot-path.sh`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CorrelationLayer;

impl<S> Layer<S> for CorrelationLayer {
    type Service = Correlation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Correlation { inner }
    }
}

/// The service of [`CorrelationLayer`].
#[derive(Debug, Clone)]
pub struct Correlation<S> {
    inner: S,
}

/// What is left to do once the response is there.
#[derive(Debug)]
pub struct Served {
    id: HeaderValue,
    method: axum::http::Method,
    uri: axum::http::Uri,
    started: Instant,
}

type Output<E> = (Served, Result<Response, E>);

/// [`finish`], as a nameable function pointer.
type Finish<E> = fn(Output<E>) -> Result<Response, E>;

/// The future of [`Correlation`]: the inner call inside the request's span and task-local
/// context, joined with what [`finish`] needs (so that no closure has to be named).
pub type CorrelationFuture<F, E> =
    Map<Join<Ready<Served>, TaskLocalFuture<RequestContext, F>>, Finish<E>>;

impl<S> Service<Request> for Correlation<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = CorrelationFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = match request.headers().get(&CORRELATION_ID) {
            Some(sent) if sent.to_str().is_ok_and(acceptable) => sent.clone(),
            _ => {
                let id = generated_id();
                request
                    .headers_mut()
                    .insert(CORRELATION_ID.clone(), id.clone());
                id
            }
        };
        // Checked above (or generated): visible ASCII.
        let context = RequestContext {
            correlation_id: id.to_str().unwrap_or_default().to_owned(),
            path: request.uri().path().to_owned(),
        };
        let served = Served {
            id,
            method: request.method().clone(),
            uri: request.uri().clone(),
            started: Instant::now(),
        };
        let inner = CURRENT.scope(context, self.inner.call(request));
        let finish: Finish<S::Error> = finish;
        join(ready(served), inner).map(finish)
    }
}

/// Logs the request and echoes the correlation id.
fn finish<E>((served, result): Output<E>) -> Result<Response, E> {
    result.map(|mut response| {
        tracing::info!(
            method = served.method.as_str(),
            path = served.uri.path(),
            correlation_id = served.id.to_str().unwrap_or_default(),
            status = response.status().as_u16(),
            // Whole microseconds: a short number in the line.
            latency_ms = served.started.elapsed().as_micros() as f64 / 1000.0,
            "request served"
        );
        response
            .headers_mut()
            .insert(CORRELATION_ID.clone(), served.id);
        response
    })
}
