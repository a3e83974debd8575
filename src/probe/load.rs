//! Load phase (`--load`): drives bound roles (health, an authenticated read, a switch, stream
//! connects) step by step, then asks whether `/health` still answers.
//!
//! Why it exists: a backend can pass every functional check one request at a time and still
//! collapse at a few dozen concurrent users. The load phase makes that visible as errors,
//! timeouts and a health endpoint that stops answering, which the `perf.load` check scores.
//!
//! Two step shapes, because they answer different questions:
//! - `rN` (open loop, constant arrival rate): N requests per second on a fixed schedule. Each
//!   latency is measured from the request's *intended* send time, so a server that stalls is
//!   charged for every request the stall delayed (no coordinated omission).
//! - `cN` (closed loop, as wrk does): N clients sending back to back; this finds the peak rate.
//!   Closed-loop latencies are service times; a stall shows as timeouts and a low rate.
//!
//! Load requests bypass the evidence log (thousands of exchanges would drown it) and never count
//! towards `errors.availability`; the per-step figures are the evidence.

use super::{Ctx, vars, ws};
use crate::binding::template::Vars;
use crate::evidence::EvidenceLog;
use crate::stats::Latencies;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Requests an open-loop step keeps in flight at most; later ones wait (and are charged for it).
const MAX_IN_FLIGHT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadRole {
    Health,
    /// The `me` role with the audit user's token.
    Read,
    /// The `switch` role on a session of the audit user, alternating two providers.
    Switch,
    /// Stream upgrades to a session of the audit user, closed at once.
    Stream,
}

