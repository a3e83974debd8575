//! Provider-switch checks: latency, success, context carried, nothing lost, every switch
//! announced on the stream, the new provider answering, auto-failover, an invalid provider
//! refused without side effects, and the session's persisted state reading back.
//!
//! Expected context counts come from the stream itself: the messages a switch must carry are
//! the transcripts sequenced before its `provider_switched` event.

use super::Finding;
use crate::binding::envelope::EventKind;
use crate::probe::switch::{SwitchAttempt, SwitchObservation};
use crate::probe::ws::Received;
use serde_json::Value;

pub fn findings(obs: Option<&Result<SwitchObservation, String>>) -> Vec<Finding> {
    const IDS: [&str; 9] = [
        "switch.latency",
        "switch.success_rate",
        "switch.context_preserved",
        "switch.no_message_loss",
        "switch.announced",
        "switch.mid_call",
        "switch.auto_failover",
        "errors.invalid_provider",
        "state.persistence_readback",
    ];
    let obs = match obs {
        Some(Ok(o)) => o,
        Some(Err(reason)) => {
            return IDS
                .iter()
                .map(|id| Finding::not_assessed(id, reason))
                .collect();
        }
        None => {
            return IDS
                .iter()
                .map(|id| Finding::not_assessed(id, "the switch scenario did not run"))
                .collect();
        }
    };
    // Latency, context, announcement and the answer after a switch all rest on a switch that
    // happened. When the deployment refused every one, nothing shows those promises hold: they
    // fail with zero and say why, instead of leaving the denominator as if the tool had lacked
    // something.
    let refused = every_switch_refused(obs);
    let needs_a_switch = |id: &str, finding: Finding| match &refused {
        Some(reason) => Finding::failed(id, reason)
            .with_evidence(obs.attempts.iter().map(|a| a.exchange_id.clone()).collect()),
        None => finding,
    };
    vec![
        needs_a_switch("switch.latency", latency(obs)),
        success_rate(obs),
        needs_a_switch("switch.context_preserved", context_preserved(obs)),
        no_message_loss(obs),
        needs_a_switch("switch.announced", announced(obs)),
        needs_a_switch("switch.mid_call", mid_call(obs)),
        auto_failover(obs),
        invalid_provider(obs),
        readback(obs),
    ]
}

/// Why the switch-dependent checks cannot pass: switches were attempted and none succeeded.
fn every_switch_refused(obs: &SwitchObservation) -> Option<String> {
    if obs.attempts.is_empty() || obs.attempts.iter().any(ok) {
        return None;
    }
    let mut statuses: Vec<String> = obs
        .attempts
        .iter()
        .map(|a| {
            a.status
                .map_or("no answer".to_string(), |s| format!("HTTP {s}"))
        })
        .collect();
    statuses.sort();
    statuses.dedup();
    Some(format!(
        "the deployment refused all {} provider switches ({}), so no switch could show it",
        obs.attempts.len(),
        statuses.join(", ")
    ))
}

fn ok(a: &crate::probe::switch::SwitchAttempt) -> bool {
    a.status.is_some_and(|s| (200..300).contains(&s))
        && a.response
            .as_ref()
            .and_then(|r| r.get("success"))
            .and_then(Value::as_bool)
            == Some(true)
}

fn reported_context(a: &SwitchAttempt) -> Option<Value> {
    a.response.as_ref()?.get("context_preserved").cloned()
}

/// Successful switches paired, in order, with the `provider_switched` event announcing each.
fn paired(obs: &SwitchObservation) -> Vec<(&SwitchAttempt, Option<&Received>)> {
    let events = switched_events(obs);
    obs.attempts
        .iter()
        .filter(|a| ok(a))
        .enumerate()
        .map(|(i, a)| (a, events.get(i).copied()))
        .collect()
}

fn switched_events(obs: &SwitchObservation) -> Vec<&Received> {
    obs.events()
        .iter()
        .filter(|m| m.is(EventKind::ProviderSwitched))
        .collect()
}

fn latency(obs: &SwitchObservation) -> Finding {
    let id = "switch.latency";
    match obs.latencies().percentiles() {
        None => Finding::not_assessed(id, "no switch succeeded, so no latency could be measured"),
        Some(p) => Finding::millis(
            id,
            p.p95,
            format!(
                "p95 {:.1} ms over {} switches (p50 {:.1}, p99 {:.1}, max {:.1})",
                p.p95, p.count, p.p50, p.p99, p.max
            ),
        ),
    }
}

