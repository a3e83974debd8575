//! Probes: everything that talks to the deployment. Each probe drives one part of the contract
//! and returns observations — what was sent, what came back, how long it took — without judging
//! any of it; judging is the checks' job.
//!
//! A probe that cannot run at all (no session could be created, the stream refused every
//! connection) returns `Err(reason)`, which the checks report as "not assessed: reason".

pub mod auth;
pub mod client;
pub mod revocation;
pub mod stream;
pub mod switch;
pub mod walk;
pub mod ws;

use crate::contract::{ApiContract, WsContract};
use crate::evidence::Purpose;
use client::{Body, Http, Reply};
use std::sync::Arc;
use std::time::Duration;

/// Knobs of a run that the probes read.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Provider switches in the switch scenario.
    pub switches: usize,
    /// Whether throwaway users may be registered (cross-user and destructive auth probes need them).
    pub allow_register: bool,
    /// Per-request and per-wait timeout.
    pub timeout: Duration,
    /// Texts sent one at a time to measure event latency.
    pub latency_samples: usize,
    /// Texts sent back to back to measure throughput.
    pub throughput_messages: usize,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            switches: 50,
            allow_register: true,
            timeout: Duration::from_secs(10),
            latency_samples: 50,
            throughput_messages: 500,
        }
    }
}

/// A signed-in user of the audit. Its secrets are registered with the redactor on creation.
#[derive(Clone)]
pub struct Credentials {
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What every probe needs: the recording client, the contracts, the audit user.
#[derive(Clone)]
pub struct Ctx {
    pub http: Http,
    pub ws_contract: Arc<WsContract>,
    /// `ws://host:port` (or `wss://`) of the target.
    pub ws_base: String,
    pub settings: ProbeSettings,
    pub user: Credentials,
}

impl Ctx {
    pub fn api(&self) -> &ApiContract {
        self.http.contract()
    }

    /// The path of an operation by id, falling back to the reference backend's path.
    pub fn path(&self, operation_id: &str, fallback: &str) -> String {
        self.api()
            .by_id(operation_id)
            .map(|o| o.path.clone())
            .unwrap_or_else(|| fallback.to_string())
    }

    pub fn session_path(&self, operation_id: &str, fallback: &str, session_id: &str) -> String {
        fill_path(&self.path(operation_id, fallback), session_id)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        scenario: &str,
    ) -> Reply {
        self.http
            .send(
                method,
                path,
                token,
                body,
                Purpose::Scenario(scenario.to_string()),
            )
            .await
    }

    /// The stream URL of a session, from the AsyncAPI channel address.
    pub fn ws_url(&self, session_id: &str) -> String {
        format!("{}{}", self.ws_base, self.ws_contract.path_for(session_id))
    }

    /// Creates a session for `token` and returns its id.
    pub async fn create_session(
        &self,
        token: &str,
        provider: &str,
        scenario: &str,
    ) -> Result<String, String> {
        let path = self.path("createSession", "/api/v1/sessions");
        let reply = self
            .call(
                "POST",
                &path,
                Some(token),
                Body::Json(serde_json::json!({"provider": provider})),
                scenario,
            )
            .await;
        reply
            .str_at("/session/id")
            .or_else(|| reply.str_at("/id"))
            .ok_or_else(|| format!("creating a session failed ({})", describe(&reply)))
    }
}

/// Replaces the first `{param}` of a path template.
pub fn fill_path(template: &str, value: &str) -> String {
    match (template.find('{'), template.find('}')) {
        (Some(s), Some(e)) if s < e => format!("{}{}{}", &template[..s], value, &template[e + 1..]),
        _ => template.to_string(),
    }
}

/// A short description of a reply for "could not run" reasons.
pub fn describe(reply: &Reply) -> String {
    match (reply.status, &reply.error) {
        (Some(s), _) => format!("HTTP {s}, exchange {}", reply.exchange_id),
        (None, Some(e)) => format!("{e}, exchange {}", reply.exchange_id),
        (None, None) => format!("no answer, exchange {}", reply.exchange_id),
    }
}

/// Everything the probes observed, input of the checks.
#[derive(Debug, Default)]
pub struct Observations {
    pub walk: walk::WalkObservation,
    pub stream: Option<Result<stream::StreamObservation, String>>,
    pub switching: Option<Result<switch::SwitchObservation, String>>,
    pub auth: Option<Result<revocation::AuthObservation, String>>,
    /// Every WebSocket connection's received messages.
    pub connections: Vec<ws::ConnectionLog>,
}
