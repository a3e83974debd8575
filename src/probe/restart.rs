//! Recovery after a restart (`--restart-cmd`): leave live sessions with open streams and a
//! known last sequence number, and a revoked token; restart the target; measure how long until
//! the health and readiness roles answer; then check that every session is still there with
//! its state, and each call placed for it where the call roles are bound (see
//! [`super::restart_calls`]); that each stream resumes from the client's last seq with nothing
//! missing and nothing duplicated; and that the revoked token is still refused.

use super::recovery::{
    Hooks, Item, RESTART_SESSIONS, RecoveryObservation, refused, revoked_token, session_state,
    wait_ready,
};
use super::restart_calls::{self, LiveCall};
use super::stream::{bounded as bounded_send, epoch_millis};
use super::ws::{Next, Received, WsConn};
use super::{Ctx, ping_vars, text_vars};
use crate::binding::envelope::EventKind;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const SCENARIO: &str = "restart";

/// A session left live across the restart.
struct Live {
    id: String,
    state: String,
    /// The last seq the client acknowledges: it will resume from here.
    resume_from: u64,
    /// The newest seq the session had produced before the restart.
    newest: u64,
    /// A call placed for the session, where the binding has the call roles.
    call: Option<LiveCall>,
}

/// `None` when no restart hook was given; `Err` when the probe could not prepare.
pub async fn probe(ctx: &Ctx, hooks: &Hooks) -> Option<Result<RecoveryObservation, String>> {
    let hook = hooks.restart.clone()?;
    Some(run(ctx, hooks, &*hook).await)
}

async fn run(
    ctx: &Ctx,
    hooks: &Hooks,
    hook: &dyn super::hook::Hook,
) -> Result<RecoveryObservation, String> {
    let mut lives = Vec::new();
    let mut conns = Vec::new();
    for i in 0..RESTART_SESSIONS {
        let (live, conn) = prepare(ctx, i).await?;
        lives.push(live);
        conns.push(conn);
    }
    let revoked = revoked_token(ctx, SCENARIO).await?;
    let mut obs = RecoveryObservation::default();

    let started = Instant::now();
    let ran = during(hook.run(hooks.ready_timeout * 2), &mut conns).await;
    // The streams were cut by the restart; what they received stays in the evidence.
    for conn in conns {
        conn.finish().await;
    }
    match ran {
        Ok(r) => obs.hooks.push((hook.label(), r)),
        Err(e) => {
            obs.hook_error = Some(e.to_string());
            return Ok(obs);
        }
    }
    match wait_ready(ctx, started, hooks.ready_timeout).await {
        Ok(t) => {
            obs.ready_after = Some(t);
            obs.items.push(Item::new(
                "health and readiness after the restart",
                true,
                format!(
                    "answered {:.0} ms after the restart began",
                    t.as_secs_f64() * 1000.0
                ),
            ));
        }
        Err(reason) => {
            obs.items.push(Item::new(
                "health and readiness after the restart",
                false,
                reason,
            ));
            return Ok(obs);
        }
    }
    for live in &lives {
        let now = session_state(ctx, &live.id, SCENARIO).await;
        let (ok, detail) = match &now {
            Ok(s) if *s == live.state => (true, s.clone()),
            Ok(s) => (false, format!("was {}, now {s}", live.state)),
            Err(e) => (false, e.clone()),
        };
        obs.items.push(Item::new(
            format!("session {} kept its state", live.id),
            ok,
            detail,
        ));
        let (ok, detail) = resume(ctx, live).await;
        obs.items.push(Item::new(
            format!(
                "stream of session {} resumed from seq {}",
                live.id, live.resume_from
            ),
            ok,
            detail,
        ));
        if let Some(call) = &live.call {
            obs.items
                .extend(restart_calls::after_restart(ctx, call, SCENARIO).await);
        }
    }
    let still = refused(ctx, &revoked, SCENARIO).await;
    obs.items.push(Item::new(
        "a token revoked before the restart",
        still == Ok(true),
        match still {
            Ok(true) => "still refused (401)".to_string(),
            Ok(false) => "accepted again after the restart".to_string(),
            Err(e) => e,
        },
    ));
    Ok(obs)
}

