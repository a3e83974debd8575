//! The response-wide faults (`invalid-input-500`, `plain-errors`): they rewrite whatever answer
//! the router produced, framework rejections included, so they sit outside every route as one
//! layer, added only when one of them is on.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// Adds the response-fault layer when a response-wide fault is switched on; a correct server
/// does not pay for it on every request.
pub fn layer(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    if state.faults.invalid_input_500 || state.faults.plain_errors {
        router.layer(middleware::from_fn_with_state(
            state.clone(),
            response_faults,
        ))
    } else {
        router
    }
}

/// Response-wide injected faults (`invalid-input-500`, `plain-errors`); see
/// [`layer`].
pub async fn response_faults(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let response = if state.faults.invalid_input_500
        && response.status() == StatusCode::UNPROCESSABLE_ENTITY
    {
        AppError::Internal("injected fault: invalid-input-500".into()).into_response()
    } else {
        response
    };
    if state.faults.plain_errors
        && (response.status().is_client_error() || response.status().is_server_error())
    {
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Response::from_parts(parts, axum::body::Body::from("error"));
    }
    response
}
