//! Signing in: the audit's own users, registered as throwaways or logged in with given
//! credentials. Every secret obtained is handed to the redactor before anything is recorded.

use super::client::{Body, Http};
use super::{Credentials, describe};
use crate::evidence::Purpose;
use serde_json::json;

fn path(http: &Http, id: &str, fallback: &str) -> String {
    http.contract()
        .by_id(id)
        .map(|o| o.path.clone())
        .unwrap_or_else(|| fallback.to_string())
}

/// Registers a fresh user with a random email and password.
pub async fn register(http: &Http, scenario: &str) -> Result<Credentials, String> {
    let email = format!("voice-audit-{}@example.test", uuid::Uuid::new_v4().simple());
    let password = format!("Va-{}", uuid::Uuid::new_v4().simple());
    http.log.redactor.add(&password);
    let reply = http
        .send(
            "POST",
            &path(http, "register", "/api/v1/auth/register"),
            None,
            Body::Json(
                json!({"email": email, "password": password, "display_name": "voice-audit"}),
            ),
            Purpose::Scenario(scenario.to_string()),
        )
        .await;
    tokens(http, &reply, email, password)
        .ok_or_else(|| format!("registering an audit user failed ({})", describe(&reply)))
}

/// Signs in with known credentials.
pub async fn login(
    http: &Http,
    email: &str,
    password: &str,
    scenario: &str,
) -> Result<Credentials, String> {
    http.log.redactor.add(password);
    let reply = http
        .send(
            "POST",
            &path(http, "login", "/api/v1/auth/login"),
            None,
            Body::Json(json!({"email": email, "password": password})),
            Purpose::Scenario(scenario.to_string()),
        )
        .await;
    tokens(http, &reply, email.to_string(), password.to_string())
        .ok_or_else(|| format!("signing in failed ({})", describe(&reply)))
}

fn tokens(
    http: &Http,
    reply: &super::client::Reply,
    email: String,
    password: String,
) -> Option<Credentials> {
    if !reply.is_success() {
        return None;
    }
    let access = reply.str_at("/access_token")?;
    let refresh = reply.str_at("/refresh_token")?;
    http.log.redactor.add(&access);
    http.log.redactor.add(&refresh);
    Some(Credentials {
        email,
        password,
        access,
        refresh,
    })
}