/// Runs the hook while reading the open streams, so a server that closes them politely on
/// shutdown (and waits for the echo) is answered instead of waiting on the audit.
async fn during<T>(hook: impl std::future::Future<Output = T>, conns: &mut [WsConn]) -> T {
    let drain = async {
        let far = Instant::now() + Duration::from_secs(3600);
        for c in conns.iter_mut() {
            while let Next::Message(_) = c.next(far).await {}
        }
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::select! {
        out = hook => out,
        never = drain => match never {},
    }
}

/// Creates a session, opens its stream and sends two texts: the client acknowledges the
/// events of the first; the second's are produced but not yet acknowledged, so the resume
/// after the restart must replay exactly them.
async fn prepare(ctx: &Ctx, i: usize) -> Result<(Live, WsConn), String> {
    let provider = super::switch::providers(ctx)?
        .first()
        .cloned()
        .unwrap_or_default();
    let id = ctx
        .create_session(&ctx.user.access, &provider, SCENARIO)
        .await?;
    let (mut conn, _) = ctx
        .ws_connect(&id, Some(&ctx.user.access), SCENARIO)
        .await
        .map_err(|e| format!("the stream of session {id} refused the audit user: {e}"))?;
    let first = exchange(ctx, &mut conn, &format!("restart-{i}-a")).await?;
    let second = exchange(ctx, &mut conn, &format!("restart-{i}-b")).await?;
    let state = session_state(ctx, &id, SCENARIO).await?;
    let call = if restart_calls::bound(ctx) {
        Some(restart_calls::place(ctx, &id, SCENARIO).await?)
    } else {
        None
    };
    let live = Live {
        id,
        state,
        resume_from: first,
        newest: second.max(first),
        call,
    };
    Ok((live, conn))
}

/// Sends a text and waits for its transcript and what follows it briefly; the newest seq.
async fn exchange(ctx: &Ctx, conn: &mut WsConn, message_id: &str) -> Result<u64, String> {
    let wait = ctx.settings.timeout;
    bounded_send(
        wait,
        conn.send_frame("text", &text_vars("Before the restart", message_id)),
    )
    .await?;
    let mut newest = 0;
    let deadline = Instant::now() + wait;
    let transcript = conn
        .wait_for(deadline, |m| {
            m.is_transcript_of(message_id) || m.is(EventKind::Error)
        })
        .await
        .ok_or_else(|| format!("no transcript of {message_id} before the restart"))?;
    if transcript.is(EventKind::Error) {
        return Err(format!("the text {message_id} was answered with an error"));
    }
    let mut note = |m: &Received| {
        if let Some(s) = session_seq(m) {
            newest = newest.max(s);
        }
    };
    for m in &conn.record.messages {
        note(m);
    }
    // Events following the transcript (an insight) arrive shortly after it.
    let settle = Instant::now() + Duration::from_millis(300);
    while let Next::Message(m) = conn.next(settle).await {
        note(&m);
    }
    Ok(newest)
}

/// Reconnects, resumes from the acknowledged seq and compares what is replayed with what the
/// session had produced: every seq after it once, nothing at or before it.
async fn resume(ctx: &Ctx, live: &Live) -> (bool, String) {
    let wait = ctx.settings.timeout;
    let mut conn = match ctx
        .ws_connect(&live.id, Some(&ctx.user.access), SCENARIO)
        .await
    {
        Ok((c, _)) => c,
        Err(e) => return (false, format!("the reconnect was refused: {e}")),
    };
    let vars = super::vars(&[("last_seq", json!(live.resume_from))]);
    if let Err(e) = bounded_send(wait, conn.send_frame("resume", &vars)).await {
        conn.finish().await;
        return (false, format!("sending resume failed: {e}"));
    }
    let expected: BTreeSet<u64> = (live.resume_from + 1..=live.newest).collect();
    let mut got = Vec::new();
    let deadline = Instant::now() + wait;
    while !expected.iter().all(|s| got.contains(s)) {
        match conn.next(deadline).await {
            Next::Message(m) => got.extend(session_seq(&m)),
            _ => break,
        }
    }
    // A ping afterwards flushes anything replayed twice or late.
    if bounded_send(wait, conn.send_frame("ping", &ping_vars(epoch_millis())))
        .await
        .is_ok()
    {
        let until = Instant::now() + wait;
        loop {
            match conn.next(until).await {
                Next::Message(m) if m.is(EventKind::Pong) => break,
                Next::Message(m) => got.extend(session_seq(&m)),
                _ => break,
            }
        }
    }
    conn.finish().await;
    let seen: BTreeSet<u64> = got.iter().copied().collect();
    let missing: Vec<u64> = expected.difference(&seen).copied().collect();
    let duplicated = got.len() - seen.len();
    let early: Vec<u64> = seen
        .iter()
        .filter(|s| **s <= live.resume_from)
        .copied()
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing seqs {missing:?}"));
    }
    if duplicated > 0 {
        problems.push(format!("{duplicated} events replayed twice"));
    }
    if !early.is_empty() {
        problems.push(format!(
            "replayed seqs at or before the resume point {early:?}"
        ));
    }
    if problems.is_empty() {
        (
            true,
            format!(
                "replayed {:?} exactly once",
                expected.iter().collect::<Vec<_>>()
            ),
        )
    } else {
        (false, problems.join("; "))
    }
}

fn session_seq(m: &Received) -> Option<u64> {
    if m.kind().is_some_and(EventKind::is_session_event) {
        m.seq()
    } else {
        None
    }
}
