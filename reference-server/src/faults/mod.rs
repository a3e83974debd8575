//! Deliberate defects, for testing auditors; never in production.
//!
//! Each flag breaks exactly one behaviour of the reference server so that an auditor's
//! check can be shown to fail against it. All `false` (the default) is the correct server.
//!
//! Why here and not in the handlers: the handlers, the conversation and the socket loop are
//! the definition of a correct server and read no flag. Every fault is a decorator around one
//! of the server's seams, put in place when the state and the router are built, and only when
//! that fault is on, so a correct server runs none of this code and pays nothing for it:
//!
//! * [`http`]: tower layers around the REST routes (`missing-switch-history`, `schema-drift`,
//!   `invalid-input-accepted`, `no-auth-on-list`, `slow-switch`, `flaky-switch`,
//!   `drop-context`, `failover-noop`, `no-revocation`, `ws-ignores-revocation`,
//!   `cross-user-leak`, `slow-upgrade`). `invalid-input-500` and `plain-errors` rewrite every
//!   response and sit in [`responses`], one layer outside every route.
//! * [`store`]: a decorator around the storage traits (`refresh-reuse-accepted`).
//! * [`cache`]: a decorator around the cache tier (`cache-fail-open`).
//! * [`providers`]: a decorator around the provider trait (`stale-provider`).
//! * [`events`]: an [`crate::events::EventSink`] between the conversation and the session hub
//!   (`seq-disorder`, `bad-event-schema`, `slow-events`, `drop-events`, `silent-switch`).
//! * [`ws`]: a decorator around the stream of client frames of a socket (`no-pong`,
//!   `no-resume`, `malformed-closes`); these are protocol-level, but each can still be
//!   expressed as "the connection receives a different frame": a ping or resume the server
//!   ignores becomes a WebSocket-level pong (activity, no reply), and a malformed frame
//!   becomes the peer's close 1003, which the connection echoes as the protocol asks.
//! * [`published_contract`]: `stale-published-contract` edits the document published at
//!   start.
//!
//! Two counters the faults need live in the hub (`SessionHub::is_fifth_transcript`,
//! `skip_seq`, `publish_reusing_seq`): a sequence number can only be skipped or reused where
//! it is allocated.

use std::fmt;

use serde_json::Value;

use crate::events::Events;
use crate::providers::Providers;
use crate::store::Store;

pub mod cache;
pub mod events;
pub mod http;
pub mod providers;
pub mod responses;
pub mod store;
pub mod ws;

