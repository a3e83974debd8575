//! The resume step: go away from a live connection, let events happen (texts on another
//! connection, a provider switch over REST), come back with the binding's `resume` frame and
//! record which sequence numbers are replayed.

use super::{
    PROBE_RESUME, RESUME_TEXTS, RESUME_WAIT, ResumeResult, Run, SCENARIO, bounded, epoch_millis,
};
use crate::binding::envelope::EventKind;
use crate::probe::ws::{ConnectionLog, Next, Received, WsConn};
use crate::probe::{describe, ping_vars, text_vars};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Instant;

impl Run<'_> {
    /// Goes away after `live`, lets events happen (texts on another connection, a provider
    /// switch over REST), then reconnects with `resume` and records what is replayed.
    pub(super) async fn resume(&mut self, live: WsConn) -> ResumeResult {
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
        let vars = crate::probe::vars(&[
            (
                "provider",
                json!(
                    crate::probe::switch::providers(self.ctx)
                        .ok()
                        .and_then(|p| p.last().cloned())
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
        let resume = crate::probe::vars(&[("last_seq", json!(last_seen))]);
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
