//! The provider-switch scenario: a live stream on one session, texts flowing, and the provider
//! switched N times in the middle of it (round robin over the contract's providers); then an
//! invalid provider, auto-failover (unforced and forced), read-back of the persisted state, and
//! the end of the session.
//!
//! The probe only records replies, latencies and the stream; `check::switching` decides what
//! they mean (context counts are judged against the order of events on the stream).

use super::Ctx;
use super::client::{Body, Reply};
use super::ws::{self, ConnectionLog, Received};
use crate::binding::envelope::EventKind;
use crate::binding::template::Vars;
use crate::stats::Latencies;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SCENARIO: &str = "provider-switch";

#[derive(Debug, Clone)]
pub struct SwitchAttempt {
    pub from: String,
    pub to: String,
    pub exchange_id: String,
    pub status: Option<u16>,
    pub latency: Duration,
    pub response: Option<Value>,
    /// The switch role's `success` output (`None`: the answer did not say); without such an
    /// output, whether the status was 2xx.
    pub success: Option<bool>,
    /// The switch role's `context_preserved` output: how many messages the switch carried.
    pub context_preserved: Option<Value>,
    /// `message_id` of the text sent right after the switch (answered by the new provider).
    pub text_after: String,
}

#[derive(Debug, Clone, Default)]
pub struct SwitchObservation {
    pub session_id: String,
    pub initial_provider: String,
    pub attempts: Vec<SwitchAttempt>,
    /// `message_id`s of every text sent on the stream, in order.
    pub texts: Vec<String>,
    /// The stream of the scenario (also handed to the ordering and schema checks).
    pub stream: ConnectionLog,
    pub invalid_provider: Option<Reply>,
    /// The session read back after the invalid-provider attempt.
    pub after_invalid: Option<Value>,
    pub failover_unforced: Option<Reply>,
    pub failover_forced: Option<Reply>,
    pub switch_status: Option<Value>,
    pub switch_history: Option<Value>,
    /// The session read back before it was ended.
    pub session_before_end: Option<Value>,
    /// The page of `GET sessions?provider=…&status=active` read before the end.
    pub filtered_list: Option<Value>,
    pub end: Option<Reply>,
    pub session_after_end: Option<Value>,
}

impl SwitchObservation {
    pub fn events(&self) -> &[Received] {
        &self.stream.messages
    }

    /// Successful switch latencies.
    pub fn latencies(&self) -> Latencies {
        let mut l = Latencies::new();
        for a in self
            .attempts
            .iter()
            .filter(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
        {
            l.record(a.latency);
        }
        l
    }
}

/// The providers the contract allows, in order.
pub fn providers(ctx: &Ctx) -> Vec<String> {
    ctx.api()
        .document()
        .pointer("/components/schemas/Provider/enum")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|v| v.len() >= 2)
        .unwrap_or_else(|| vec!["gemini".into(), "openai".into(), "deepgram".into()])
}

/// Roles the switch scenario drives; any one unbound keeps the scenario from running.
const ROLES: &[&str] = &[
    "session_create",
    "session_get",
    "session_list",
    "session_end",
    "switch",
    "switch_status",
    "switch_history",
    "auto_failover",
];

