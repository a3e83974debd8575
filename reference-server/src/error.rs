//! The one error type of the HTTP surface, rendered as RFC 9457 problem documents.
//!
//! Handlers return `Result<_, AppError>`; every 4xx/5xx body is therefore
//! `application/problem+json` with `type`, `title`, `status`, `detail`, `instance` and
//! `correlation_id`. Internal details are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::request_context;

/// Content type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: unparseable JSON, a wrong content type, a bad parameter.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: no token, or an invalid, expired or revoked one; bad credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: authenticated but refused (e.g. a webhook whose signature does not verify).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: nothing the caller may see.
    #[error("not found: {0}")]
    NotFound(String),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 415: a request body that is not JSON by its content type.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 409: the resource's state forbids the operation.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 422: well-formed JSON that breaks the schema.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// 429: the failed sign-in budget is used up; retry after the given seconds.
    #[error("too many requests: retry after {}s", .0.retry_after)]
    TooManyRequests(crate::hardening::login_limit::Blocked),
    /// 503: a dependency is down.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: logged in full, sent as a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The one place storage failures become HTTP errors: an unreachable database is a 503 (the
/// client may retry), a unique violation a 409, anything else a logged 500.
impl From<crate::store::StoreError> for AppError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::Duplicate => AppError::Conflict("the resource already exists".into()),
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::Unavailable("the database is unavailable".into())
            }
            e => AppError::Internal(format!("store: {e}")),
        }
    }
}

impl From<crate::cache::CacheError> for AppError {
    fn from(err: crate::cache::CacheError) -> Self {
        AppError::Internal(format!("cache: {err}"))
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// A URI reference identifying the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request's correlation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl AppError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::MethodNotAllowed => "method-not-allowed",
            AppError::UnsupportedMediaType(_) => "unsupported-media-type",
            AppError::Conflict(_) => "conflict",
            AppError::Unprocessable(_) => "validation-error",
            AppError::TooManyRequests(_) => "too-many-requests",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal-error",
        }
    }

    /// The detail that may be shown to the client.
    fn public_detail(&self) -> String {
        match self {
            AppError::BadRequest(d)
            | AppError::Unauthorized(d)
            | AppError::Forbidden(d)
            | AppError::NotFound(d)
            | AppError::Conflict(d)
            | AppError::UnsupportedMediaType(d)
            | AppError::Unprocessable(d)
            | AppError::Unavailable(d) => d.clone(),
            AppError::MethodNotAllowed => "the method is not allowed on this resource".into(),
            AppError::TooManyRequests(b) => format!(
                "too many failed sign-ins for this account; retry in {} seconds",
                b.retry_after
            ),
            AppError::Internal(_) => "an internal error occurred".into(),
        }
    }

    /// The problem document of this error in the current request context.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let context = request_context::current();
        Problem {
            kind: format!("/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.public_detail(),
            instance: context.as_ref().map(|c| c.path.clone()),
            correlation_id: context.map(|c| c.correlation_id),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            AppError::Unavailable(detail) => tracing::warn!(%detail, "dependency unavailable"),
            other => tracing::debug!(error = %other, "request rejected"),
        }
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let AppError::TooManyRequests(blocked) = &self {
            let headers = response.headers_mut();
            let retry = HeaderValue::from(blocked.retry_after);
            headers.insert(header::RETRY_AFTER, retry.clone());
            headers.insert("x-ratelimit-limit", HeaderValue::from(blocked.limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
            headers.insert("x-ratelimit-reset", retry);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"voice\""),
            );
        }
        response
    }
}
