//! Authentication scenarios: token lifecycle (issue, use, rotate, reuse detection, forged
//! tokens), revocation on logout measured on REST and on an open WebSocket at once, and
//! cross-user isolation with a second, throwaway user.

use super::client::{Body, Reply};
use super::{Credentials, Ctx, auth, ws};
use serde_json::json;
use std::time::{Duration, Instant};

const SCENARIO: &str = "auth";

#[derive(Debug, Clone, Default)]
pub struct AuthObservation {
    /// (step, reply) of the lifecycle, in order; `None` when it needs a throwaway user.
    pub lifecycle: Option<Vec<(String, Reply)>>,
    pub revocation: Option<Result<RevocationResult, String>>,
    /// (what was tried, HTTP status, whether the other user's session id appeared in the body).
    pub cross_user: Option<Vec<CrossUserAttempt>>,
}

#[derive(Debug, Clone)]
pub struct CrossUserAttempt {
    pub label: String,
    pub status: Option<u16>,
    pub leaked: bool,
    pub exchange_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RevocationResult {
    pub logout: Reply,
    /// From the logout answer to the first REST answer that rejected the token.
    pub rest_rejected_after: Option<Duration>,
    pub rest_polls: usize,
    /// Whether the stream answered (a pong, or the transcript of a text) after connecting and
    /// before logout: only a socket shown alive can show a revocation.
    pub ws_alive: bool,
    /// The close code when the stream closed before logout (it never reached the revocation).
    pub ws_closed_before_logout: Option<Option<u16>>,
    /// From the logout answer to the stream's close.
    pub ws_closed_after: Option<Duration>,
    pub ws_close_code: Option<u16>,
    pub ws_error: Option<String>,
    /// Close codes the stream contract documents for a revoked token.
    pub revocation_codes: Vec<u16>,
    /// How long the probe waited at most.
    pub waited: Duration,
}

pub async fn probe(ctx: &Ctx) -> AuthObservation {
    let mut obs = AuthObservation::default();
    let second = if ctx.settings.allow_register {
        auth::register(&ctx.http, SCENARIO).await.ok()
    } else {
        None
    };
    let session = ctx
        .create_session(&ctx.user.access, "gemini", SCENARIO)
        .await;
    if let (Some(other), Ok(session_id)) = (&second, &session) {
        obs.cross_user = Some(cross_user(ctx, other, session_id).await);
    }
    obs.revocation = Some(match &session {
        Ok(session_id) => revocation(ctx, session_id).await,
        Err(reason) => Err(reason.clone()),
    });
    if let Some(other) = &second {
        obs.lifecycle = Some(lifecycle(ctx, other).await);
    }
    obs
}

async fn cross_user(ctx: &Ctx, intruder: &Credentials, session_id: &str) -> Vec<CrossUserAttempt> {
    let token = Some(intruder.access.as_str());
    let mut attempts = Vec::new();
    let targets = [
        (
            "GET",
            ctx.session_path("getSession", "/api/v1/sessions/{session_id}", session_id),
            Body::None,
        ),
        (
            "GET",
            ctx.session_path(
                "switchHistory",
                "/api/v1/sessions/{session_id}/switch-history",
                session_id,
            ),
            Body::None,
        ),
        (
            "POST",
            ctx.session_path(
                "switchProvider",
                "/api/v1/sessions/{session_id}/switch-provider",
                session_id,
            ),
            Body::Json(json!({"provider": "openai"})),
        ),
        (
            "GET",
            ctx.path("listSessions", "/api/v1/sessions"),
            Body::None,
        ),
    ];
    for (method, path, body) in targets {
        let reply = ctx.call(method, &path, token, body, "cross-user").await;
        let listing = !path.contains(session_id);
        attempts.push(CrossUserAttempt {
            label: format!("{method} {path}"),
            // Listing its own sessions is allowed; only the foreign id showing up is a leak.
            status: if listing { None } else { reply.status },
            // A refusal may echo the path (`instance`); only a successful answer can leak data.
            leaked: reply.is_success() && reply.body.contains(session_id),
            exchange_id: Some(reply.exchange_id),
        });
    }
    let refused = ws::connect(
        &ctx.ws_url(session_id),
        token,
        &ctx.http.log,
        "cross-user",
        ctx.settings.timeout,
    )
    .await;
    let (status, leaked) = match refused {
        Ok((conn, _)) => {
            conn.finish().await;
            (Some(101), true)
        }
        Err(e) => (e.status, false),
    };
    attempts.push(CrossUserAttempt {
        label: "WebSocket upgrade to the other user's session".into(),
        status,
        leaked,
        exchange_id: None,
    });
    attempts
}

async fn revocation(ctx: &Ctx, session_id: &str) -> Result<RevocationResult, String> {
    let victim = auth::login(&ctx.http, &ctx.user.email, &ctx.user.password, SCENARIO).await?;
    let (mut conn, _) = ws::connect(
        &ctx.ws_url(session_id),
        Some(&victim.access),
        &ctx.http.log,
        "revocation",
        ctx.settings.timeout,
    )
    .await
    .map_err(|e| format!("the stream refused a fresh token: {e}"))?;
    // A socket that never answered, or closed on its own, cannot show a revocation: a server that
    // closes every socket at once would otherwise look like one that revokes instantly.
    let ws_alive = super::stream::alive(&mut conn, 0, ctx.settings.timeout).await;
    let ws_closed_before_logout = conn.is_closed().then_some(conn.record.close_code);
    let me = ctx.path("me", "/api/v1/auth/me");
    let before = ctx
        .call("GET", &me, Some(&victim.access), Body::None, "revocation")
        .await;
    if before.status != Some(200) {
        return Err(format!(
            "a fresh token was not accepted before logout ({})",
            super::describe(&before)
        ));
    }
    let logout = ctx
        .call(
            "POST",
            &ctx.path("logout", "/api/v1/auth/logout"),
            Some(&victim.access),
            Body::None,
            "revocation",
        )
        .await;
    let revoked_at = Instant::now();
    let waited = ctx.settings.timeout;
    let deadline = revoked_at + waited;
    let rest = async {
        let mut polls = 0;
        while Instant::now() < deadline {
            polls += 1;
            let r = ctx
                .call(
                    "GET",
                    &me,
                    Some(&victim.access),
                    Body::None,
                    "revocation-poll",
                )
                .await;
            if r.status == Some(401) {
                return (Some(revoked_at.elapsed()), polls);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (None, polls)
    };
    let stream = async {
        if !ws_alive || ws_closed_before_logout.is_some() {
            return (None, None, None);
        }
        loop {
            match conn.next(deadline).await {
                ws::Next::Message(_) => continue,
                ws::Next::Closed { code, at } => {
                    return (Some(at.saturating_duration_since(revoked_at)), code, None);
                }
                ws::Next::Timeout => return (None, None, None),
                ws::Next::Failed(e) => return (None, None, Some(e)),
            }
        }
    };
    let ((rest_rejected_after, rest_polls), (ws_closed_after, ws_close_code, ws_error)) =
        tokio::join!(rest, stream);
    conn.finish().await;
    Ok(RevocationResult {
        logout,
        rest_rejected_after,
        rest_polls,
        ws_alive,
        ws_closed_before_logout,
        ws_closed_after,
        ws_close_code,
        ws_error,
        revocation_codes: revocation_codes(&ctx.ws_contract),
        waited,
    })
}

/// The close codes the contract documents for revocation (`x-close-codes` entries that speak of
/// a revoked token).
fn revocation_codes(contract: &crate::contract::WsContract) -> Vec<u16> {
    contract
        .close_codes
        .iter()
        .filter(|(_, meaning)| meaning.to_lowercase().contains("revok"))
        .map(|(code, _)| *code)
        .collect()
}

impl RevocationResult {
    /// The time from logout to the stream's close, only when that close was a revocation: the
    /// socket was shown alive first and closed with a documented revocation code.
    pub fn ws_revoked_after(&self) -> Option<Duration> {
        let code = self.ws_close_code?;
        (self.ws_alive
            && self.ws_closed_before_logout.is_none()
            && self.revocation_codes.contains(&code))
        .then_some(self.ws_closed_after?)
    }
}

async fn lifecycle(ctx: &Ctx, user: &Credentials) -> Vec<(String, Reply)> {
    let me = ctx.path("me", "/api/v1/auth/me");
    let refresh_path = ctx.path("refresh", "/api/v1/auth/refresh");
    let mut steps = Vec::new();
    let login = ctx
        .call(
            "POST",
            &ctx.path("login", "/api/v1/auth/login"),
            None,
            Body::Json(json!({"email": user.email, "password": user.password})),
            "lifecycle",
        )
        .await;
    let access1 = login.str_at("/access_token").unwrap_or_default();
    let refresh1 = login.str_at("/refresh_token").unwrap_or_default();
    ctx.http.log.redactor.add(&access1);
    ctx.http.log.redactor.add(&refresh1);
    steps.push(("sign-in issues a token pair".to_string(), login));
    steps.push((
        "the access token is accepted".to_string(),
        ctx.call("GET", &me, Some(&access1), Body::None, "lifecycle")
            .await,
    ));
    let refreshed = ctx
        .call(
            "POST",
            &refresh_path,
            None,
            Body::Json(json!({"refresh_token": refresh1})),
            "lifecycle",
        )
        .await;
    let access2 = refreshed.str_at("/access_token").unwrap_or_default();
    let refresh2 = refreshed.str_at("/refresh_token").unwrap_or_default();
    ctx.http.log.redactor.add(&access2);
    ctx.http.log.redactor.add(&refresh2);
    steps.push(("refresh rotates the pair".to_string(), refreshed));
    steps.push((
        "the rotated access token is accepted".to_string(),
        ctx.call("GET", &me, Some(&access2), Body::None, "lifecycle")
            .await,
    ));
    for (label, token) in forged(&access2) {
        steps.push((
            label,
            ctx.call("GET", &me, Some(&token), Body::None, "lifecycle")
                .await,
        ));
    }
    steps.push((
        "a consumed refresh token is refused".to_string(),
        ctx.call(
            "POST",
            &refresh_path,
            None,
            Body::Json(json!({"refresh_token": refresh1})),
            "lifecycle",
        )
        .await,
    ));
    steps.push((
        "reuse revokes the rotated refresh token".to_string(),
        ctx.call(
            "POST",
            &refresh_path,
            None,
            Body::Json(json!({"refresh_token": refresh2})),
            "lifecycle",
        )
        .await,
    ));
    steps
}

/// Tokens derived from a genuine one that no server may accept: a changed signature, and the
/// same claims with `alg: none`.
pub fn forged(token: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Vec::new();
    }
    let mut signature: Vec<char> = parts[2].chars().collect();
    if let Some(c) = signature.get_mut(0) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        signature.into_iter().collect::<String>()
    );
    use base64::Engine as _;
    let none_header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    vec![
        (
            "a token with a tampered signature is refused".to_string(),
            tampered,
        ),
        (
            "an alg:none token is refused".to_string(),
            format!("{none_header}.{}.", parts[1]),
        ),
    ]
}
