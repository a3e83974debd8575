//! WebSocket stream probes: connect time, heartbeat, event latency, malformed frames, resume and
//! throughput, all driven in sequence on one session created for them.
//!
//! They share one session because the resume step must know which events the earlier steps
//! produced (the "missed" events are defined by sequence numbers). Every wait runs against an
//! absolute deadline and every send is bounded too: a server that closes, sends garbage or never
//! answers costs the audit a few seconds, never a hang. Nothing here judges what came back — a
//! missing pong is recorded as `None`, a socket the server closed as its close code — so the
//! checks in `check::stream` stay the only place with opinions.

mod resume;
mod steps;

use super::ws::{self, ConnectionLog, WsConn};
use super::{Ctx, ping_vars, text_vars};
use crate::binding::envelope::Envelope;
use serde_json::{Value, json};
use std::time::Duration;
pub(crate) use steps::alive;
use steps::{heartbeat, latencies};

/// Scenario tag of the REST calls made here (evidence).
const SCENARIO: &str = "stream";
/// Sequential connects timed for `ws.connect_time`.
const CONNECTS: usize = 10;
/// Pings of the heartbeat step.
const PINGS: usize = 5;
/// Longest wait for one reply (pong, transcript, error event).
const STEP_WAIT: Duration = Duration::from_secs(2);
/// How long the replay after `resume` may take to arrive.
const RESUME_WAIT: Duration = Duration::from_secs(3);
/// How long the throughput step waits for every event.
const THROUGHPUT_WAIT: Duration = Duration::from_secs(10);
/// Texts sent while the resuming client is away.
const RESUME_TEXTS: usize = 3;

/// Connection labels (`ConnectionLog::probe`), which the checks use to cite evidence.
pub const PROBE_NO_TOKEN: &str = "stream.no_token";
pub const PROBE_CONNECT: &str = "stream.connect";
pub const PROBE_LIVE: &str = "stream.live";
pub const PROBE_MALFORMED: &str = "stream.malformed";
pub const PROBE_RESUME: &str = "stream.resume";
pub const PROBE_THROUGHPUT: &str = "stream.throughput";

/// The frames of the malformed step, built from the binding's templates: what is wrong with
/// each, and the frame itself (`Err`: the binding's frames cannot express that defect).
fn malformed_frames(envelope: &Envelope) -> Vec<(&'static str, Result<String, String>)> {
    let text = text_vars("Malformed on purpose", "malformed");
    let resume = super::vars(&[("last_seq", json!("x"))]);
    vec![
        ("not JSON", Ok("{oops".to_string())),
        (
            "unknown type",
            envelope
                .with_unknown_type(&ping_vars(epoch_millis()), "voice-audit-teleport")
                .map(|v| v.to_string()),
        ),
        (
            "missing required field",
            envelope.without_text(&text).map(|v| v.to_string()),
        ),
        (
            "wrong field type",
            envelope.frame("resume", &resume).map(|v| v.to_string()),
        ),
    ]
}

/// What the stream probes observed on one session created for them.
#[derive(Debug, Clone, Default)]
pub struct StreamObservation {
    pub session_id: String,
    /// Handshake durations of the successful connects.
    pub connect_times: Vec<Duration>,
    /// Why the other connects failed.
    pub connect_failures: Vec<String>,
    /// The handshake timeout the connects ran with.
    pub connect_timeout: Duration,
    /// HTTP status of an upgrade attempted without a token (`None`: it was accepted or failed
    /// without an HTTP answer — see `no_token_error`).
    pub no_token_status: Option<u16>,
    pub no_token_error: Option<String>,
    /// HTTP status of an upgrade with a valid token to a session that does not exist.
    pub unknown_session_status: Option<u16>,
    /// Set when that upgrade was accepted or failed without an HTTP answer.
    pub unknown_session_error: Option<String>,
    pub pings: Vec<PingResult>,
    pub malformed: Vec<MalformedResult>,
    pub resume: Option<ResumeResult>,
    /// Per text message: time from send to its transcript (`None`: never arrived).
    pub latencies: Vec<Option<Duration>>,
    /// How long one reply (pong, transcript, error event) was waited for.
    pub step_wait: Duration,
    pub throughput: Option<ThroughputResult>,
    /// Steps that could not run at all (`heartbeat`, `latency`, `malformed`, `resume`,
    /// `throughput`), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Every connection the stream probes opened, with what it received.
    pub connections: Vec<ConnectionLog>,
}

