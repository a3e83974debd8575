//! The security-header layer as a plain tower service.
//!
//! It runs on every response, so it is written as a [`tower::Layer`] rather than with
//! `axum::middleware::from_fn`: that helper clones the wrapped service (a boxed route) and
//! boxes a future on every request, work that `GET /health` itself does not need. Here the
//! call goes straight to the inner service and the headers are added as its future completes.

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::FutureExt as _;
use futures_util::future::Map;
use tower::{Layer, Service};

/// Adds the confining headers (and HSTS when `hsts`) to every response.
#[derive(Debug, Clone, Copy)]
pub struct SecurityHeadersLayer {
    /// Send `Strict-Transport-Security`.
    pub hsts: bool,
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            hsts: self.hsts,
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    hsts: bool,
}

type Finish<E> = fn(Result<Response, E>) -> Result<Response, E>;

impl<S> Service<Request> for SecurityHeaders<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Map<S::Future, Finish<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let finish: Finish<S::Error> = if self.hsts {
            |result| result.map(|response| confine(response, true))
        } else {
            |result| result.map(|response| confine(response, false))
        };
        self.inner.call(request).map(finish)
    }
}

/// Adds the headers browsers use to confine a response, and removes any `Server` header.
fn confine(mut response: Response, hsts: bool) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.remove(header::SERVER);
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