impl LoadRole {
    pub fn parse(s: &str) -> Result<LoadRole, String> {
        match s.trim() {
            "health" => Ok(LoadRole::Health),
            "read" | "me" => Ok(LoadRole::Read),
            "switch" => Ok(LoadRole::Switch),
            "stream" => Ok(LoadRole::Stream),
            other => Err(format!(
                "{other:?} is not a load role (health, read, switch, stream)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LoadRole::Health => "health",
            LoadRole::Read => "read",
            LoadRole::Switch => "switch",
            LoadRole::Stream => "stream",
        }
    }

    /// Whether the role changes state on the target (or needs a session created for it).
    pub fn mutates(self) -> bool {
        matches!(self, LoadRole::Switch | LoadRole::Stream)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadStep {
    /// This many clients sending back to back.
    Concurrency(usize),
    /// This many requests per second on a fixed schedule.
    Rate(f64),
}

impl LoadStep {
    /// `c64` (or `64`): 64 concurrent clients; `r200`: 200 requests per second.
    pub fn parse(s: &str) -> Result<LoadStep, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not a load step (c64: 64 clients, r200: 200 req/s)");
        if let Some(rate) = s.strip_prefix('r') {
            let r: f64 = rate.parse().map_err(|_| bad())?;
            return (r.is_finite() && r > 0.0 && r <= 1_000_000.0)
                .then_some(LoadStep::Rate(r))
                .ok_or_else(bad);
        }
        let n: usize = s
            .strip_prefix('c')
            .unwrap_or(s)
            .parse()
            .map_err(|_| bad())?;
        (1..=10_000)
            .contains(&n)
            .then_some(LoadStep::Concurrency(n))
            .ok_or_else(bad)
    }
}

impl std::fmt::Display for LoadStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadStep::Concurrency(n) => write!(f, "{n} concurrent clients"),
            LoadStep::Rate(r) => write!(f, "{r} req/s"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub roles: Vec<LoadRole>,
    pub steps: Vec<LoadStep>,
    pub step_duration: Duration,
    /// A request not answered within this is a timeout.
    pub timeout: Duration,
}

/// One step of one role.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub role: LoadRole,
    pub step: LoadStep,
    /// From the step's start to its last answer.
    pub elapsed: Duration,
    pub sent: u64,
    /// 2xx/3xx answers (an open stream for `stream`).
    pub ok: u64,
    /// 4xx answers: refused, but answered (a rate limit is not a collapse).
    pub refused: u64,
    /// 5xx answers and transport failures.
    pub errors: u64,
    pub timeouts: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl StepResult {
    pub fn answered(&self) -> u64 {
        self.ok + self.refused
    }

    /// Answers per second.
    pub fn throughput(&self) -> f64 {
        self.answered() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `/health` asked once after the last step.
#[derive(Debug, Clone)]
pub struct HealthAfter {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct LoadObservation {
    pub steps: Vec<StepResult>,
    /// Roles that could not be driven, with the reason (unbound, read-only…).
    pub skipped: Vec<(LoadRole, String)>,
    pub health_after: HealthAfter,
}

enum Kind {
    Ok,
    Refused,
    Error,
    Timeout,
}

/// What one request of a role is.
enum Shot {
    Http {
        method: reqwest::Method,
        url: String,
        headers: Vec<(String, String)>,
        /// Bodies sent in turn (a switch alternates providers); empty for none.
        bodies: Vec<String>,
    },
    Stream {
        ctx: Box<Ctx>,
        session_id: String,
    },
}

pub async fn probe(ctx: &Ctx, plan: &LoadPlan) -> Result<LoadObservation, String> {
    let client = super::client::build_client(plan.timeout)?;
    let mut obs = LoadObservation {
        steps: Vec::new(),
        skipped: Vec::new(),
        health_after: HealthAfter {
            status: None,
            error: None,
            elapsed: Duration::ZERO,
        },
    };
    for role in &plan.roles {
        let shot = match prepare(ctx, *role).await {
            Ok(s) => Arc::new(s),
            Err(reason) => {
                obs.skipped.push((*role, reason));
                continue;
            }
        };
        for step in &plan.steps {
            let tally = match step {
                LoadStep::Concurrency(n) => closed(&shot, &client, *n, plan).await,
                LoadStep::Rate(r) => open(&shot, &client, *r, plan).await,
            };
            obs.steps.push(tally.result(*role, *step));
        }
    }
    if obs.steps.is_empty() {
        let why: Vec<String> = obs
            .skipped
            .iter()
            .map(|(r, why)| format!("{}: {why}", r.name()))
            .collect();
        return Err(format!("no load role could be driven ({})", why.join("; ")));
    }
    let health = prepare(ctx, LoadRole::Health).await?;
    let start = Instant::now();
    let (status, error) = match fire(&health, &client, 0, plan.timeout).await {
        (Kind::Timeout, _) => (None, Some("timed out".to_string())),
        (_, Ok(s)) => (Some(s), None),
        (_, Err(e)) => (None, Some(e)),
    };
    obs.health_after = HealthAfter {
        status,
        error,
        elapsed: start.elapsed(),
    };
    Ok(obs)
}

async fn prepare(ctx: &Ctx, role: LoadRole) -> Result<Shot, String> {
    if role.mutates() && ctx.settings.read_only {
        return Err("read-only: the role changes state on the target".into());
    }
    let token = ctx.user.access.clone();
    match role {
        LoadRole::Health => http_shot(ctx, "health", None, None, &[Vars::new()]),
        LoadRole::Read => http_shot(ctx, "me", Some(&token), None, &[Vars::new()]),
        LoadRole::Switch => {
            let providers = super::switch::providers(ctx)?;
            if providers.len() < 2 {
                return Err("the binding names fewer than two providers".into());
            }
            let sid = ctx.create_session(&token, &providers[0], "load").await?;
            let each: Vec<Vars> = [&providers[1], &providers[0]]
                .iter()
                .map(|p| {
                    vars(&[
                        ("provider", json!(p)),
                        ("reason", json!("voice-audit load")),
                    ])
                })
                .collect();
            http_shot(ctx, "switch", Some(&token), Some(&sid), &each)
        }
        LoadRole::Stream => {
            let providers = super::switch::providers(ctx)?;
            let first = providers.first().ok_or("the binding names no provider")?;
            let session_id = ctx.create_session(&token, first, "load").await?;
            Ok(Shot::Stream {
                ctx: Box::new(ctx.clone()),
                session_id,
            })
        }
    }
}

/// A plain HTTP request of a bound role, rendered once per entry of `each` (requests take
/// them in turn: a switch alternates two providers).
fn http_shot(
    ctx: &Ctx,
    role: &str,
    token: Option<&str>,
    id: Option<&str>,
    each: &[Vars],
) -> Result<Shot, String> {
    let mut method = String::new();
    let mut path = String::new();
    let mut bodies = Vec::new();
    for v in each {
        let (m, p, body) = ctx.role_request(role, id, v)?;
        (method, path) = (m, p);
        if let super::client::Body::Json(b) = body {
            bodies.push(b.to_string());
        }
    }
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(ctx.http.binding().auth.header(t));
    }
    if !bodies.is_empty() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(Shot::Http {
        method,
        url: format!("{}{}", ctx.http.base(), path),
        headers,
        bodies,
    })
}

/// 5xx is an error, 4xx a refusal (answered), anything else an answer.
fn classify(status: u16) -> Kind {
    match status {
        500.. => Kind::Error,
        400..500 => Kind::Refused,
        _ => Kind::Ok,
    }
}

/// Sends request `i` of a shot; the status (or the failure) next to its kind.
async fn fire(
    shot: &Shot,
    client: &reqwest::Client,
    i: usize,
    timeout: Duration,
) -> (Kind, Result<u16, String>) {
    match shot {
        Shot::Http {
            method,
            url,
            headers,
            bodies,
        } => {
            let mut request = client.request(method.clone(), url.as_str());
            for (k, v) in headers {
                request = request.header(k.as_str(), v.as_str());
            }
            if !bodies.is_empty() {
                request = request.body(bodies[i % bodies.len()].clone());
            }
            let sent = async {
                let response = request.send().await?;
                let status = response.status().as_u16();
                response.bytes().await?;
                Ok::<u16, reqwest::Error>(status)
            };
            // The client's own timeout (`plan.timeout`) bounds the whole exchange.
            match sent.await {
                Err(e) if e.is_timeout() => (Kind::Timeout, Err("timed out".into())),
                Err(e) => (Kind::Error, Err(e.to_string())),
                Ok(s) => (classify(s), Ok(s)),
            }
        }
        Shot::Stream { ctx, session_id } => {
            let log = EvidenceLog::default();
            let (url, placement) = (ctx.ws_url(session_id), ctx.token_placement());
            let connect = ws::connect_placed(
                &url,
                Some(&ctx.user.access),
                &placement,
                &ctx.http.binding().envelope,
                &log,
                "load",
                timeout,
            );
            match tokio::time::timeout(timeout, connect).await {
                Err(_) => (Kind::Timeout, Err("timed out".into())),
                Ok(Ok((conn, _))) => {
                    conn.finish().await;
                    (Kind::Ok, Ok(101))
                }
                Ok(Err(refused)) => match refused.status {
                    Some(s) => (classify(s), Ok(s)),
                    None => (Kind::Error, Err(refused.message)),
                },
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies: Latencies,
    sent: u64,
    ok: u64,
    refused: u64,
    errors: u64,
    timeouts: u64,
    elapsed: Duration,
}

impl Tally {
    fn record(&mut self, kind: Kind, latency: Duration) {
        self.sent += 1;
        self.latencies.record(latency);
        match kind {
            Kind::Ok => self.ok += 1,
            Kind::Refused => self.refused += 1,
            Kind::Error => self.errors += 1,
            Kind::Timeout => self.timeouts += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.merge(&other.latencies);
        self.sent += other.sent;
        self.ok += other.ok;
        self.refused += other.refused;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
    }

    fn result(self, role: LoadRole, step: LoadStep) -> StepResult {
        let q = |q: f64| self.latencies.quantile_ms(q).unwrap_or(0.0);
        StepResult {
            role,
            step,
            elapsed: self.elapsed,
            sent: self.sent,
            ok: self.ok,
            refused: self.refused,
            errors: self.errors,
            timeouts: self.timeouts,
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            max_ms: self.latencies.max_ms().unwrap_or(0.0),
        }
    }
}

/// `n` clients, each sending its next request when the previous one is answered: over raw
/// HTTP/1.1 connections for plain http (see `load_raw`), else through reqwest.
async fn closed(shot: &Arc<Shot>, client: &reqwest::Client, n: usize, plan: &LoadPlan) -> Tally {
    let start = Instant::now();
    let end = start + plan.step_duration;
    let timeout = plan.timeout;
    let mut set = JoinSet::new();
    let raw = match shot.as_ref() {
        Shot::Http {
            method,
            url,
            headers,
            bodies,
        } => super::load_raw::Raw::new(method, url, headers, bodies).map(Arc::new),
        Shot::Stream { .. } => None,
    };
    for worker in 0..n {
        if let Some(raw) = &raw {
            let raw = Arc::clone(raw);
            set.spawn(async move {
                let mut tally = Tally::default();
                let mut conn = super::load_raw::Conn::default();
                let mut i = worker;
                while Instant::now() < end {
                    let sent_at = Instant::now();
                    let kind = match conn.send(&raw, i, timeout).await {
                        Ok(status) => classify(status),
                        Err(true) => Kind::Timeout,
                        Err(false) => Kind::Error,
                    };
                    tally.record(kind, sent_at.elapsed());
                    i += n;
                }
                tally
            });
            continue;
        }
        // A connection pool per client: one shared pool is a lock every request takes.
        let own = super::client::build_client(timeout).unwrap_or_else(|_| client.clone());
        let shot = Arc::clone(shot);
        set.spawn(async move {
            let mut tally = Tally::default();
            let mut i = worker;
            while Instant::now() < end {
                let sent_at = Instant::now();
                let (kind, _) = fire(&shot, &own, i, timeout).await;
                tally.record(kind, sent_at.elapsed());
                i += n;
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(done) = set.join_next().await {
        if let Ok(t) = done {
            total.merge(t);
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// `rate` requests per second on a fixed schedule, each timed from its intended send time.
async fn open(shot: &Arc<Shot>, client: &reqwest::Client, rate: f64, plan: &LoadPlan) -> Tally {
    let start = Instant::now();
    let count = (rate * plan.step_duration.as_secs_f64()).ceil().max(1.0) as usize;
    let gap = Duration::from_secs_f64(1.0 / rate);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut set = JoinSet::new();
    let mut total = Tally::default();
    for i in 0..count {
        let intended = start + gap.mul_f64(i as f64);
        tokio::time::sleep_until(intended.into()).await;
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let (shot, client, timeout) = (Arc::clone(shot), client.clone(), plan.timeout);
        set.spawn(async move {
            let (kind, _) = fire(&shot, &client, i, timeout).await;
            drop(slot);
            (kind, intended.elapsed())
        });
        while let Some(Ok((kind, latency))) = set.try_join_next() {
            total.record(kind, latency);
        }
    }
    while let Some(done) = set.join_next().await {
        if let Ok((kind, latency)) = done {
            total.record(kind, latency);
        }
    }
    total.elapsed = start.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_roles_parse() {
        assert_eq!(LoadStep::parse("c64"), Ok(LoadStep::Concurrency(64)));
        assert_eq!(LoadStep::parse("8"), Ok(LoadStep::Concurrency(8)));
        assert_eq!(LoadStep::parse("r250"), Ok(LoadStep::Rate(250.0)));
        for bad in ["c0", "r0", "x", "r-1", "c99999"] {
            assert!(LoadStep::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(LoadRole::parse("me"), Ok(LoadRole::Read));
        assert!(LoadRole::parse("delete").is_err());
        assert!(LoadRole::Switch.mutates() && !LoadRole::Health.mutates());
    }
}
