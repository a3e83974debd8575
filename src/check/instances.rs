//! Several instances: `auth.revocation_propagation` (template §8.3, "token revocation
//! propagation") is the slowest instance's time from a logout through the first target to that
//! instance refusing the token on REST and closing its socket with a revocation code; an
//! instance that never did counts as the whole wait, so revocation that stays on one instance
//! scores no credit. `ws.cross_instance_events` is the share of other instances whose stream got
//! the switch event caused through the first one, with the sequence number the first one's
//! own stream got. Both are not assessed with a single `--target`.

use super::Finding;
use crate::probe::instances::{InstanceResult, InstancesObservation};

pub const REVOCATION: &str = "auth.revocation_propagation";
pub const EVENTS: &str = "ws.cross_instance_events";

pub fn findings(obs: Option<&Result<InstancesObservation, String>>) -> [Finding; 2] {
    let o = match obs {
        None => {
            let why = "a single --target: propagation between instances needs two or more";
            return [
                Finding::not_assessed(REVOCATION, why),
                Finding::not_assessed(EVENTS, why),
            ];
        }
        Some(Err(reason)) => {
            return [
                Finding::not_assessed(REVOCATION, reason),
                Finding::not_assessed(EVENTS, reason),
            ];
        }
        Some(Ok(o)) => o,
    };
    [revocation(o), events(o)]
}

fn revocation(o: &InstancesObservation) -> Finding {
    let waited = o.waited.as_secs_f64() * 1000.0;
    let mut worst: f64 = 0.0;
    let mut details = Vec::new();
    if !o.logout_status.is_some_and(|s| (200..300).contains(&s)) {
        details.push(format!(
            "logout through {} answered {:?}",
            o.primary, o.logout_status
        ));
    }
    for i in &o.instances {
        let rest = i.rest_refused_after.map(|d| d.as_secs_f64() * 1000.0);
        let socket = closed_by_revocation(o, i);
        match rest {
            Some(ms) => worst = worst.max(ms),
            None => {
                worst = waited;
                details.push(format!(
                    "{}: the revoked token was still accepted {waited:.0} ms after the logout",
                    i.base
                ));
            }
        }
        match socket {
            Some(ms) => worst = worst.max(ms),
            None => {
                worst = waited;
                details.push(format!(
                    "{}: its socket was not closed with a revocation code {:?} within {waited:.0} ms (stream alive: {}, close code {:?})",
                    i.base, o.revocation_codes, i.ws_alive, i.ws_close_code
                ));
            }
        }
    }
    Finding::millis(
        REVOCATION,
        worst,
        format!(
            "a logout through {} reached {} other instance(s): slowest {worst:.1} ms (REST refusal and socket close)",
            o.primary,
            o.instances.len()
        ),
    )
    .with_details(details)
}

fn closed_by_revocation(o: &InstancesObservation, i: &InstanceResult) -> Option<f64> {
    let code = i.ws_close_code?;
    (i.ws_alive && o.revocation_codes.contains(&code))
        .then_some(i.ws_closed_after?.as_secs_f64() * 1000.0)
}

fn events(o: &InstancesObservation) -> Finding {
    let mut details = Vec::new();
    if !o.primary_event {
        details.push(format!(
            "the switch through {} (HTTP {:?}) reached not even its own stream",
            o.primary, o.switch_status
        ));
    }
    let mut passed = 0;
    for i in &o.instances {
        match (i.event_after, i.event_seq == o.primary_seq) {
            (Some(_), true) if o.primary_event => passed += 1,
            (Some(at), _) => details.push(format!(
                "{}: the switch event came after {} ms with sequence number {:?}, the first instance's stream had {:?}",
                i.base,
                at.as_millis(),
                i.event_seq,
                o.primary_seq
            )),
            (None, _) => details.push(format!(
                "{}: the switch event caused through {} never reached a stream connected here (stream alive: {})",
                i.base, o.primary, i.ws_alive
            )),
        }
    }
    Finding::ratio(EVENTS, passed, o.instances.len(), "other instances")
        .with_summary(format!(
            "{passed} of {} other instance(s) delivered the switch event caused through {} with the same sequence number",
            o.instances.len(),
            o.primary
        ))
        .with_details(details)
}
