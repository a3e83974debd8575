//! Authentication scenarios: token lifecycle (issue, use, rotate, reuse detection), forged
//! tokens (in `forgery`), revocation on logout measured on REST and on an open WebSocket at once, and
//! cross-user isolation with a second, throwaway user.

use super::client::{Body, Reply};
use super::{Credentials, Ctx, auth, ws};
use crate::binding::template::Vars;
use serde_json::json;
use std::time::{Duration, Instant};

const SCENARIO: &str = "auth";

#[derive(Debug, Clone, Default)]
pub struct AuthObservation {
    /// (step, reply) of the lifecycle, in order; `None` when it needs a throwaway user.
    /// `Err` names the unbound role that kept it from running.
    pub lifecycle: Option<Result<Vec<(String, Reply)>, String>>,
    pub revocation: Option<Result<RevocationResult, String>>,
    /// (what was tried, HTTP status, whether the other user's session id appeared in the body).
    pub cross_user: Option<Vec<CrossUserAttempt>>,
    /// JWT attacks on the `me` role.
    pub forgery: Option<Result<super::forgery::ForgeryObservation, String>>,
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
    // Forged tokens first, while the audit user's token is neither rotated nor revoked: a
    // server that trusted a forged header would then still find the claims valid.
    let mut obs = AuthObservation {
        forgery: Some(super::forgery::probe(ctx, &ctx.user.access).await),
        ..AuthObservation::default()
    };
    let second = if ctx.settings.allow_register {
        auth::register(&ctx.http, SCENARIO).await.ok()
    } else {
        None
    };
    let session = match super::switch::providers(ctx) {
        Ok(providers) => {
            ctx.create_session(&ctx.user.access, &providers[0], SCENARIO)
                .await
        }
        Err(reason) => Err(reason),
    };
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
    // Another user's session through every role that names one, and the listing (which must not
    // show it). Unbound roles are simply not tried.
    let switch_vars = super::vars(&[
        (
            "provider",
            json!(
                super::switch::providers(ctx)
                    .ok()
                    .and_then(|p| p.last().cloned())
                    .unwrap_or_default()
            ),
        ),
        ("reason", json!("voice-audit cross-user probe")),
    ]);
    let targets: Vec<(String, String, Body)> = [
        ("session_get", Some(session_id)),
        ("switch_history", Some(session_id)),
        ("switch", Some(session_id)),
        ("session_list", None),
    ]
    .into_iter()
    .filter_map(|(role, id)| ctx.role_request(role, id, &switch_vars).ok())
    .collect();
    for (method, path, body) in targets {
        let reply = ctx.call(&method, &path, token, body, "cross-user").await;
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
    let refused = ctx.ws_connect(session_id, token, "cross-user").await;
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
    let (mut conn, _) = ctx
        .ws_connect(session_id, Some(&victim.access), "revocation")
        .await
        .map_err(|e| format!("the stream refused a fresh token: {e}"))?;
    // A socket that never answered, or closed on its own, cannot show a revocation: a server that
    // closes every socket at once would otherwise look like one that revokes instantly.
    let ws_alive = super::stream::alive(&mut conn, 0, ctx.settings.timeout).await;
    let ws_closed_before_logout = conn.is_closed().then_some(conn.record.close_code);
    let no_vars = Vars::new();
    let before = ctx
        .call_role("me", None, Some(&victim.access), &no_vars, "revocation")
        .await?;
    if before.status != Some(200) {
        return Err(format!(
            "a fresh token was not accepted before logout ({})",
            super::describe(&before)
        ));
    }
    let logout = ctx
        .call_role("logout", None, Some(&victim.access), &no_vars, "revocation")
        .await?;
    let revoked_at = Instant::now();
    let waited = ctx.settings.timeout;
    let deadline = revoked_at + waited;
    let rest = async {
        let mut polls = 0;
        while Instant::now() < deadline {
            polls += 1;
            let r = ctx
                .call_role(
                    "me",
                    None,
                    Some(&victim.access),
                    &no_vars,
                    "revocation-poll",
                )
                .await;
            if r.as_ref().is_ok_and(|r| r.status == Some(401)) {
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
        revocation_codes: ctx.revocation_codes(),
        waited,
    })
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

async fn lifecycle(ctx: &Ctx, user: &Credentials) -> Result<Vec<(String, Reply)>, String> {
    for role in ["login", "refresh", "me"] {
        ctx.http.binding().role(role)?;
    }
    let me = |token: String| async move {
        ctx.call_role("me", None, Some(&token), &Vars::new(), "lifecycle")
            .await
    };
    let refresh = |token: String| async move {
        let vars = super::vars(&[("refresh_token", json!(token))]);
        ctx.call_role("refresh", None, None, &vars, "lifecycle")
            .await
    };
    let pair = |role: &str, reply: &Reply| {
        let access = ctx
            .role_output(role, "access_token", reply)
            .unwrap_or_default();
        let refresh = ctx
            .role_output(role, "refresh_token", reply)
            .unwrap_or_default();
        ctx.http.log.redactor.add(&access);
        ctx.http.log.redactor.add(&refresh);
        (access, refresh)
    };
    let mut steps = Vec::new();
    let vars = super::vars(&[
        ("email", json!(user.email)),
        ("password", json!(user.password)),
    ]);
    let login = ctx
        .call_role("login", None, None, &vars, "lifecycle")
        .await?;
    let (access1, refresh1) = pair("login", &login);
    steps.push(("sign-in issues a token pair".to_string(), login));
    steps.push((
        "the access token is accepted".to_string(),
        me(access1).await?,
    ));
    let refreshed = refresh(refresh1.clone()).await?;
    let (access2, refresh2) = pair("refresh", &refreshed);
    steps.push(("refresh rotates the pair".to_string(), refreshed));
    steps.push((
        "the rotated access token is accepted".to_string(),
        me(access2.clone()).await?,
    ));
    steps.push((
        "a consumed refresh token is refused".to_string(),
        refresh(refresh1).await?,
    ));
    steps.push((
        "reuse revokes the rotated refresh token".to_string(),
        refresh(refresh2).await?,
    ));
    Ok(steps)
}
