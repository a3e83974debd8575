//! WebSocket stream probes: connect time, heartbeat, event latency, malformed frames, resume and
//! throughput, all driven in sequence on one session created for them.
//!
//! They share one session because the resume step must know which events the earlier steps
//! produced (the "missed" events are defined by sequence numbers). Every wait runs against an
//! absolute deadline and every send is bounded too: a server that closes, sends garbage or never
//! answers costs the audit a few seconds, never a hang. Nothing here judges what came back — a
//! missing pong is recorded as `None`, a socket the server closed as its close code — so the
//! checks in `check::stream` stay the only place with opinions.

use super::ws::{self, ConnectionLog, Next, Received, WsConn};
use super::{Ctx, describe, ping_vars, text_vars};
use crate::binding::envelope::{Envelope, EventKind};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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
            &super::switch::providers(ctx)[0],
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

    /// Sends each malformed frame, waits for an `error` event, then checks the connection is
    /// still usable; a connection the server closed is replaced for the next frame.
    async fn malformed(&mut self) {
        let wait = self.wait;
        let mut conn: Option<WsConn> = None;
        let frames = malformed_frames(&self.ctx.http.binding().envelope);
        for (index, (label, frame)) in frames.into_iter().enumerate() {
            let mut result = MalformedResult {
                label: label.to_string(),
                frame: frame.clone().unwrap_or_default(),
                error_event: None,
                alive_after: false,
                closed: false,
                close_code: None,
                send_error: None,
            };
            let frame = match frame {
                Ok(f) => f,
                Err(reason) => {
                    result.send_error = Some(reason);
                    self.obs.malformed.push(result);
                    continue;
                }
            };
            if conn.as_ref().is_none_or(WsConn::is_closed) {
                if let Some(old) = conn.take() {
                    self.close(old).await;
                }
                match self.open(PROBE_MALFORMED).await {
                    Ok(fresh) => conn = Some(fresh),
                    Err(reason) => {
                        result.send_error = Some(reason);
                        self.obs.malformed.push(result);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let sent_at = Instant::now();
            if let Err(e) = bounded(wait, c.send_text(&frame)).await {
                result.send_error = Some(e);
                result.closed = c.is_closed();
                self.obs.malformed.push(result);
                continue;
            }
            loop {
                match c.next(sent_at + wait).await {
                    Next::Message(m) if m.is(EventKind::Error) => {
                        result.error_event = m.value;
                        break;
                    }
                    Next::Message(_) => continue,
                    Next::Closed { .. } | Next::Timeout | Next::Failed(_) => break,
                }
            }
            if !c.is_closed() {
                result.alive_after = alive(c, index, wait).await;
            }
            result.closed = c.is_closed();
            result.close_code = c.record.close_code;
            self.obs.malformed.push(result);
        }
        if let Some(c) = conn {
            self.close(c).await;
        }
    }

    /// Goes away after `live`, lets events happen (texts on another connection, a provider
    /// switch over REST), then reconnects with `resume` and records what is replayed.
    async fn resume(&mut self, live: WsConn) -> ResumeResult {
        let a = live.finish().await;
        let last_seen = last_seq(&a, true)
            .or_else(|| last_seq(&a, false))
            .unwrap_or(0);
        self.obs.connections.push(a);
        let mut result = ResumeResult {
            last_seen_seq: last_seen,
            waited: RESUME_WAIT.min(self.ctx.settings.timeout.max(self.wait)),
            ..ResumeResult::default()
        };
        let mut newest = last_seen;
        let mut problems = Vec::new();

        // Events the client misses: texts of another connection…
        match self.open(PROBE_RESUME).await {
            Ok(mut b) => {
                for i in 0..RESUME_TEXTS {
                    let text =
                        text_vars(&format!("While you were away {i}"), &format!("resume-{i}"));
                    if let Err(e) = bounded(self.wait, b.send_frame("text", &text)).await {
                        problems.push(format!("sending texts while away failed: {e}"));
                        break;
                    }
                }
                let deadline = Instant::now() + self.wait;
                let mut events = 0;
                while events < 2 * RESUME_TEXTS {
                    match b.next(deadline).await {
                        Next::Message(m) => {
                            if let Some(seq) = session_seq(&m) {
                                events += 1;
                                newest = newest.max(seq);
                            }
                        }
                        _ => break,
                    }
                }
                self.close(b).await;
            }
            Err(reason) => problems.push(format!("the second connection failed: {reason}")),
        }
        // …and a provider switch, announced by `provider_switched`.
        // Switching to the last allowed provider (the session starts on the first).
        let vars = super::vars(&[
            (
                "provider",
                json!(
                    super::switch::providers(self.ctx)
                        .last()
                        .cloned()
                        .unwrap_or_default()
                ),
            ),
            ("reason", json!("voice-audit resume probe")),
        ]);
        let reply = self
            .ctx
            .call_role(
                "switch",
                Some(&self.obs.session_id),
                Some(&self.ctx.user.access),
                &vars,
                SCENARIO,
            )
            .await;
        match &reply {
            Ok(r) if r.is_success() => {
                result.switch_exchange = Some(r.exchange_id.clone());
                newest += 1;
            }
            Ok(r) => {
                result.switch_exchange = Some(r.exchange_id.clone());
                problems.push(format!("the provider switch failed ({})", describe(r)));
            }
            Err(reason) => problems.push(format!("no provider switch: {reason}")),
        }

        let start = Instant::now();
        let mut c = match self
            .connect(PROBE_RESUME, Some(&self.ctx.user.access))
            .await
        {
            Ok((c, _)) => c,
            Err(refused) => {
                problems.push(format!("the reconnect failed: {refused}"));
                result.missed_seqs = (last_seen + 1..=newest).collect();
                result.error = Some(problems.join("; "));
                return result;
            }
        };
        let resume = super::vars(&[("last_seq", json!(last_seen))]);
        if let Err(e) = bounded(self.wait, c.send_frame("resume", &resume)).await {
            problems.push(format!("sending resume failed: {e}"));
        }
        let expected: BTreeSet<u64> = (last_seen + 1..=newest).collect();
        let mut got = BTreeSet::new();
        let deadline = Instant::now() + result.waited;
        while !expected.is_subset(&got) {
            match c.next(deadline).await {
                Next::Message(m) => {
                    if note_replay(&mut result, &m, start, &mut problems) {
                        break;
                    }
                    if let Some(seq) = session_seq(&m) {
                        got.insert(seq);
                    }
                }
                _ => break,
            }
        }
        // Where the session stands: a pong carries the last event's seq. It is asked only after
        // the replay, since a reply sent before it would (rightly) precede lower replayed seqs.
        if !c.is_closed() {
            let ping = ping_vars(epoch_millis());
            let sent_at = Instant::now();
            if bounded(self.wait, c.send_frame("ping", &ping))
                .await
                .is_ok()
            {
                loop {
                    match c.next(sent_at + self.wait).await {
                        Next::Message(m) if m.is(EventKind::Pong) => {
                            newest = newest.max(m.seq().unwrap_or(0));
                            break;
                        }
                        Next::Message(m) => {
                            note_replay(&mut result, &m, start, &mut problems);
                        }
                        _ => break,
                    }
                }
            }
        }
        self.close(c).await;
        result.missed_seqs = (last_seen + 1..=newest).collect();
        if result.missed_seqs.is_empty() {
            problems.push("no event was produced while the client was away".into());
        }
        if !problems.is_empty() {
            result.error = Some(problems.join("; "));
        }
        result
    }

    /// Sends `throughput_messages` texts back to back, then counts the events they cause.
    async fn throughput(&mut self) {
        let n = self.ctx.settings.throughput_messages;
        let mut c = match self.open(PROBE_THROUGHPUT).await {
            Ok(c) => c,
            Err(reason) => {
                self.obs.skip("throughput", &reason);
                return;
            }
        };
        let wait = THROUGHPUT_WAIT.max(self.ctx.settings.timeout);
        let first = Instant::now();
        let mut sent = 0;
        let mut send_error = None;
        for i in 0..n {
            let text = text_vars(&format!("Throughput message {i}"), &format!("tp-{i}"));
            match bounded(self.wait, c.send_frame("text", &text)).await {
                Ok(()) => sent += 1,
                Err(e) => {
                    send_error = Some(e);
                    break;
                }
            }
        }
        let expected = 2 * sent;
        let deadline = first + wait;
        let mut received = 0;
        let mut last = None;
        while received < expected {
            match c.next(deadline).await {
                Next::Message(m) => {
                    if m.kind().is_some_and(EventKind::is_session_event) {
                        received += 1;
                        last = Some(m.at);
                    }
                }
                _ => break,
            }
        }
        self.close(c).await;
        self.obs.throughput = Some(ThroughputResult {
            texts_sent: sent,
            events_expected: expected,
            events_received: received,
            elapsed: last.map_or(wait, |at| at.saturating_duration_since(first)),
            send_error,
        });
    }
}

/// A send that cannot block forever (a server that stops reading fills the socket buffers).
async fn bounded(
    wait: Duration,
    send: impl Future<Output = Result<(), String>>,
) -> Result<(), String> {
    tokio::time::timeout(wait, send)
        .await
        .unwrap_or_else(|_| Err(format!("sending timed out after {} ms", wait.as_millis())))
}

fn epoch_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The `seq` of a session event (`None` for replies and anything else).
fn session_seq(m: &Received) -> Option<u64> {
    if m.kind().is_some_and(EventKind::is_session_event) {
        m.seq()
    } else {
        None
    }
}

/// The last seq a connection saw: of session events only, or of replies only.
fn last_seq(log: &ConnectionLog, events: bool) -> Option<u64> {
    log.messages
        .iter()
        .filter(|m| {
            m.kind().is_some_and(if events {
                EventKind::is_session_event
            } else {
                EventKind::is_reply
            })
        })
        .filter_map(Received::seq)
        .next_back()
}

/// Records a message received after `resume`; returns whether it was an `error` event.
fn note_replay(
    result: &mut ResumeResult,
    m: &Received,
    start: Instant,
    problems: &mut Vec<String>,
) -> bool {
    if let Some(seq) = session_seq(m) {
        if result.replayed_seqs.is_empty() {
            result.reconnect_to_first = Some(m.at.saturating_duration_since(start));
        }
        result.replayed_seqs.push(seq);
        return false;
    }
    if m.is(EventKind::Error) {
        let field = |name: &str| {
            m.field(name)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        };
        problems.push(format!(
            "resume answered with error {}: {}",
            field("code"),
            field("message")
        ));
        return true;
    }
    false
}

/// Pings with distinct, increasing timestamps and records each pong (the next pong received).
async fn heartbeat(conn: &mut WsConn, wait: Duration) -> Vec<PingResult> {
    let mut pings = Vec::with_capacity(PINGS);
    let mut previous = 0;
    for _ in 0..PINGS {
        let timestamp = epoch_millis().max(previous + 1);
        previous = timestamp;
        let sent_at = Instant::now();
        let mut result = PingResult {
            sent_timestamp: timestamp,
            pong: None,
            rtt: None,
        };
        if bounded(wait, conn.send_frame("ping", &ping_vars(timestamp)))
            .await
            .is_ok()
            && let Some(pong) = conn
                .wait_for(sent_at + wait, |m| m.is(EventKind::Pong))
                .await
        {
            result.rtt = Some(pong.at.saturating_duration_since(sent_at));
            result.pong = pong.event.payload;
        }
        pings.push(result);
    }
    pings
}

/// Sends texts one at a time and times each to its transcript (matched by `message_id`).
async fn latencies(conn: &mut WsConn, samples: usize, wait: Duration) -> Vec<Option<Duration>> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = format!("lat-{i}");
        let text = text_vars(&format!("Latency sample {i}, all good"), &id);
        let sent_at = Instant::now();
        let mut took = None;
        if bounded(wait, conn.send_frame("text", &text)).await.is_ok() {
            took = conn
                .wait_for(sent_at + wait, |m| m.is_transcript_of(&id))
                .await
                .map(|m| m.at.saturating_duration_since(sent_at));
        }
        out.push(took);
    }
    out
}

