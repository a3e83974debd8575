//! The provider-switch scenario: a live stream on one session, texts flowing, and the provider
//! switched N times in the middle of it (round robin over the contract's providers); then an
//! invalid provider, auto-failover (unforced and forced), read-back of the persisted state, and
//! the end of the session.
//!
//! The probe only records replies, latencies and the stream; `check::switching` decides what
//! they mean (context counts are judged against the order of events on the stream).

use super::Ctx;
use super::client::Reply;
use super::ws::{self, ConnectionLog, Received};
use crate::binding::envelope::EventKind;
use crate::binding::template::Vars;
use crate::contract::openapi::resolve;
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
    pub after_invalid: Option<SessionView>,
    pub failover_unforced: Option<FailoverView>,
    pub failover_forced: Option<FailoverView>,
    /// The provider the switch-status role reports.
    pub status_provider: Option<String>,
    /// `to_provider` of every switch-history entry, in order (`None`: no list came back).
    pub history: Option<Vec<Option<String>>>,
    /// The session read back before it was ended.
    pub session_before_end: Option<SessionView>,
    /// Ids in the session listing filtered by the session's provider (the session_list role's
    /// query), read before the end.
    pub listed_ids: Option<Vec<String>>,
    pub end: Option<Reply>,
    pub session_after_end: Option<SessionView>,
    /// (role, why) of every output these reads need that the binding leaves unbound.
    pub unbound: Vec<(String, String)>,
}

/// A session as the `session_get` role's outputs read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionView {
    pub provider: Option<String>,
    pub message_count: Option<u64>,
    pub status: Option<String>,
    pub ended_at: Option<Value>,
}

