//! Extractors whose every rejection is an [`AppError`] problem document.
//!
//! * [`AppJson`]: 415 for a body that is not JSON by its content type, 400 for unparseable
//!   JSON, 422 for JSON that breaks the schema: an explicit `null` for a field that is not
//!   nullable (serde would read it as "absent"), then the serde shape (unknown fields denied
//!   where the contract says `additionalProperties: false`), then [`Validate`] (lengths,
//!   bounds, formats).
//! * [`AuthUser`]: the verified, unrevoked bearer token (401 otherwise).
//! * [`SessionId`]: a UUID path parameter (400 otherwise).

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::revocation::RevocationError;
use crate::auth::{Claims, TokenError};
use crate::error::AppError;
use crate::state::AppState;

/// Hand-written schema rules serde cannot express (lengths, formats, enums).
pub trait Validate {
    /// `Err(detail)` when the value breaks the schema.
    fn validate(&self) -> Result<(), String>;

    /// Top-level fields the contract marks nullable; an explicit `null` anywhere else is
    /// refused (none by default: no request field of the contract is nullable).
    fn nullable_fields() -> &'static [&'static str] {
        &[]
    }
}

/// The first top-level member that is an explicit `null` where
/// the contract does not allow one.
fn explicit_null(value: &serde_json::Value, nullable: &[&str]) -> Option<String> {
    let object = value.as_object()?;
    for (name, field) in object {
        if nullable.contains(&name.as_str()) {
            continue;
        }
        if field.is_null() {
            return Some(name.clone());
        }
    }
    None
}

/// A JSON body checked against its schema.
#[derive(Debug, Clone)]
pub struct AppJson<T>(pub T);

fn is_json_content_type(parts: &axum::http::HeaderMap) -> bool {
    parts
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

impl<S, T> FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("cannot read body: {e}")))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| AppError::BadRequest(format!("invalid JSON: {e}")))?;
        if !value.is_object() {
            return Err(AppError::Unprocessable(
                "the body must be a JSON object".into(),
            ));
        }
        if let Some(field) = explicit_null(&value, T::nullable_fields()) {
            return Err(AppError::Unprocessable(format!(
                "{field} must not be null (omit it instead)"
            )));
        }
        let parsed: T =
            serde_json::from_value(value).map_err(|e| AppError::Unprocessable(e.to_string()))?;
        parsed.validate().map_err(AppError::Unprocessable)?;
        Ok(AppJson(parsed))
    }
}

/// The bearer token from `Authorization`.
pub fn bearer_token(parts: &axum::http::HeaderMap) -> Option<&str> {
    let value = parts.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The verified claims.
    pub claims: Claims,
    /// `claims.sub` as a UUID.
    pub user_id: Uuid,
}

/// Verifies a raw token: signature, algorithm, expiry, then revocation (fail closed).
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, AppError> {
    let claims = state.tokens.decode(token).map_err(|e| match e {
        TokenError::Expired => AppError::Unauthorized("the token has expired".into()),
        _ => AppError::Unauthorized("the token is invalid".into()),
    })?;
    let user_id = claims
        .user_id()
        .map_err(|_| AppError::Unauthorized("the token is invalid".into()))?;
    match state.revocations.check(&claims).await {
        Ok(()) => Ok(AuthUser { claims, user_id }),
        Err(RevocationError::Revoked) => {
            Err(AppError::Unauthorized("the token has been revoked".into()))
        }
        Err(RevocationError::Unavailable(detail)) => {
            tracing::error!(%detail, "revocation state unavailable; refusing token");
            Err(AppError::Unauthorized(
                "the token could not be verified".into(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| AppError::Unauthorized("missing bearer token".into()))?;
        authenticate(state, token).await
    }
}

/// The `session_id` path parameter.
#[derive(Debug, Clone, Copy)]
pub struct SessionId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("bad path parameter: {e}")))?;
        Uuid::parse_str(&raw)
            .map(SessionId)
            .map_err(|_| AppError::BadRequest("session_id must be a UUID".into()))
    }
}

/// Checks an email address the way the contract's `format: email` means it.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Length in characters between `min` and `max`.
pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n < min {
        Err(format!("{field} must be at least {min} characters"))
    } else if n > max {
        Err(format!("{field} must be at most {max} characters"))
    } else {
        Ok(())
    }
}
