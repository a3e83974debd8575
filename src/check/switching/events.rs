//! Switch checks read from the stream: the context each switch carried (against the
//! transcripts sequenced before its announcement), nothing lost, every switch announced, and
//! the new provider answering the next text.

use super::{Finding, ok, paired, reported_context};
use crate::binding::envelope::EventKind;
use crate::probe::switch::SwitchObservation;
use crate::probe::ws::Received;
use serde_json::Value;

/// For the n-th successful switch: transcripts before its event vs. `context_preserved`.
pub(super) fn context_preserved(obs: &SwitchObservation) -> Finding {
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
pub(super) fn no_message_loss(obs: &SwitchObservation) -> Finding {
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

pub(super) fn announced(obs: &SwitchObservation) -> Finding {
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

pub(super) fn mid_call(obs: &SwitchObservation) -> Finding {
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
