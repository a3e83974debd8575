//! Browser-facing security probes: the headers of a sample of responses, CORS answers to an
//! arbitrary and to an allow-listed origin, the failed-login budget, and what the readiness
//! role says about itself. Like every probe they only record; `check::security` judges.
//!
//! Every route comes from the binding's roles. Password guessing is only ever aimed at a
//! throwaway account the audit registered for it, never at the user the audit signs in as.

use super::client::{Body, Reply};
use super::{Ctx, auth, vars};
use crate::evidence::Purpose;
use serde_json::json;

const SCENARIO: &str = "security";

/// An origin no deployment should trust.
pub const ARBITRARY_ORIGIN: &str = "https://evil.example";

/// At most this many wrong passwords are tried before the budget is judged missing.
pub const LOGIN_ATTEMPTS: usize = 30;

#[derive(Debug, Clone)]
pub struct SecurityObservation {
    /// Whether the target is served over https (HSTS is only required then).
    pub https: bool,
    /// Responses whose headers were sampled; `Err` when no sampled role is bound.
    pub headers: Result<Vec<Sample>, String>,
    pub cors: Result<Vec<CorsSample>, String>,
    pub login_limit: Result<LoginLimitObservation, String>,
    pub readiness: Result<Sample, String>,
}

/// One response: which role it came from, its status, headers and body.
#[derive(Debug, Clone)]
pub struct Sample {
    pub label: String,
    pub reply: Reply,
}