fn success_rate(obs: &SwitchObservation) -> Finding {
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    for a in obs.attempts.iter().filter(|a| !ok(a)) {
        details.push(format!(
            "{} → {}: HTTP {:?}, success {:?} ({})",
            a.from,
            a.to,
            a.status,
            a.response.as_ref().and_then(|r| r.get("success")),
            a.exchange_id
        ));
        evidence.push(a.exchange_id.clone());
    }
    let passed = obs.attempts.iter().filter(|a| ok(a)).count();
    Finding::ratio(
        "switch.success_rate",
        passed,
        obs.attempts.len(),
        "switches",
    )
    .with_details(details)
    .with_evidence(evidence)
}

/// For the n-th successful switch: transcripts before its event vs. `context_preserved`.
fn context_preserved(obs: &SwitchObservation) -> Finding {
    let successful = paired(obs);
    let mut details = Vec::new();
    let mut passed = 0;
    for (a, event) in &successful {
        let reported = reported_context(a).and_then(|v| v.as_u64());
        let Some(event) = event else {
            details.push(format!(
                "switch {} → {} ({}): no provider_switched event to place it in the stream",
                a.from, a.to, a.exchange_id
            ));
            continue;
        };
        let seq = event.seq().unwrap_or(0);
        let expected = obs
            .events()
            .iter()
            .filter(|m| m.is(EventKind::Transcript) && m.seq().is_some_and(|s| s < seq))
            .count() as u64;
        if reported == Some(expected) {
            passed += 1;
        } else {
            details.push(format!("switch {} → {} ({}): context_preserved {reported:?}, but {expected} messages preceded it", a.from, a.to, a.exchange_id));
        }
    }
    Finding::ratio(
        "switch.context_preserved",
        passed,
        successful.len(),
        "switches",
    )
    .with_details(details)
    .with_summary(format!(
        "{passed} of {} switches carried every preceding message",
        successful.len()
    ))
}

/// Every text answered (transcript and insight), and no gap in the session's sequence.
fn no_message_loss(obs: &SwitchObservation) -> Finding {
    let events = obs.events();
    let mut details = Vec::new();
    let mut answered = 0;
    for id in &obs.texts {
        let transcript = events.iter().any(|m| m.is_transcript_of(id));
        // Insights carry no message id: count them globally below.
        if transcript {
            answered += 1;
        } else {
            details.push(format!("text {id}: no transcript"));
        }
    }
    let insights = events.iter().filter(|m| m.is(EventKind::Insight)).count();
    let missing_insights = obs.texts.len().saturating_sub(insights);
    if missing_insights > 0 {
        details.push(format!("{missing_insights} texts got no insight"));
    }
    let mut seqs: Vec<u64> = events
        .iter()
        .filter(|m| m.kind().is_some_and(EventKind::is_session_event))
        .filter_map(Received::seq)
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    let gaps: u64 = seqs
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]).saturating_sub(1))
        .sum();
    if gaps > 0 {
        details.push(format!(
            "{gaps} sequence numbers never arrived on the stream"
        ));
    }
    let total = obs.texts.len() + missing_insights + gaps as usize;
    let passed = answered;
    Finding::ratio(
        "switch.no_message_loss",
        passed.min(total),
        total,
        "stream items",
    )
    .with_details(details)
    .with_summary(format!(
        "{answered} of {} texts answered across {} switches; {gaps} sequence gaps",
        obs.texts.len(),
        obs.attempts.len()
    ))
}

fn announced(obs: &SwitchObservation) -> Finding {
    let successful = paired(obs);
    let mut details = Vec::new();
    let mut passed = 0;
    for (a, event) in &successful {
        let reported = reported_context(a);
        match event {
            Some(e)
                if e.field("from_provider").and_then(Value::as_str) == Some(a.from.as_str())
                    && e.field("to_provider").and_then(Value::as_str) == Some(a.to.as_str())
                    && e.field("context_preserved").cloned() == reported =>
            {
                passed += 1
            }
            Some(e) => details.push(format!(
                "switch {} → {} announced as {}",
                a.from, a.to, e.raw
            )),
            None => details.push(format!(
                "switch {} → {} ({}) was never announced",
                a.from, a.to, a.exchange_id
            )),
        }
    }
    Finding::ratio("switch.announced", passed, successful.len(), "switches").with_details(details)
}