impl StreamObservation {
    /// Why `step` could not run, if it could not.
    pub fn skipped_reason(&self, step: &str) -> Option<&str> {
        self.skipped
            .iter()
            .find(|(s, _)| s == step)
            .map(|(_, r)| r.as_str())
    }

    fn skip(&mut self, step: &str, reason: &str) {
        self.skipped.push((step.to_string(), reason.to_string()));
    }
}

#[derive(Debug, Clone)]
pub struct PingResult {
    /// The `timestamp` sent in the ping.
    pub sent_timestamp: i64,
    /// The pong, if one arrived in time.
    pub pong: Option<Value>,
    pub rtt: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct MalformedResult {
    /// What was wrong with the frame (`not JSON`, `unknown type`, `schema violation`).
    pub label: String,
    pub frame: String,
    /// The `error` event answering it, if any.
    pub error_event: Option<Value>,
    /// Whether the connection still answered afterwards (a pong to a ping, or — so that a
    /// server ignoring pings is not blamed twice — the transcript of a text).
    pub alive_after: bool,
    /// Whether the server closed the connection instead.
    pub closed: bool,
    /// Close code if the server closed the connection instead.
    pub close_code: Option<u16>,
    /// Why the frame could not be sent (no connection, send failed).
    pub send_error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ResumeResult {
    /// The last session `seq` the first connection saw before it went away (the `last_seq`
    /// sent in `resume`).
    pub last_seen_seq: u64,
    /// `seq` of the events produced while the client was away.
    pub missed_seqs: Vec<u64>,
    /// `seq` of the events replayed after `resume`, in arrival order.
    pub replayed_seqs: Vec<u64>,
    /// From the start of the reconnect to the first replayed event.
    pub reconnect_to_first: Option<Duration>,
    /// How long the replay was waited for.
    pub waited: Duration,
    /// Evidence id of the provider switch made while the client was away.
    pub switch_exchange: Option<String>,
    /// Why the resume could not be exercised or what went wrong (`error` event, refusal).
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ThroughputResult {
    pub texts_sent: usize,
    pub events_expected: usize,
    pub events_received: usize,
    /// From the first send to the last event received (the whole wait if none arrived).
    pub elapsed: Duration,
    /// Why sending stopped early, if it did.
    pub send_error: Option<String>,
}

/// Runs every stream probe on a fresh session of the audit user.
///
/// `Err` only when nothing can run: no session could be created, or every connect was refused.
pub async fn probe(ctx: &Ctx) -> Result<StreamObservation, String> {
    let session_id = ctx
        .create_session(
            &ctx.user.access,
            &super::switch::providers(ctx)?[0],
            SCENARIO,
        )
        .await?;
    let mut run = Run::new(ctx, session_id);
    run.no_token().await;
    run.unknown_session().await;
    run.connects().await?;
    match run.open(PROBE_LIVE).await {
        Ok(mut live) => {
            run.obs.pings = heartbeat(&mut live, run.wait).await;
            run.obs.latencies = latencies(&mut live, ctx.settings.latency_samples, run.wait).await;
            // `live` stays open meanwhile, so its last seq covers the events these steps cause.
            run.malformed().await;
            let resume = run.resume(live).await;
            run.obs.resume = Some(resume);
        }
        Err(reason) => {
            for step in ["heartbeat", "latency", "resume"] {
                run.obs.skip(step, &reason);
            }
            run.malformed().await;
        }
    }
    run.throughput().await;
    Ok(run.obs)
}

struct Run<'a> {
    ctx: &'a Ctx,
    url: String,
    wait: Duration,
    obs: StreamObservation,
}

impl<'a> Run<'a> {
    fn new(ctx: &'a Ctx, session_id: String) -> Run<'a> {
        let wait = STEP_WAIT.min(ctx.settings.timeout);
        Run {
            ctx,
            url: ctx.ws_url(&session_id),
            wait,
            obs: StreamObservation {
                session_id,
                connect_timeout: ctx.settings.timeout,
                step_wait: wait,
                ..StreamObservation::default()
            },
        }
    }

    async fn connect(
        &self,
        probe: &str,
        token: Option<&str>,
    ) -> Result<(WsConn, Duration), ws::Refused> {
        ws::connect_placed(
            &self.url,
            token,
            &self.ctx.token_placement(),
            &self.ctx.http.binding().envelope,
            &self.ctx.http.log,
            probe,
            self.ctx.settings.timeout,
        )
        .await
    }

    async fn open(&self, probe: &str) -> Result<WsConn, String> {
        self.connect(probe, Some(&self.ctx.user.access))
            .await
            .map(|(conn, _)| conn)
            .map_err(|r| format!("connecting failed: {r}"))
    }

    async fn close(&mut self, conn: WsConn) {
        let log = conn.finish().await;
        self.obs.connections.push(log);
    }

    /// An upgrade with a valid token to a session that does not exist must be refused too.
    async fn unknown_session(&mut self) {
        let session = uuid::Uuid::new_v4().to_string();
        match self
            .ctx
            .ws_connect(&session, Some(&self.ctx.user.access), PROBE_NO_TOKEN)
            .await
        {
            Ok((conn, _)) => {
                self.obs.unknown_session_error = Some(format!(
                    "the upgrade to unknown session {session} was accepted"
                ));
                self.close(conn).await;
            }
            Err(refused) => {
                self.obs.unknown_session_status = refused.status;
                if refused.status.is_none() {
                    self.obs.unknown_session_error = Some(refused.message);
                }
            }
        }
    }

    /// An upgrade without any token must be refused (the contract says 401).
    async fn no_token(&mut self) {
        match self.connect(PROBE_NO_TOKEN, None).await {
            Ok((conn, _)) => {
                self.obs.no_token_error = Some("the upgrade was accepted without a token".into());
                self.close(conn).await;
            }
            Err(refused) => {
                self.obs.no_token_status = refused.status;
                if refused.status.is_none() {
                    self.obs.no_token_error = Some(refused.message);
                }
            }
        }
    }

    async fn connects(&mut self) -> Result<(), String> {
        for _ in 0..CONNECTS {
            match self
                .connect(PROBE_CONNECT, Some(&self.ctx.user.access))
                .await
            {
                Ok((conn, took)) => {
                    self.obs.connect_times.push(took);
                    self.close(conn).await;
                }
                Err(refused) => self.obs.connect_failures.push(refused.to_string()),
            }
        }
        if self.obs.connect_times.is_empty() {
            let first = self
                .obs
                .connect_failures
                .first()
                .cloned()
                .unwrap_or_default();
            return Err(format!("the stream refused every connection ({first})"));
        }
        Ok(())
    }
}

/// A send that cannot block forever (a server that stops reading fills the socket buffers).
pub(crate) async fn bounded(
    wait: Duration,
    send: impl Future<Output = Result<(), String>>,
) -> Result<(), String> {
    tokio::time::timeout(wait, send)
        .await
        .unwrap_or_else(|_| Err(format!("sending timed out after {} ms", wait.as_millis())))
}

pub(crate) fn epoch_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
pub(crate) async fn test_ctx(base: &str, ws_base: &str) -> Ctx {
    use crate::contract::{self, ApiContract, WsContract};
    use crate::evidence::EvidenceLog;
    use std::sync::Arc;

    let api = Arc::new(
        ApiContract::parse(contract::BUNDLED_OPENAPI, "bundled").expect("bundled OpenAPI loads"),
    );
    let ws_contract = Arc::new(
        WsContract::parse(contract::BUNDLED_ASYNCAPI, "bundled").expect("bundled AsyncAPI loads"),
    );
    let http = super::client::Http::new(base, api, EvidenceLog::default(), Duration::from_secs(10))
        .expect("client");
    let user = super::auth::register(&http, "setup")
        .await
        .expect("registering the audit user");
    Ctx {
        http,
        ws_contract,
        ws_base: ws_base.to_string(),
        settings: super::ProbeSettings {
            latency_samples: 10,
            throughput_messages: 100,
            ..super::ProbeSettings::default()
        },
        user,
    }
}

#[cfg(test)]
mod tests;