impl Sample {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.reply
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorsKind {
    /// OPTIONS preflight from an origin nobody allowed.
    ArbitraryPreflight,
    /// A plain request from an origin nobody allowed.
    ArbitrarySimple,
    /// OPTIONS preflight from the origin the user allow-listed (`--cors-origin`).
    AllowedPreflight,
}

#[derive(Debug, Clone)]
pub struct CorsSample {
    pub kind: CorsKind,
    pub origin: String,
    /// The method the preflight asked for.
    pub method: String,
    pub sample: Sample,
}

#[derive(Debug, Clone)]
pub struct LoginLimitObservation {
    /// Wrong-password attempts in order, up to and including the first 429.
    pub attempts: Vec<Reply>,
    /// The attempt after the first 429, sent with a fresh `X-Forwarded-For`.
    pub spoofed: Option<Reply>,
}

impl LoginLimitObservation {
    pub fn limited(&self) -> Option<&Reply> {
        self.attempts.iter().find(|r| r.status == Some(429))
    }
}

pub async fn probe(ctx: &Ctx, cors_origin: Option<&str>) -> SecurityObservation {
    SecurityObservation {
        https: ctx.http.base().to_ascii_lowercase().starts_with("https://"),
        headers: headers(ctx).await,
        cors: cors(ctx, cors_origin).await,
        login_limit: login_limit(ctx).await,
        readiness: readiness(ctx).await,
    }
}

async fn sample(ctx: &Ctx, role: &str, id: Option<&str>, token: Option<&str>) -> Option<Sample> {
    let (method, path, _) = ctx.role_request(role, id, &vars(&[])).ok()?;
    if method != "GET" {
        return None;
    }
    let reply = ctx.call(&method, &path, token, Body::None, SCENARIO).await;
    let who = if token.is_some() {
        ""
    } else {
        " without a token"
    };
    Some(Sample {
        label: format!("{role}{who} ({method} {path})"),
        reply,
    })
}

/// Health, me (with and without a token: an error answer counts too) and a session read.
async fn headers(ctx: &Ctx) -> Result<Vec<Sample>, String> {
    let token = ctx.user.access.as_str();
    let mut out = Vec::new();
    out.extend(sample(ctx, "health", None, None).await);
    out.extend(sample(ctx, "me", None, Some(token)).await);
    out.extend(sample(ctx, "me", None, None).await);
    let providers = super::switch::providers(ctx).unwrap_or_default();
    if let Some(provider) = providers.first()
        && let Ok(id) = ctx.create_session(token, provider, SCENARIO).await
    {
        out.extend(sample(ctx, "session_get", Some(&id), Some(token)).await);
        // Leave nothing running on the target; an unbound end role leaves the session to expire.
        let _ = ctx
            .call_role("session_end", Some(&id), Some(token), &vars(&[]), SCENARIO)
            .await;
    }
    if out.is_empty() {
        return Err("none of the roles health, me, session_get is bound to a GET".into());
    }
    Ok(out)
}

/// Preflight and plain request from an arbitrary origin on the `me` role (a secured read),
/// and the allow-listed origin's preflight when one is given.
async fn cors(ctx: &Ctx, allowed: Option<&str>) -> Result<Vec<CorsSample>, String> {
    let (method, path, _) = ctx.role_request("me", None, &vars(&[]))?;
    let token = ctx.user.access.as_str();
    let mut out = Vec::new();
    let mut preflights = vec![(CorsKind::ArbitraryPreflight, ARBITRARY_ORIGIN)];
    if let Some(origin) = allowed {
        preflights.push((CorsKind::AllowedPreflight, origin));
    }
    for (kind, origin) in preflights {
        let headers = [
            ("origin", origin),
            ("access-control-request-method", method.as_str()),
            ("access-control-request-headers", "authorization"),
        ];
        let reply = ctx
            .http
            .send_with_headers("OPTIONS", &path, None, Body::None, &headers, purpose())
            .await;
        out.push(CorsSample {
            kind,
            origin: origin.to_string(),
            method: method.clone(),
            sample: Sample {
                label: format!("preflight OPTIONS {path} from {origin}"),
                reply,
            },
        });
    }
    let reply = ctx
        .http
        .send_with_headers(
            &method,
            &path,
            Some(token),
            Body::None,
            &[("origin", ARBITRARY_ORIGIN)],
            purpose(),
        )
        .await;
    out.push(CorsSample {
        kind: CorsKind::ArbitrarySimple,
        origin: ARBITRARY_ORIGIN.to_string(),
        method: method.clone(),
        sample: Sample {
            label: format!("{method} {path} from {ARBITRARY_ORIGIN}"),
            reply,
        },
    });
    Ok(out)
}

fn purpose() -> Purpose {
    Purpose::Scenario(SCENARIO.to_string())
}

/// Wrong passwords for a throwaway account until 429 (at most [`LOGIN_ATTEMPTS`]), then one
/// more from a "different client" per `X-Forwarded-For`.
async fn login_limit(ctx: &Ctx) -> Result<LoginLimitObservation, String> {
    if ctx.settings.read_only {
        return Err("read-only: measuring the sign-in budget sends failed sign-ins".into());
    }
    if !ctx.settings.allow_register {
        return Err(
            "registering throwaway users is not allowed (--no-register), and the audit never guesses passwords of a real account".into(),
        );
    }
    ctx.http.binding().role("login")?;
    let victim = auth::register(&ctx.http, SCENARIO).await?;
    let wrong = format!("Wrong-{}", uuid::Uuid::new_v4().simple());
    ctx.http.log.redactor.add(&wrong);
    let guess = vars(&[("email", json!(victim.email)), ("password", json!(wrong))]);
    let (method, path, body) = ctx.role_request("login", None, &guess)?;
    let mut attempts = Vec::new();
    for _ in 0..LOGIN_ATTEMPTS {
        let reply = ctx.call(&method, &path, None, body.clone(), SCENARIO).await;
        let limited = reply.status == Some(429);
        attempts.push(reply);
        if limited {
            break;
        }
    }
    let mut spoofed = None;
    if attempts.last().is_some_and(|r| r.status == Some(429)) {
        let forwarded = format!("203.0.113.{}", 1 + attempts.len() % 250);
        spoofed = Some(
            ctx.http
                .send_with_headers(
                    &method,
                    &path,
                    None,
                    body,
                    &[("x-forwarded-for", forwarded.as_str())],
                    purpose(),
                )
                .await,
        );
    }
    Ok(LoginLimitObservation { attempts, spoofed })
}

async fn readiness(ctx: &Ctx) -> Result<Sample, String> {
    let (method, path, body) = ctx.role_request("readiness", None, &vars(&[]))?;
    let reply = ctx.call(&method, &path, None, body, SCENARIO).await;
    Ok(Sample {
        label: format!("readiness ({method} {path})"),
        reply,
    })
}