pub async fn probe(ctx: &Ctx) -> Result<SwitchObservation, String> {
    for role in ROLES {
        ctx.http.binding().role(role)?;
    }
    let providers = providers(ctx);
    let token = ctx.user.access.clone();
    let session_id = ctx.create_session(&token, &providers[0], SCENARIO).await?;
    let (mut conn, _) = ctx
        .ws_connect(&session_id, Some(&token), SCENARIO)
        .await
        .map_err(|e| format!("the session stream refused the scenario's connection: {e}"))?;
    let mut obs = SwitchObservation {
        session_id: session_id.clone(),
        initial_provider: providers[0].clone(),
        ..SwitchObservation::default()
    };
    let wait = Duration::from_secs(2);
    let sid = Some(session_id.as_str());
    let reason = "voice-audit mid-stream switch";

    for i in 0..2 {
        let id = format!("warmup-{i}");
        send_text(&mut conn, &mut obs, &id).await;
        wait_transcript(&mut conn, &id, wait).await;
    }
    let mut current = 0usize;
    for i in 0..ctx.settings.switches {
        let next = (current + 1) % providers.len();
        // A text in flight while the switch happens: the switch is mid-stream.
        send_text(&mut conn, &mut obs, &format!("before-{i}")).await;
        let vars = super::vars(&[
            ("provider", json!(providers[next])),
            ("reason", json!(reason)),
        ]);
        let reply = ctx
            .call_role("switch", sid, Some(&token), &vars, SCENARIO)
            .await?;
        let after = format!("after-{i}");
        obs.attempts.push(SwitchAttempt {
            from: providers[current].clone(),
            to: providers[next].clone(),
            exchange_id: reply.exchange_id.clone(),
            status: reply.status,
            latency: reply.elapsed,
            response: reply.json(),
            success: output(ctx, &reply, "success")
                .map_or(Some(reply.is_success()), |v| v.and_then(|v| v.as_bool())),
            context_preserved: output(ctx, &reply, "context_preserved").flatten(),
            text_after: after.clone(),
        });
        if reply.is_success() {
            current = next;
        }
        send_text(&mut conn, &mut obs, &after).await;
        wait_transcript(&mut conn, &after, wait).await;
    }
    // Let the tail of the stream arrive before judging it.
    let expected_switches = obs
        .attempts
        .iter()
        .filter(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
        .count();
    settle(&mut conn, &obs.texts, expected_switches, wait).await;

    let invalid_provider = ctx
        .http
        .binding()
        .invalid_provider
        .clone()
        .unwrap_or_else(|| "voice-audit-no-such-provider".to_string());
    let vars = super::vars(&[
        ("provider", json!(invalid_provider)),
        ("reason", json!(reason)),
    ]);
    let invalid = ctx
        .call_role("switch", sid, Some(&token), &vars, SCENARIO)
        .await?;
    obs.invalid_provider = Some(invalid);
    obs.after_invalid = ctx
        .call_role("session_get", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?
        .json();

    let failover = |force: bool| {
        super::vars(&[
            ("force", json!(force)),
            ("reason", json!("voice-audit failover probe")),
        ])
    };
    obs.failover_unforced = Some(
        ctx.call_role(
            "auto_failover",
            sid,
            Some(&token),
            &failover(false),
            SCENARIO,
        )
        .await?,
    );
    let forced = ctx
        .call_role(
            "auto_failover",
            sid,
            Some(&token),
            &failover(true),
            SCENARIO,
        )
        .await?;
    let forced_switched = forced
        .json()
        .and_then(|v| v.get("failover_triggered").and_then(Value::as_bool))
        .unwrap_or(false);
    obs.failover_forced = Some(forced);
    if forced_switched {
        settle(&mut conn, &obs.texts, expected_switches + 1, wait).await;
    }
    obs.switch_status = ctx
        .call_role("switch_status", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?
        .json();
    obs.switch_history = ctx
        .call_role("switch_history", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?
        .json();

    let session = ctx
        .call_role("session_get", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?
        .json();
    let provider_now = session
        .as_ref()
        .and_then(|s| s.get("provider"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    obs.session_before_end = session;
    let list_path = format!(
        "{}?provider={provider_now}&status=active&page_size=100",
        ctx.role_path("session_list", None)?
    );
    obs.filtered_list = ctx
        .call("GET", &list_path, Some(&token), Body::None, SCENARIO)
        .await
        .json();

    let end = ctx
        .call_role("session_end", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?;
    let ended = end.is_success();
    obs.end = Some(end);
    obs.session_after_end = ctx
        .call_role("session_get", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?
        .json();
    if ended {
        // The stream should deliver the final status and close.
        let deadline = Instant::now() + wait;
        while let ws::Next::Message(_) = conn.next(deadline).await {}
    }
    obs.stream = conn.finish().await;
    if obs.attempts.iter().all(|a| a.status.is_none()) && !obs.attempts.is_empty() {
        return Err(format!(
            "no switch request got an answer (first: {})",
            obs.attempts[0].exchange_id
        ));
    }
    Ok(obs)
}

/// An output of the switch role read from `reply`: `None` when the role has no such output,
/// `Some(None)` when the answer lacks it.
fn output(ctx: &Ctx, reply: &Reply, name: &str) -> Option<Option<Value>> {
    let source = ctx.http.binding().role("switch").ok()?.outputs.get(name)?;
    Some(reply.output(source))
}

async fn send_text(conn: &mut ws::WsConn, obs: &mut SwitchObservation, id: &str) {
    let text = super::text_vars(
        &format!("Voice audit utterance {id}: the customer asks about their order."),
        id,
    );
    if conn.send_frame("text", &text).await.is_ok() {
        obs.texts.push(id.to_string());
    }
}

async fn wait_transcript(conn: &mut ws::WsConn, id: &str, wait: Duration) -> Option<Received> {
    conn.wait_for(Instant::now() + wait, |m| m.is_transcript_of(id))
        .await
}

/// Receives until every text has its transcript and insight and every switch its event, or the
/// wait runs out.
async fn settle(conn: &mut ws::WsConn, texts: &[String], switches: usize, wait: Duration) {
    let deadline = Instant::now() + wait;
    loop {
        let log = &conn.record.messages;
        let count = |kind: EventKind| log.iter().filter(|m| m.is(kind)).count();
        if count(EventKind::Transcript) >= texts.len()
            && count(EventKind::Insight) >= texts.len()
            && count(EventKind::ProviderSwitched) >= switches
        {
            return;
        }
        match conn.next(deadline).await {
            ws::Next::Message(_) => continue,
            _ => return,
        }
    }
}
