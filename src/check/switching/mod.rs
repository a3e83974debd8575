//! Provider-switch checks: latency, success, context carried, nothing lost, every switch
//! announced on the stream, the new provider answering, auto-failover, an invalid provider
//! refused without side effects, and the session's persisted state reading back.
//!
//! Expected context counts come from the stream itself: the messages a switch must carry are
//! the transcripts sequenced before its `provider_switched` event.

mod events;
mod outcomes;

use super::Finding;
use crate::binding::envelope::EventKind;
use crate::probe::switch::{SwitchAttempt, SwitchObservation};
use crate::probe::ws::Received;
use events::{announced, context_preserved, mid_call, no_message_loss};
use outcomes::{auto_failover, invalid_provider, latency, readback, success_rate};
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
    a.status.is_some_and(|s| (200..300).contains(&s)) && a.success == Some(true)
}

fn reported_context(a: &SwitchAttempt) -> Option<Value> {
    a.context_preserved.clone()
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
            response: Some(serde_json::json!({})),
            success: Some(success),
            context_preserved: Some(serde_json::json!(0)),
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
    fn reads_through_unbound_outputs_are_not_assessed_and_say_which() {
        let obs = SwitchObservation {
            attempts: vec![attempt(0, 200, true)],
            unbound: vec![(
                "switch_status".into(),
                "output current_provider of role switch_status is not bound".into(),
            )],
            ..SwitchObservation::default()
        };
        let findings = findings(Some(&Ok(obs)));
        for id in ["switch.auto_failover", "state.persistence_readback"] {
            match outcome(&findings, id) {
                super::super::finding::Outcome::NotAssessed { reason } => {
                    assert!(reason.contains("current_provider"), "{id}: {reason}")
                }
                other => panic!("{id} should not be assessed, got {other:?}"),
            }
        }
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