fn mid_call(obs: &SwitchObservation) -> Finding {
    let mut details = Vec::new();
    let mut passed = 0;
    let successful: Vec<_> = obs.attempts.iter().filter(|a| ok(a)).collect();
    for a in &successful {
        let answer = obs
            .events()
            .iter()
            .find(|m| m.is_transcript_of(&a.text_after));
        match answer
            .and_then(|m| m.field("provider"))
            .and_then(Value::as_str)
        {
            Some(p) if p == a.to => passed += 1,
            Some(p) => details.push(format!(
                "{} after switching to {}: answered by {p}",
                a.text_after, a.to
            )),
            None => details.push(format!(
                "{} after switching to {}: never answered",
                a.text_after, a.to
            )),
        }
    }
    Finding::ratio("switch.mid_call", passed, successful.len(), "switches").with_details(details)
}

fn auto_failover(obs: &SwitchObservation) -> Finding {
    let mut items: Vec<(bool, String)> = Vec::new();
    let unforced = obs
        .failover_unforced
        .as_ref()
        .and_then(|r| r.json().filter(|_| r.is_success()));
    items.push((
        unforced
            .as_ref()
            .and_then(|v| v.get("failover_triggered"))
            .and_then(Value::as_bool)
            == Some(false),
        format!(
            "failover on a healthy provider without force should not switch: {}",
            unforced.map_or("no 2xx answer".into(), |v| v.to_string())
        ),
    ));
    let forced = obs
        .failover_forced
        .as_ref()
        .and_then(|r| r.json().filter(|_| r.is_success()));
    let switch = forced
        .as_ref()
        .and_then(|v| v.get("switch"))
        .filter(|s| !s.is_null());
    let target = switch
        .and_then(|s| s.get("to_provider"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let from = switch
        .and_then(|s| s.get("from_provider"))
        .and_then(Value::as_str);
    items.push((
        forced
            .as_ref()
            .and_then(|v| v.get("failover_triggered"))
            .and_then(Value::as_bool)
            == Some(true)
            && target.is_some()
            && from != target.as_deref(),
        format!(
            "forced failover should switch to another provider: {}",
            forced
                .as_ref()
                .map_or("no 2xx answer".into(), |v| v.to_string())
        ),
    ));
    let announced = target.as_deref().is_some_and(|t| {
        switched_events(obs)
            .last()
            .and_then(|e| e.field("to_provider"))
            .and_then(Value::as_str)
            == Some(t)
    });
    items.push((
        announced,
        "the failover was not announced with provider_switched".to_string(),
    ));
    let status_current = obs
        .switch_status
        .as_ref()
        .and_then(|s| s.get("current_provider"))
        .and_then(Value::as_str);
    items.push((
        target.is_some() && status_current == target.as_deref(),
        format!("switch-status reports {status_current:?}, the failover went to {target:?}"),
    ));
    let history = obs
        .switch_history
        .as_ref()
        .and_then(|h| h.get("items"))
        .and_then(Value::as_array);
    let last = history
        .and_then(|h| h.last())
        .and_then(|i| i.get("to_provider"))
        .and_then(Value::as_str);
    items.push((
        target.is_some() && last == target.as_deref(),
        format!("switch-history ends with {last:?}, the failover went to {target:?}"),
    ));
    ratio_of("switch.auto_failover", &items, "failover items")
}

fn invalid_provider(obs: &SwitchObservation) -> Finding {
    let Some(reply) = &obs.invalid_provider else {
        return Finding::not_assessed(
            "errors.invalid_provider",
            "the invalid-provider request was not made",
        );
    };
    let status = reply.status.unwrap_or(0);
    let problem = reply
        .json()
        .and_then(|v| v.get("status").and_then(Value::as_u64))
        == Some(u64::from(status));
    let before = obs
        .attempts
        .iter()
        .rev()
        .find(|a| ok(a))
        .map(|a| a.to.clone())
        .unwrap_or_else(|| obs.initial_provider.clone());
    let after = obs
        .after_invalid
        .as_ref()
        .and_then(|s| s.get("provider"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let items = vec![
        (
            (400..500).contains(&status) && status != 404,
            format!(
                "an unknown provider got HTTP {status} ({})",
                reply.exchange_id
            ),
        ),
        (
            problem,
            format!(
                "the refusal is not a problem document ({})",
                reply.exchange_id
            ),
        ),
        (
            after == before,
            format!("the session's provider changed from {before} to {after:?}"),
        ),
    ];
    ratio_of("errors.invalid_provider", &items, "items")
        .with_evidence(vec![reply.exchange_id.clone()])
}

fn readback(obs: &SwitchObservation) -> Finding {
    let last_provider = obs
        .switch_status
        .as_ref()
        .and_then(|s| s.get("current_provider"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let session = obs.session_before_end.as_ref();
    let field = |k: &str| session.and_then(|s| s.get(k)).cloned();
    let answered = obs
        .events()
        .iter()
        .filter(|m| m.is(EventKind::Transcript))
        .count() as u64;
    let switched = obs.attempts.iter().filter(|a| ok(a)).count()
        + usize::from(
            obs.failover_forced
                .as_ref()
                .and_then(|r| r.json())
                .and_then(|v| v.get("failover_triggered").and_then(Value::as_bool))
                == Some(true),
        );
    let history_len = obs
        .switch_history
        .as_ref()
        .and_then(|h| h.get("items"))
        .and_then(Value::as_array)
        .map(Vec::len);
    let listed = obs
        .filtered_list
        .as_ref()
        .and_then(|l| l.get("items"))
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items
                .iter()
                .any(|i| i.get("id").and_then(Value::as_str) == Some(obs.session_id.as_str()))
        });
    let after = obs.session_after_end.as_ref();
    let ended = after.and_then(|s| s.get("status")).and_then(Value::as_str) == Some("ended")
        && after
            .and_then(|s| s.get("ended_at"))
            .is_some_and(|v| !v.is_null());
    let items = vec![
        (
            last_provider.is_some()
                && field("provider").as_ref().and_then(Value::as_str) == last_provider.as_deref(),
            format!(
                "session provider {:?}, switch-status says {last_provider:?}",
                field("provider")
            ),
        ),
        (
            field("message_count").and_then(|v| v.as_u64()) == Some(answered),
            format!(
                "message_count {:?}, but {answered} messages were answered on the stream",
                field("message_count")
            ),
        ),
        (
            history_len == Some(switched),
            format!("switch-history has {history_len:?} entries for {switched} switches"),
        ),
        (
            listed,
            "the session is missing from its provider/status-filtered listing".to_string(),
        ),
        (
            ended,
            format!(
                "after ending, the session reads {:?}",
                after.map(|s| s.get("status"))
            ),
        ),
        (
            obs.stream.close_code == Some(1000),
            format!(
                "after ending, the stream closed with {:?} (1000 expected)",
                obs.stream.close_code
            ),
        ),
    ];
    ratio_of("state.persistence_readback", &items, "read-back items")
}

/// A ratio finding from (passed, message-if-failed) items.
fn ratio_of(id: &str, items: &[(bool, String)], what: &str) -> Finding {
    let passed = items.iter().filter(|(ok, _)| *ok).count();
    let details = items
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, m)| m.clone())
        .collect();
    Finding::ratio(id, passed, items.len(), what).with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn attempt(i: usize, status: u16, success: bool) -> SwitchAttempt {
        SwitchAttempt {
            from: "openai".into(),
            to: "deepgram".into(),
            exchange_id: format!("x{i}"),
            status: Some(status),
            latency: Duration::from_millis(5),
            response: Some(serde_json::json!({"success": success, "context_preserved": 0})),
            text_after: format!("after-{i}"),
        }
    }

    fn outcome<'a>(findings: &'a [Finding], id: &str) -> &'a super::super::finding::Outcome {
        &findings
            .iter()
            .find(|f| f.check_id == id)
            .expect(id)
            .outcome
    }

    #[test]
    fn a_deployment_refusing_every_switch_fails_every_switch_dependent_check() {
        let obs = SwitchObservation {
            attempts: (0..3).map(|i| attempt(i, 503, false)).collect(),
            ..SwitchObservation::default()
        };
        let findings = findings(Some(&Ok(obs)));
        for id in [
            "switch.latency",
            "switch.context_preserved",
            "switch.announced",
            "switch.mid_call",
        ] {
            match outcome(&findings, id) {
                super::super::finding::Outcome::Failed { reason } => {
                    assert!(reason.contains("refused all 3"), "{id}: {reason}");
                    assert!(reason.contains("HTTP 503"), "{id}: {reason}");
                }
                other => panic!("{id} should fail, got {other:?}"),
            }
        }
        assert!(matches!(
            outcome(&findings, "switch.success_rate"),
            super::super::finding::Outcome::Measured { value, .. } if *value == 0.0
        ));
    }

    #[test]
    fn one_successful_switch_keeps_the_checks_measured() {
        let obs = SwitchObservation {
            attempts: vec![attempt(0, 503, false), attempt(1, 200, true)],
            ..SwitchObservation::default()
        };
        let findings = findings(Some(&Ok(obs)));
        assert!(matches!(
            outcome(&findings, "switch.latency"),
            super::super::finding::Outcome::Measured { .. }
        ));
    }
}
