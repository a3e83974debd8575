//! Probes: everything that talks to the deployment. Each probe drives one part of the contract
//! and returns observations — what was sent, what came back, how long it took — without judging
//! any of it; judging is the checks' job.
//!
//! A probe that cannot run at all (no session could be created, the stream refused every
//! connection) returns `Err(reason)`, which the checks report as "not assessed: reason".

pub mod auth;
pub mod client;
pub mod forgery;
pub mod hook;
pub mod instances;
pub mod load;
mod load_raw;
pub mod outage;
pub mod recovery;
pub mod restart;
mod restart_calls;
pub mod revocation;
pub mod security;
pub mod stream;
pub mod switch;
pub mod walk;
pub mod ws;

use crate::binding::template::{Vars, render};
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
    /// Requests the contract walk keeps in flight at most (`--concurrency`).
    pub concurrency: usize,
    /// Overall time the contract walk may take (`--walk-budget`); what is left is skipped.
    pub walk_budget: Duration,
    /// Read-only run (`--read-only`): no operation that mutates is called, by method or role.
    pub read_only: bool,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            switches: 50,
            allow_register: true,
            timeout: Duration::from_secs(10),
            latency_samples: 50,
            throughput_messages: 500,
            concurrency: 8,
            walk_budget: Duration::from_secs(60),
            read_only: false,
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

    /// The path of a bound role, its first `{param}` filled with `id` when given; `Err` names
    /// the unbound role (the checks needing it report "not assessed: role X is not bound").
    pub fn role_path(&self, role: &str, id: Option<&str>) -> Result<String, String> {
        let r = self.http.binding().role(role)?;
        Ok(match id {
            Some(id) => fill_path(&r.path, id),
            None => r.path.clone(),
        })
    }

    /// Calls a bound role: its method and path (first `{param}` filled with `id`) and its request
    /// template rendered with `vars`.
    pub async fn call_role(
        &self,
        role: &str,
        id: Option<&str>,
        token: Option<&str>,
        vars: &Vars,
        scenario: &str,
    ) -> Result<Reply, String> {
        let (method, path, body) = self.role_request(role, id, vars)?;
        Ok(self.call(&method, &path, token, body, scenario).await)
    }

    /// Method, path and body of a bound role's request, without sending it.
    pub fn role_request(
        &self,
        role: &str,
        id: Option<&str>,
        vars: &Vars,
    ) -> Result<(String, String, Body), String> {
        let r = self.http.binding().role(role)?;
        let body = match &r.request {
            Some(t) => Body::Json(render(t, vars).map_err(|e| format!("role {role}: {e}"))?),
            None => Body::None,
        };
        let mut path = self.role_path(role, id)?;
        if let Some(q) = &r.query {
            let rendered = render(&serde_json::Value::String(q.clone()), vars)
                .map_err(|e| format!("role {role}: query: {e}"))?;
            let query = match rendered {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            path = format!("{path}?{query}");
        }
        Ok((r.method.clone(), path, body))
    }

    /// An output of a bound role read from `reply`; `Err` when the role or the output is not
    /// bound (the checks needing it say so), `Ok(None)` when the answer lacks it.
    pub fn role_value(
        &self,
        role: &str,
        output: &str,
        reply: &Reply,
    ) -> Result<Option<serde_json::Value>, String> {
        let source = self
            .http
            .binding()
            .role(role)?
            .outputs
            .get(output)
            .ok_or_else(|| format!("output {output} of role {role} is not bound"))?;
        Ok(reply.output(source))
    }

    /// The `items` output of a bound role (a list answer), each element read through the
    /// role's `items` pointers; `Err` when the list or one of `fields` is not bound.
    pub fn role_items(
        &self,
        role: &str,
        fields: &[&str],
        reply: &Reply,
    ) -> Result<Option<Vec<std::collections::BTreeMap<String, serde_json::Value>>>, String> {
        let r = self.http.binding().role(role)?;
        for field in fields {
            if !r.items.contains_key(*field) {
                return Err(format!("items.{field} of role {role} is not bound"));
            }
        }
        let list = self.role_value(role, "items", reply)?;
        Ok(list.and_then(|v| v.as_array().cloned()).map(|items| {
            items
                .iter()
                .map(|item| {
                    r.items
                        .iter()
                        .filter_map(|(k, p)| Some((k.clone(), item.pointer(p)?.clone())))
                        .collect()
                })
                .collect()
        }))
    }

    /// A string output of a bound role read from `reply` (`None` when absent or unbound).
    pub fn role_output(&self, role: &str, output: &str, reply: &Reply) -> Option<String> {
        let source = self.http.binding().role(role).ok()?.outputs.get(output)?;
        reply
            .output(source)
            .and_then(|v| v.as_str().map(str::to_string))
    }

    /// The stream URL of a session: the binding's stream URL template when bound (a path on the
    /// target, or a full ws(s):// URL), else the AsyncAPI channel address.
    pub fn ws_url(&self, session_id: &str) -> String {
        match self
            .http
            .binding()
            .stream()
            .ok()
            .and_then(|s| s.url.as_deref())
        {
            Some(url) if url.starts_with("ws") => fill_path(url, session_id),
            Some(path) => format!("{}{}", self.ws_base, fill_path(path, session_id)),
            None => format!("{}{}", self.ws_base, self.ws_contract.path_for(session_id)),
        }
    }

    /// Where the stream upgrade carries the token: the binding's placement, else a bearer header.
    pub fn token_placement(&self) -> ws::TokenPlacementRef<'_> {
        match self.http.binding().stream() {
            Ok(s) => std::borrow::Cow::Borrowed(&s.token),
            Err(_) => std::borrow::Cow::Owned(ws::bearer()),
        }
    }

    /// Opens the stream of `session_id` with `token` placed as the binding says.
    pub async fn ws_connect(
        &self,
        session_id: &str,
        token: Option<&str>,
        probe: &str,
    ) -> Result<(ws::WsConn, Duration), ws::Refused> {
        ws::connect_placed(
            &self.ws_url(session_id),
            token,
            &self.token_placement(),
            &self.http.binding().envelope,
            &self.http.log,
            probe,
            self.settings.timeout,
        )
        .await
    }

    /// Close codes that mean "token revoked": the binding's, else the stream contract's
    /// `x-close-codes` entries that speak of revocation.
    pub fn revocation_codes(&self) -> Vec<u16> {
        if let Ok(s) = self.http.binding().stream()
            && !s.close_codes.revoked.is_empty()
        {
            return s.close_codes.revoked.clone();
        }
        self.ws_contract
            .close_codes
            .iter()
            .filter(|(_, meaning)| meaning.to_lowercase().contains("revok"))
            .map(|(code, _)| *code)
            .collect()
    }

    /// Creates a session for `token` and returns its id.
    pub async fn create_session(
        &self,
        token: &str,
        provider: &str,
        scenario: &str,
    ) -> Result<String, String> {
        let vars = vars(&[("provider", provider.into())]);
        let reply = self
            .call_role("session_create", None, Some(token), &vars, scenario)
            .await?;
        let source = self
            .http
            .binding()
            .role("session_create")?
            .outputs
            .get("session_id")
            .ok_or("role session_create has no session_id output")?;
        match reply.output(source) {
            Some(serde_json::Value::String(id)) if reply.is_success() => Ok(id),
            _ => Err(format!("creating a session failed ({})", describe(&reply))),
        }
    }
}

/// The `ping` frame's variables: now, in epoch milliseconds.
pub fn ping_vars(timestamp: i64) -> Vars {
    vars(&[("timestamp", timestamp.into())])
}

/// The `text` frame's variables.
pub fn text_vars(text: &str, message_id: &str) -> Vars {
    vars(&[("text", text.into()), ("message_id", message_id.into())])
}

/// Template variables from name/value pairs.
pub fn vars(pairs: &[(&str, serde_json::Value)]) -> Vars {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
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
    /// Security headers, CORS, the failed-login budget, readiness.
    pub security: Option<security::SecurityObservation>,
    /// The cache outage and the restart; `None` when their hooks were not given.
    pub outage: Option<Result<recovery::RecoveryObservation, String>>,
    pub restart: Option<Result<recovery::RecoveryObservation, String>>,
    /// The load phase (`--load`); `None` when it was not requested.
    pub load: Option<Result<load::LoadObservation, String>>,
    /// Propagation between instances (`--target` repeated); `None` with a single target.
    pub instances: Option<Result<instances::InstancesObservation, String>>,
}

/// Whether an HTTP method changes state on the target (what a read-only run never sends).
pub fn mutating(method: &str) -> bool {
    !matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE"
    )
}
