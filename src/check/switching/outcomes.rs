//! Switch checks read from the REST answers: latency and success of the switches, the forced
//! auto-failover, an invalid provider refused without side effects, and the session's state
//! reading back after the scenario.

use super::{Finding, ok, ratio_of, switched_events};
use crate::binding::envelope::EventKind;
use crate::probe::switch::SwitchObservation;
use serde_json::Value;

pub(super) fn latency(obs: &SwitchObservation) -> Finding {
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

pub(super) fn success_rate(obs: &SwitchObservation) -> Finding {
    let mut details = Vec::new();
    let mut evidence = Vec::new();
    for a in obs.attempts.iter().filter(|a| !ok(a)) {
        details.push(format!(
            "{} → {}: HTTP {:?}, success {:?} ({})",
            a.from, a.to, a.status, a.success, a.exchange_id
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

pub(super) fn auto_failover(obs: &SwitchObservation) -> Finding {
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

pub(super) fn invalid_provider(obs: &SwitchObservation) -> Finding {
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

pub(super) fn readback(obs: &SwitchObservation) -> Finding {
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