/// Whether a connection still answers: a ping and a text are sent together and either the pong
/// or the text's transcript counts, so a server that ignores pings is not also failed here.
pub(crate) async fn alive(conn: &mut WsConn, index: usize, wait: Duration) -> bool {
    let id = format!("alive-{index}");
    let sent_at = Instant::now();
    let ping = ping_vars(epoch_millis());
    let text = text_vars("Are you still there?", &id);
    let ping_sent = bounded(wait, conn.send_frame("ping", &ping)).await.is_ok();
    let text_sent = bounded(wait, conn.send_frame("text", &text)).await.is_ok();
    if !ping_sent && !text_sent {
        return false;
    }
    conn.wait_for(sent_at + wait, |m| {
        m.is(EventKind::Pong) || m.is_transcript_of(&id)
    })
    .await
    .is_some()
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
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::check::stream::findings;
    use voice_reference_server::{Application, Faults, Settings};

    async fn server(
        dir: &tempfile::TempDir,
        faults: Faults,
    ) -> voice_reference_server::ServerHandle {
        let db = dir.path().join("stream.db");
        let settings =
            Settings::ephemeral(format!("sqlite://{}?mode=rwc", db.display())).with_faults(faults);
        Application::build(settings)
            .await
            .expect("reference server starts")
            .spawn()
    }

    fn value(findings: &[crate::check::Finding], id: &str) -> f64 {
        let finding = findings.iter().find(|f| f.check_id == id).expect(id);
        match &finding.outcome {
            Outcome::Measured { value, .. } => *value,
            Outcome::NotAssessed { reason } => panic!("{id} not assessed: {reason}"),
            Outcome::Failed { reason } => panic!("{id} failed: {reason}"),
        }
    }

    #[tokio::test]
    async fn the_reference_server_passes_every_stream_check() {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = server(&dir, Faults::default()).await;
        let ctx = test_ctx(&server.base_url(), &server.ws_base_url()).await;
        let observed = probe(&ctx).await;
        server.shutdown().await;
        let obs = observed.expect("the stream probes run");
        assert_eq!(obs.no_token_status, Some(401));
        let found = findings(Some(&Ok(obs.clone())), &obs.connections, &ctx.ws_contract);
        assert_eq!(found.len(), 10);
        for f in &found {
            eprintln!("{}: {:?} — {}", f.check_id, f.outcome, f.summary);
            assert!(f.details.is_empty(), "{}: {:?}", f.check_id, f.details);
        }
        for id in [
            "ws.heartbeat",
            "ws.resume_no_loss",
            "ws.event_schema",
            "ws.ordering",
            "ws.malformed_handling",
            "auth.ws_upgrade_refused",
        ] {
            assert_eq!(value(&found, id), 1.0, "{id}");
        }
        assert!(value(&found, "ws.connect_time") < 500.0);
        assert!(value(&found, "ws.event_latency") < 100.0);
        assert!(value(&found, "ws.reconnect_time") < 2000.0);
        assert!(value(&found, "ws.throughput") > 100.0);
        let resume = obs.resume.expect("resume ran");
        assert_eq!(resume.missed_seqs.len(), 2 * RESUME_TEXTS + 1, "{resume:?}");
    }

    /// Runs the probe against a server with `fault` and returns the value of check `id`.
    async fn value_under_fault(fault: &str, id: &str) -> f64 {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = server(&dir, Faults::only(fault).expect("known fault")).await;
        let mut ctx = test_ctx(&server.base_url(), &server.ws_base_url()).await;
        ctx.settings.timeout = Duration::from_millis(600);
        ctx.settings.latency_samples = 3;
        ctx.settings.throughput_messages = 4;
        let observed = probe(&ctx).await;
        server.shutdown().await;
        let obs = observed.expect("the stream probes run");
        value(
            &findings(Some(&Ok(obs.clone())), &obs.connections, &ctx.ws_contract),
            id,
        )
    }

    #[tokio::test]
    async fn reused_seqs_fail_ordering() {
        assert!(value_under_fault("seq-disorder", "ws.ordering").await < 1.0);
    }

    #[tokio::test]
    async fn a_string_confidence_fails_the_event_schema() {
        assert!(value_under_fault("bad-event-schema", "ws.event_schema").await < 1.0);
    }

    #[tokio::test]
    async fn closing_on_malformed_frames_fails_malformed_handling() {
        assert_eq!(
            value_under_fault("malformed-closes", "ws.malformed_handling").await,
            0.0
        );
    }

    #[tokio::test]
    async fn an_ignored_resume_loses_every_missed_event() {
        assert_eq!(
            value_under_fault("no-resume", "ws.resume_no_loss").await,
            0.0
        );
    }

    #[tokio::test]
    async fn delayed_events_show_in_the_event_latency() {
        assert!(value_under_fault("slow-events", "ws.event_latency").await >= 250.0);
    }

    #[tokio::test]
    async fn a_server_without_pongs_fails_the_heartbeat_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = server(&dir, Faults::only("no-pong").expect("known fault")).await;
        let mut ctx = test_ctx(&server.base_url(), &server.ws_base_url()).await;
        // Every ping waits out its timeout here; keep the waits short.
        ctx.settings.timeout = Duration::from_millis(400);
        ctx.settings.latency_samples = 3;
        ctx.settings.throughput_messages = 20;
        let observed = probe(&ctx).await;
        server.shutdown().await;
        let obs = observed.expect("the stream probes run");
        let found = findings(Some(&Ok(obs.clone())), &obs.connections, &ctx.ws_contract);
        assert_eq!(value(&found, "ws.heartbeat"), 0.0);
        assert_eq!(
            value(&found, "ws.malformed_handling"),
            1.0,
            "liveness falls back to a text"
        );
        assert_eq!(value(&found, "ws.resume_no_loss"), 1.0);
    }
}
