//! Signing in: the audit's own users, registered as throwaways or logged in with given
//! credentials. Every secret obtained is handed to the redactor before anything is recorded.

use super::client::{Body, Http, Reply};
use super::{Credentials, describe};
use crate::binding::template::{Vars, render};
use crate::evidence::Purpose;
use serde_json::json;

/// Sends the request of a bound sign-in role (register, login) with `vars`.
async fn send_role(http: &Http, role: &str, vars: &Vars, scenario: &str) -> Result<Reply, String> {
    let r = http.binding().role(role)?;
    let body = match &r.request {
        Some(t) => Body::Json(render(t, vars).map_err(|e| format!("role {role}: {e}"))?),
        None => Body::None,
    };
    Ok(http
        .send(
            &r.method,
            &r.path,
            None,
            body,
            Purpose::Scenario(scenario.to_string()),
        )
        .await)
}

/// Registers a fresh user with a random email and password.
pub async fn register(http: &Http, scenario: &str) -> Result<Credentials, String> {
    let email = format!("voice-audit-{}@example.test", uuid::Uuid::new_v4().simple());
    let password = format!("Va-{}", uuid::Uuid::new_v4().simple());
    http.log.redactor.add(&password);
    let vars = super::vars(&[
        ("email", json!(email)),
        ("password", json!(password)),
        ("display_name", json!("voice-audit")),
    ]);
    let reply = send_role(http, "register", &vars, scenario).await?;
    tokens(http, "register", &reply, email, password)
        .ok_or_else(|| format!("registering an audit user failed ({})", describe(&reply)))
}

/// An access token handed to the audit (`--token`): nothing is sent to obtain it, so a
/// read-only run with a token sends no mutating request at all. Probes needing the password or
/// a refresh token (revocation, lifecycle) do not run in such a run.
pub fn with_token(http: &Http, token: &str) -> Credentials {
    http.log.redactor.add(token);
    Credentials {
        email: String::new(),
        password: String::new(),
        access: token.to_string(),
        refresh: String::new(),
    }
}

/// Signs in with known credentials.
pub async fn login(
    http: &Http,
    email: &str,
    password: &str,
    scenario: &str,
) -> Result<Credentials, String> {
    http.log.redactor.add(password);
    let vars = super::vars(&[("email", json!(email)), ("password", json!(password))]);
    let reply = send_role(http, "login", &vars, scenario).await?;
    tokens(
        http,
        "login",
        &reply,
        email.to_string(),
        password.to_string(),
    )
    .ok_or_else(|| format!("signing in failed ({})", describe(&reply)))
}

/// The tokens a sign-in role's outputs point at. A deployment without refresh tokens still
/// signs in (the refresh scenarios then fail on their own).
fn tokens(
    http: &Http,
    role: &str,
    reply: &Reply,
    email: String,
    password: String,
) -> Option<Credentials> {
    if !reply.is_success() {
        return None;
    }
    let outputs = &http.binding().role(role).ok()?.outputs;
    let read = |name: &str| {
        outputs
            .get(name)
            .and_then(|s| reply.output(s))
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let access = read("access_token")?;
    let refresh = read("refresh_token").unwrap_or_default();
    http.log.redactor.add(&access);
    if !refresh.is_empty() {
        http.log.redactor.add(&refresh);
    }
    Some(Credentials {
        email,
        password,
        access,
        refresh,
    })
}
