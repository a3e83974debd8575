//! Switch checks read from the REST answers: latency and success of the switches, the forced
//! auto-failover, an invalid provider refused without side effects, and the session's state
//! reading back after the scenario.

use super::{Finding, ok, ratio_of, switched_events};
use crate::binding::envelope::EventKind;
use crate::probe::switch::{FailoverView, SwitchObservation};
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

/// Why a check reading `roles` cannot be assessed: an output it needs is not bound.
fn unbound(obs: &SwitchObservation, roles: &[&str]) -> Option<String> {
    let missing: Vec<&str> = obs
        .unbound
        .iter()
        .filter(|(role, _)| roles.contains(&role.as_str()))
        .map(|(_, why)| why.as_str())
        .collect();
    (!missing.is_empty()).then(|| missing.join("; "))
}

pub(super) fn auto_failover(obs: &SwitchObservation) -> Finding {
    let id = "switch.auto_failover";
    if let Some(reason) = unbound(obs, &["auto_failover", "switch_status", "switch_history"]) {
        return Finding::not_assessed(id, &reason);
    }
    let answer = |f: Option<&FailoverView>| {
        f.filter(|f| f.success)
            .and_then(|f| f.body.as_ref())
            .map_or("no 2xx answer".to_string(), Value::to_string)
    };
    let unforced = obs.failover_unforced.as_ref();
    let mut items: Vec<(bool, String)> = vec![(
        unforced.filter(|f| f.success).and_then(|f| f.triggered) == Some(false),
        format!(
            "failover on a healthy provider without force should not switch: {}",
            answer(unforced)
        ),
    )];
    let forced = obs.failover_forced.as_ref().filter(|f| f.success);
    let target = forced.and_then(|f| f.to_provider.clone());
    let from = forced.and_then(|f| f.from_provider.as_deref());
    items.push((
        forced.and_then(|f| f.triggered) == Some(true)
            && target.is_some()
            && from != target.as_deref(),
        format!(
            "forced failover should switch to another provider: {}",
            answer(obs.failover_forced.as_ref())
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
    let status_current = obs.status_provider.as_deref();
    items.push((
        target.is_some() && status_current == target.as_deref(),
        format!("switch-status reports {status_current:?}, the failover went to {target:?}"),
    ));
    let last = obs
        .history
        .as_ref()
        .and_then(|h| h.last())
        .and_then(Option::as_deref);
    items.push((
        target.is_some() && last == target.as_deref(),
        format!("switch-history ends with {last:?}, the failover went to {target:?}"),
    ));
    ratio_of(id, &items, "failover items")
}

pub(super) fn invalid_provider(obs: &SwitchObservation) -> Finding {
    let id = "errors.invalid_provider";
    let Some(reply) = &obs.invalid_provider else {
        return Finding::not_assessed(id, "the invalid-provider request was not made");
    };
    if let Some(reason) = unbound(obs, &["session_get"]) {
        return Finding::not_assessed(id, &reason);
    }
    let status = reply.status.unwrap_or(0);
    // RFC 9457: a problem document repeats the status it was sent with.
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
        .and_then(|s| s.provider.as_deref())
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
    ratio_of(id, &items, "items").with_evidence(vec![reply.exchange_id.clone()])
}

pub(super) fn readback(obs: &SwitchObservation) -> Finding {
    let id = "state.persistence_readback";
    if let Some(reason) = unbound(
        obs,
        &[
            "session_get",
            "session_list",
            "switch_status",
            "switch_history",
        ],
    ) {
        return Finding::not_assessed(id, &reason);
    }
    let last_provider = obs.status_provider.as_deref();
    let before = obs.session_before_end.clone().unwrap_or_default();
    let answered = obs
        .events()
        .iter()
        .filter(|m| m.is(EventKind::Transcript))
        .count() as u64;
    let switched = obs.attempts.iter().filter(|a| ok(a)).count()
        + usize::from(obs.failover_forced.as_ref().and_then(|f| f.triggered) == Some(true));
    let history_len = obs.history.as_ref().map(Vec::len);
    let listed = obs
        .listed_ids
        .as_ref()
        .is_some_and(|ids| ids.contains(&obs.session_id));
    let after = obs.session_after_end.clone().unwrap_or_default();
    // Ended: the status moved on from what it was while live, and an end time is recorded.
    let ended = after.status.is_some()
        && after.status != before.status
        && after.ended_at.as_ref().is_some_and(|v| !v.is_null());
    let items = vec![
        (
            last_provider.is_some() && before.provider.as_deref() == last_provider,
            format!(
                "session provider {:?}, switch-status says {last_provider:?}",
                before.provider
            ),
        ),
        (
            before.message_count == Some(answered),
            format!(
                "message_count {:?}, but {answered} messages were answered on the stream",
                before.message_count
            ),
        ),
        (
            history_len == Some(switched),
            format!("switch-history has {history_len:?} entries for {switched} switches"),
        ),
        (
            listed,
            "the session is missing from its provider-filtered listing".to_string(),
        ),
        (
            ended,
            format!(
                "after ending, the session reads status {:?} (before: {:?}), ended at {:?}",
                after.status, before.status, after.ended_at
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
    ratio_of(id, &items, "read-back items")
}
