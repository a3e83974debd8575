//! `/api/v1/auth/*`: register, login, rotating refresh with reuse detection, logout,
//! logout-all, me.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{password, refresh as refresh_tokens};
use crate::domain::Role;
use crate::error::AppError;
use crate::extract::{AppJson, AuthUser, Validate, check_len, valid_email};
use crate::hardening::Peer;
use crate::state::AppState;
use crate::store::{StoreError, UserRow, now};

/// Accounts and tokens.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/logout-all", post(logout_all))
        .route("/api/v1/auth/me", get(me))
}

/// `RegisterRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    email: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

impl Validate for RegisterRequest {
    fn validate(&self) -> Result<(), String> {
        check_len("email", &self.email, 3, 254)?;
        if !valid_email(&self.email) {
            return Err("email is not a valid email address".into());
        }
        check_len("password", &self.password, 10, 128)?;
        if let Some(name) = &self.display_name {
            check_len("display_name", name, 1, 100)?;
        }
        Ok(())
    }
}

/// `LoginRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
}

impl Validate for LoginRequest {
    fn validate(&self) -> Result<(), String> {
        check_len("email", &self.email, 3, 254)?;
        if !valid_email(&self.email) {
            return Err("email is not a valid email address".into());
        }
        check_len("password", &self.password, 1, 128)
    }
}

/// `RefreshRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

impl Validate for RefreshRequest {
    fn validate(&self) -> Result<(), String> {
        check_len("refresh_token", &self.refresh_token, 1, 4096)
    }
}

/// `User` of the contract (never the password hash).
#[derive(Debug, Serialize)]
struct UserView {
    id: Uuid,
    email: String,
    display_name: String,
    role: Role,
    created_at: DateTime<Utc>,
}

impl From<&UserRow> for UserView {
    fn from(user: &UserRow) -> Self {
        UserView {
            id: user.id,
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.clone(),
            created_at: user.created_at,
        }
    }
}

/// `AuthResponse`: a token pair and its user.
#[derive(Debug, Serialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    user: UserView,
}

/// Issues an access token and a refresh token of `family` (a new family when `None`).
async fn issue_pair(
    state: &AppState,
    user: &UserRow,
    family: Option<String>,
) -> Result<TokenPair, AppError> {
    let mut claims = state.tokens.claims_for(user.id, user.role.as_str());
    // Never inside a revocation cut-off of the same millisecond (no sleep needed to order them).
    let floor = state
        .revocations
        .issue_floor(user.id)
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    claims.iat_ms = claims.iat_ms.max(floor);
    let access = state
        .tokens
        .encode(&claims)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let refresh = refresh_tokens::generate();
    let family = family.unwrap_or_else(|| Uuid::new_v4().to_string());
    // Issued at the access token's (floored) instant, so a cut-off of the same millisecond
    // does not cover it either.
    let issued_ms = claims.iat_ms.max(chrono::Utc::now().timestamp_millis());
    let ttl = i64::try_from(state.config.refresh_ttl.as_secs()).unwrap_or(i64::MAX);
    state
        .store
        .insert_refresh_token(
            &refresh_tokens::hash(&refresh),
            user.id,
            &family,
            issued_ms,
            issued_ms.div_euclid(1000).saturating_add(ttl),
        )
        .await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl.as_secs().max(1),
        user: UserView::from(user),
    })
}

/// `POST /api/v1/auth/register`.
async fn register(
    State(state): State<AppState>,
    AppJson(req): AppJson<RegisterRequest>,
) -> Result<(StatusCode, Json<TokenPair>), AppError> {
    let email = req.email.trim().to_lowercase();
    let display_name = req
        .display_name
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let user = UserRow {
        id: Uuid::new_v4(),
        password_hash: password::hash(req.password, state.config.password_hashing).await?,
        email,
        display_name,
        role: Role::User,
        created_at: now(),
    };
    match state.store.insert_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Duplicate) => {
            return Err(AppError::Conflict("the email is already registered".into()));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_id = %user.id, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(issue_pair(&state, &user, None).await?),
    ))
}

/// `POST /api/v1/auth/login`.
/// Wrong passwords count against the account's budget from this peer (see
/// [`crate::hardening::login_limit`]); once it is used up every attempt gets 429, right or wrong.
async fn login(
    State(state): State<AppState>,
    peer: Peer,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Json<TokenPair>, AppError> {
    let email = req.email.trim().to_lowercase();
    let limiter = &state.login_limiter;
    limiter
        .check(&email, peer)
        .await
        .map_err(AppError::TooManyRequests)?;
    let bad = || async {
        limiter.record_failure(&email, peer).await;
        AppError::Unauthorized("invalid email or password".into())
    };
    let user = state.store.user_by_email(&email).await?;
    let Some(user) = user else {
        // Same cost as a real check, so response time does not reveal which emails exist.
        let dummy =
            password::hash("not-a-real-password".into(), state.config.password_hashing).await?;
        let _ = password::verify(req.password, dummy).await;
        return Err(bad().await);
    };
    if !password::verify(req.password, user.password_hash.clone()).await? {
        return Err(bad().await);
    }
    limiter.record_success(&email, peer).await;
    Ok(Json(issue_pair(&state, &user, None).await?))
}

/// `POST /api/v1/auth/refresh`: single use; a reused token revokes everything of the user.
async fn refresh(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<Json<TokenPair>, AppError> {
    let invalid = || AppError::Unauthorized("the refresh token is invalid".into());
    let hash = refresh_tokens::hash(&req.refresh_token);
    let row = state
        .store
        .refresh_token(&hash)
        .await?
        .ok_or_else(invalid)?;
    if row.revoked || row.expires_at < chrono::Utc::now().timestamp() {
        return Err(invalid());
    }
    if row.used || !state.store.consume_refresh_token(&hash).await? {
        tracing::warn!(user_id = %row.user_id, family = %row.family, "refresh token reuse: revoking every token of the user");
        state.revocations.revoke_user(row.user_id).await?;
        return Err(AppError::Unauthorized(
            "the refresh token was already used; every session has been revoked".into(),
        ));
    }
    let cutoff = state
        .revocations
        .user_cutoff(row.user_id)
        .await
        .map_err(|_| AppError::Unauthorized("the refresh token could not be verified".into()))?;
    if cutoff.is_some_and(|c| row.created_at_ms <= c) {
        return Err(invalid());
    }
    let user = state
        .store
        .user_by_id(row.user_id)
        .await?
        .ok_or_else(invalid)?;
    Ok(Json(issue_pair(&state, &user, Some(row.family)).await?))
}

/// `POST /api/v1/auth/logout`: revokes the presented access token.
async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, AppError> {
    state.revocations.revoke_token(&auth.claims, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/auth/logout-all`: revokes every token of the user issued up to now.
async fn logout_all(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, AppError> {
    state.revocations.revoke_user(auth.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/auth/me`.
async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<Json<UserView>, AppError> {
    let user = state
        .store
        .user_by_id(auth.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the user no longer exists".into()))?;
    Ok(Json(UserView::from(&user)))
}