/// The set of injected faults. `Faults::default()` injects none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// `missing-switch-history`: GET switch-history answers 404 as if not implemented.
    pub missing_switch_history: bool,
    /// `schema-drift`: GET a session returns `message_count` as a string and omits `updated_at`.
    pub schema_drift: bool,
    /// `invalid-input-500`: a body failing validation (422) gets a 500 problem instead.
    pub invalid_input_500: bool,
    /// `invalid-input-accepted`: create session with an unknown provider gets 201 (gemini).
    pub invalid_input_accepted: bool,
    /// `no-auth-on-list`: GET /api/v1/sessions without a token answers 200 with an empty page.
    pub no_auth_on_list: bool,
    /// `plain-errors`: every 4xx/5xx body is `text/plain` "error".
    pub plain_errors: bool,
    /// `no-pong`: ping is ignored.
    pub no_pong: bool,
    /// `seq-disorder`: an insight carries the same seq as its transcript.
    pub seq_disorder: bool,
    /// `bad-event-schema`: insight `confidence` is sent as a string.
    pub bad_event_schema: bool,
    /// `malformed-closes`: a malformed frame closes the connection (1003).
    pub malformed_closes: bool,
    /// `no-resume`: resume is ignored.
    pub no_resume: bool,
    /// `slow-switch`: switch-provider sleeps 700 ms before answering.
    pub slow_switch: bool,
    /// `drop-context`: switch-provider drops the context even when asked to preserve it.
    pub drop_context: bool,
    /// `no-revocation`: logout answers 204 but revokes nothing.
    pub no_revocation: bool,
    /// `ws-ignores-revocation`: logout revokes on REST but leaves sockets open.
    pub ws_ignores_revocation: bool,
    /// `cross-user-leak`: GET a session returns another user's session.
    pub cross_user_leak: bool,
    /// `slow-events`: transcript/insight events are delayed 250 ms.
    pub slow_events: bool,
    /// `refresh-reuse-accepted`: refresh tokens are not single-use: a consumed one is accepted again
    /// (a new pair is issued) and revokes nothing.
    pub refresh_reuse_accepted: bool,
    /// `stale-published-contract`: GET /openapi.json serves the contract with `info.version`
    /// "0.9.0" and without the switch-history path (the route itself still works).
    pub stale_published_contract: bool,
    /// `flaky-switch`: every 3rd switch-provider request of the process (3rd, 6th, …) answers
    /// 503 without switching.
    pub flaky_switch: bool,
    /// `stale-provider`: after a switch, `text` is still answered by the previous provider
    /// (transcript/insight `provider` names it); REST state, history and switch events are right.
    pub stale_provider: bool,
    /// `silent-switch`: switch-provider and auto-failover switch but publish no
    /// `provider_switched` event.
    pub silent_switch: bool,
    /// `drop-events`: every 5th transcript event of a session is never delivered, but consumes
    /// its seq (clients see a gap); the message is still stored.
    pub drop_events: bool,
    /// `failover-noop`: auto-failover with `force: true` answers 200 with
    /// `failover_triggered: false`, `switch: null` and does nothing.
    pub failover_noop: bool,
    /// `slow-upgrade`: the WebSocket upgrade sleeps 700 ms before accepting.
    pub slow_upgrade: bool,
    /// `cache-fail-open`: when the cache tier fails, revocation lookups answer "nothing
    /// revoked" instead of falling back to the database (revoked tokens work during an outage).
    pub cache_fail_open: bool,
    /// `volatile-replay`: `resume` replays only what the process still holds in memory; the
    /// durable event log is never read, so nothing is replayed after a restart.
    pub volatile_replay: bool,
}

/// A fault name that is not one of [`Faults::NAMES`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown fault `{name}`; valid faults: {}", Faults::NAMES.join(", "))]
pub struct UnknownFault {
    /// The name that was given.
    pub name: String,
}

impl Faults {
    /// Every valid fault name, in the order of the fields.
    pub const NAMES: [&'static str; 27] = [
        "missing-switch-history",
        "schema-drift",
        "invalid-input-500",
        "invalid-input-accepted",
        "no-auth-on-list",
        "plain-errors",
        "no-pong",
        "seq-disorder",
        "bad-event-schema",
        "malformed-closes",
        "no-resume",
        "slow-switch",
        "drop-context",
        "no-revocation",
        "ws-ignores-revocation",
        "cross-user-leak",
        "slow-events",
        "refresh-reuse-accepted",
        "stale-published-contract",
        "flaky-switch",
        "stale-provider",
        "silent-switch",
        "drop-events",
        "failover-noop",
        "slow-upgrade",
        "cache-fail-open",
        "volatile-replay",
    ];

    fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "missing-switch-history" => &mut self.missing_switch_history,
            "schema-drift" => &mut self.schema_drift,
            "invalid-input-500" => &mut self.invalid_input_500,
            "invalid-input-accepted" => &mut self.invalid_input_accepted,
            "no-auth-on-list" => &mut self.no_auth_on_list,
            "plain-errors" => &mut self.plain_errors,
            "no-pong" => &mut self.no_pong,
            "seq-disorder" => &mut self.seq_disorder,
            "bad-event-schema" => &mut self.bad_event_schema,
            "malformed-closes" => &mut self.malformed_closes,
            "no-resume" => &mut self.no_resume,
            "slow-switch" => &mut self.slow_switch,
            "drop-context" => &mut self.drop_context,
            "no-revocation" => &mut self.no_revocation,
            "ws-ignores-revocation" => &mut self.ws_ignores_revocation,
            "cross-user-leak" => &mut self.cross_user_leak,
            "slow-events" => &mut self.slow_events,
            "refresh-reuse-accepted" => &mut self.refresh_reuse_accepted,
            "stale-published-contract" => &mut self.stale_published_contract,
            "flaky-switch" => &mut self.flaky_switch,
            "stale-provider" => &mut self.stale_provider,
            "silent-switch" => &mut self.silent_switch,
            "drop-events" => &mut self.drop_events,
            "failover-noop" => &mut self.failover_noop,
            "slow-upgrade" => &mut self.slow_upgrade,
            "cache-fail-open" => &mut self.cache_fail_open,
            "volatile-replay" => &mut self.volatile_replay,
            _ => return None,
        })
    }

    /// Switches on the named fault.
    pub fn enable(&mut self, name: &str) -> Result<(), UnknownFault> {
        let name = name.trim();
        match self.flag_mut(name) {
            Some(flag) => {
                *flag = true;
                Ok(())
            }
            None => Err(UnknownFault {
                name: name.to_owned(),
            }),
        }
    }

    /// Builds the set from names such as `["no-pong", "slow-switch"]`; empty names are skipped.
    pub fn from_names<I, S>(names: I) -> Result<Faults, UnknownFault>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut faults = Faults::default();
        for name in names {
            if !name.as_ref().trim().is_empty() {
                faults.enable(name.as_ref())?;
            }
        }
        Ok(faults)
    }

    /// Builds the set holding only `name`.
    pub fn only(name: &str) -> Result<Faults, UnknownFault> {
        Faults::from_names([name])
    }

    /// The names of the enabled faults.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut probe = *self;
        Faults::NAMES
            .iter()
            .copied()
            .filter(|name| probe.flag_mut(name).is_some_and(|flag| *flag))
            .collect()
    }

    /// Whether no fault is injected.
    pub fn is_none(&self) -> bool {
        *self == Faults::default()
    }
}

impl Faults {
    /// The store, behind the storage faults that are on (the same store when none is).
    pub fn decorate_store(&self, store: Store) -> Store {
        if self.refresh_reuse_accepted || self.volatile_replay {
            Store::from_backend(store::FaultyStore::new(
                store,
                self.refresh_reuse_accepted,
                self.volatile_replay,
            ))
        } else {
            store
        }
    }

    /// The cache tier, behind the cache fault when it is on (the same tier otherwise).
    pub fn decorate_cache(
        &self,
        cache: std::sync::Arc<dyn crate::cache::Cache>,
    ) -> std::sync::Arc<dyn crate::cache::Cache> {
        if self.cache_fail_open {
            cache::fail_open(cache)
        } else {
            cache
        }
    }

    /// The providers, behind the provider faults that are on (the same registry when none is).
    pub fn decorate_providers(&self, providers: Providers, store: &Store) -> Providers {
        if self.stale_provider {
            providers::stale(&providers, store)
        } else {
            providers
        }
    }

    /// Where the conversation's events go: straight to the hub unless a stream fault is on.
    pub fn events(&self) -> Events {
        let faults = events::EventFaults::from(self);
        if faults.any() {
            Events::Decorated(std::sync::Arc::new(faults))
        } else {
            Events::Direct
        }
    }
}

/// The contract as `GET /openapi.json` publishes it: under `stale-published-contract`, an
/// older version (`info.version` 0.9.0, without the switch-history path; the route still
/// works).
pub fn published_contract(mut contract: Value, faults: &Faults) -> Value {
    if faults.stale_published_contract {
        contract["info"]["version"] = Value::from("0.9.0");
        if let Some(paths) = contract.get_mut("paths").and_then(Value::as_object_mut) {
            paths.remove("/api/v1/sessions/{session_id}/switch-history");
        }
    }
    contract
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enabled = self.enabled();
        if enabled.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&enabled.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_maps_to_a_distinct_flag() {
        for name in Faults::NAMES {
            let faults = Faults::only(name).unwrap_or_default();
            assert_eq!(faults.enabled(), vec![name]);
        }
    }

    #[test]
    fn a_correct_server_gets_no_decorator() {
        assert!(matches!(Faults::default().events(), Events::Direct));
        assert!(matches!(
            Faults::only("silent-switch").map(|f| f.events()),
            Ok(Events::Decorated(_))
        ));
        assert!(matches!(
            Faults::only("no-pong").map(|f| f.events()),
            Ok(Events::Direct)
        ));
        let contract = serde_json::json!({"info": {"version": "1.0.0"}, "paths": {}});
        assert_eq!(
            published_contract(contract.clone(), &Faults::default()),
            contract
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = Faults::from_names(["nope"]).err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("no-pong"));
    }
}