/// An auto-failover answer as the `auto_failover` role's outputs read it.
#[derive(Debug, Clone, Default)]
pub struct FailoverView {
    pub exchange_id: String,
    pub success: bool,
    pub triggered: Option<bool>,
    pub from_provider: Option<String>,
    pub to_provider: Option<String>,
    /// The answer as sent, for details.
    pub body: Option<Value>,
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

/// The providers a session may use, in the contract's order: the enum of the request field the
/// switch role (else session_create) fills with `${provider}`.
pub fn providers(ctx: &Ctx) -> Result<Vec<String>, String> {
    ["switch", "session_create"]
        .iter()
        .find_map(|role| provider_enum(ctx, role).filter(|p| p.len() >= 2))
        .ok_or_else(|| {
            "no provider list: the request field the switch role fills with ${provider} has no \
             enum of two or more providers in the contract"
                .to_string()
        })
}

fn provider_enum(ctx: &Ctx, role: &str) -> Option<Vec<String>> {
    let r = ctx.http.binding().role(role).ok()?;
    let field = r
        .request
        .as_ref()?
        .as_object()?
        .iter()
        .find(|(_, v)| v.as_str() == Some("${provider}"))?
        .0;
    let op = ctx
        .api()
        .operations
        .iter()
        .find(|o| o.method == r.method && o.path == r.path)?;
    let doc = ctx.api().document();
    let pointer = op.body.as_ref()?.schema.as_deref()?;
    let body = doc.pointer(pointer.trim_start_matches('#'))?;
    let (_, body) = resolve(doc, body)?;
    let (_, property) = resolve(doc, body.get("properties")?.get(field)?)?;
    Some(
        property
            .get("enum")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
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
    let providers = providers(ctx)?;
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
    obs.after_invalid = Some(read_session(ctx, &mut obs, sid, &token).await?);

    let failover = |force: bool| {
        super::vars(&[
            ("force", json!(force)),
            ("reason", json!("voice-audit failover probe")),
        ])
    };
    let unforced = ctx
        .call_role(
            "auto_failover",
            sid,
            Some(&token),
            &failover(false),
            SCENARIO,
        )
        .await?;
    obs.failover_unforced = Some(failover_view(ctx, &mut obs, &unforced));
    let forced = ctx
        .call_role(
            "auto_failover",
            sid,
            Some(&token),
            &failover(true),
            SCENARIO,
        )
        .await?;
    let forced = failover_view(ctx, &mut obs, &forced);
    let forced_switched = forced.triggered == Some(true);
    obs.failover_forced = Some(forced);
    if forced_switched {
        settle(&mut conn, &obs.texts, expected_switches + 1, wait).await;
    }
    let status = ctx
        .call_role("switch_status", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?;
    obs.status_provider = read(ctx, &mut obs, "switch_status", "current_provider", &status)
        .and_then(|v| v.as_str().map(str::to_string));
    let history = ctx
        .call_role("switch_history", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?;
    obs.history =
        read_items(ctx, &mut obs, "switch_history", "to_provider", &history).map(|items| {
            items
                .into_iter()
                .map(|v| v.and_then(|v| v.as_str().map(str::to_string)))
                .collect()
        });

    let session = read_session(ctx, &mut obs, sid, &token).await?;
    let provider_now = session.provider.clone().unwrap_or_default();
    obs.session_before_end = Some(session);
    let list = ctx
        .call_role(
            "session_list",
            None,
            Some(&token),
            &super::vars(&[("provider", json!(provider_now))]),
            SCENARIO,
        )
        .await?;
    obs.listed_ids = read_items(ctx, &mut obs, "session_list", "id", &list).map(|items| {
        items
            .into_iter()
            .filter_map(|v| v.and_then(|v| v.as_str().map(str::to_string)))
            .collect()
    });

    let end = ctx
        .call_role("session_end", sid, Some(&token), &Vars::new(), SCENARIO)
        .await?;
    let ended = end.is_success();
    obs.end = Some(end);
    obs.session_after_end = Some(read_session(ctx, &mut obs, sid, &token).await?);
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

/// An output of `role` read from `reply`; an unbound one is noted in `obs.unbound`.
fn read(
    ctx: &Ctx,
    obs: &mut SwitchObservation,
    role: &str,
    output: &str,
    reply: &Reply,
) -> Option<Value> {
    match ctx.role_value(role, output, reply) {
        Ok(v) => v,
        Err(why) => {
            note(obs, role, why);
            None
        }
    }
}

/// One field of every element of `role`'s `items` list (`None`: no list came back).
fn read_items(
    ctx: &Ctx,
    obs: &mut SwitchObservation,
    role: &str,
    field: &str,
    reply: &Reply,
) -> Option<Vec<Option<Value>>> {
    match ctx.role_items(role, &[field], reply) {
        Ok(items) => items.map(|items| items.into_iter().map(|mut i| i.remove(field)).collect()),
        Err(why) => {
            note(obs, role, why);
            None
        }
    }
}

fn note(obs: &mut SwitchObservation, role: &str, why: String) {
    let entry = (role.to_string(), why);
    if !obs.unbound.contains(&entry) {
        obs.unbound.push(entry);
    }
}

/// The session read back through the `session_get` role's outputs.
async fn read_session(
    ctx: &Ctx,
    obs: &mut SwitchObservation,
    sid: Option<&str>,
    token: &str,
) -> Result<SessionView, String> {
    let reply = ctx
        .call_role("session_get", sid, Some(token), &Vars::new(), SCENARIO)
        .await?;
    let mut get = |name: &str| read(ctx, obs, "session_get", name, &reply);
    Ok(SessionView {
        provider: get("provider").and_then(|v| v.as_str().map(str::to_string)),
        message_count: get("message_count").and_then(|v| v.as_u64()),
        status: get("status").and_then(|v| v.as_str().map(str::to_string)),
        ended_at: get("ended_at"),
    })
}

fn failover_view(ctx: &Ctx, obs: &mut SwitchObservation, reply: &Reply) -> FailoverView {
    let mut get = |name: &str| read(ctx, obs, "auto_failover", name, reply);
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
    FailoverView {
        exchange_id: reply.exchange_id.clone(),
        success: reply.is_success(),
        triggered: get("triggered").and_then(|v| v.as_bool()),
        from_provider: text(get("from_provider")),
        to_provider: text(get("to_provider")),
        body: reply.json(),
    }
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
