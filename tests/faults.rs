//! Every check family fails against a deployment that breaks it: the reference server with one
//! injected fault. Each test names the check that must catch the fault and requires the score
//! to drop; no check can pass by construction.

use crate::support;
use voice_audit::model::Status;

async fn caught(fault: &str, check_ids: &[&str]) {
    let report = support::audit_with_faults(&[fault]).await;
    assert!(
        report.score.total < 100.0,
        "{fault}: score stayed {}",
        report.score.total
    );
    for id in check_ids {
        let c = support::check(&report, id);
        assert!(
            matches!(c.status, Status::Fail | Status::Partial),
            "{fault} should fail {id}, got {:?}: {} {:?}",
            c.status,
            c.summary,
            c.details
        );
        assert!(
            c.points_earned < c.points_max,
            "{fault}: {id} lost no points"
        );
    }
    assert!(!report.gaps.is_empty(), "{fault}: no gap recorded");
}

macro_rules! fault_tests {
    ($($name:ident: $fault:literal => [$($check:literal),+];)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                caught($fault, &[$($check),+]).await;
            }
        )+
    };
}

fault_tests! {
    missing_endpoint_fails_implementation: "missing-switch-history" => ["contract.operations_implemented"];
    schema_drift_fails_response_schema_and_read_back: "schema-drift" => ["contract.response_schema", "state.persistence_readback"];
    crash_on_invalid_input_fails_input_validation: "invalid-input-500" => ["contract.invalid_input_rejected", "errors.invalid_provider"];
    accepted_garbage_fails_input_validation: "invalid-input-accepted" => ["contract.invalid_input_rejected"];
    stale_published_contract_fails_version_compat: "stale-published-contract" => ["contract.version_compat"];
    unauthenticated_listing_fails_auth_enforcement: "no-auth-on-list" => ["auth.enforced"];
    plain_text_errors_fail_the_error_format: "plain-errors" => ["errors.problem_json"];
    reusable_refresh_tokens_fail_the_lifecycle: "refresh-reuse-accepted" => ["auth.token_lifecycle"];
    missing_pong_fails_heartbeat: "no-pong" => ["ws.heartbeat"];
    slow_upgrade_loses_connect_credit: "slow-upgrade" => ["ws.connect_time"];
    reused_seq_fails_ordering: "seq-disorder" => ["ws.ordering"];
    bad_event_fails_event_schema: "bad-event-schema" => ["ws.event_schema"];
    closing_on_malformed_frames_fails_malformed_handling: "malformed-closes" => ["ws.malformed_handling"];
    ignored_resume_fails_resume_and_reconnect: "no-resume" => ["ws.resume_no_loss", "ws.reconnect_time"];
    slow_switch_loses_latency_credit: "slow-switch" => ["switch.latency"];
    flaky_switch_fails_success_rate: "flaky-switch" => ["switch.success_rate"];
    stale_provider_fails_mid_call: "stale-provider" => ["switch.mid_call"];
    silent_switch_fails_announcement: "silent-switch" => ["switch.announced"];
    dropped_events_fail_no_loss: "drop-events" => ["switch.no_message_loss"];
    noop_failover_fails_auto_failover: "failover-noop" => ["switch.auto_failover"];
    dropped_context_fails_context_preservation: "drop-context" => ["switch.context_preserved"];
    missing_revocation_fails_rest_and_ws_revocation: "no-revocation" => ["auth.revocation_rest", "auth.revocation_ws"];
    open_sockets_after_logout_fail_ws_revocation: "ws-ignores-revocation" => ["auth.revocation_ws"];
    leaked_sessions_fail_isolation: "cross-user-leak" => ["auth.cross_user_isolation"];
    slow_events_lose_latency_and_throughput_credit: "slow-events" => ["ws.event_latency", "ws.throughput"];
}

/// Every assessed check of the profile is named above with a fault that breaks it, or in
/// `honest.rs`, `recovery.rs`, `security.rs` or `tokens.rs` with a layered deployment or contract
/// that breaks it, in `walk.rs` with a big-spec deployment, or in `instances.rs` / `load.rs` with
/// deployments that keep state to one instance or collapse: none can pass by construction.
#[test]
fn every_assessed_check_has_a_fault_that_fails_it() {
    let source = [
        include_str!("faults.rs"),
        include_str!("honest.rs"),
        include_str!("recovery.rs"),
        include_str!("security.rs"),
        include_str!("tokens.rs"),
        include_str!("walk.rs"),
        include_str!("instances.rs"),
        include_str!("load.rs"),
    ]
    .concat();
    let profile = voice_audit::profile::Profile::bundled().expect("profile");
    let missing: Vec<String> = profile
        .checks()
        .filter(|(_, c)| c.not_assessed.is_none())
        .map(|(_, c)| c.id.clone())
        .filter(|id| {
            !source.contains(&format!("\"{id}\"]")) && !source.contains(&format!("\"{id}\","))
        })
        .collect();
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "checks without a failing test"
    );
}
