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
    schema_drift_fails_response_schema: "schema-drift" => ["contract.response_schema"];
    crash_on_invalid_input_fails_input_validation: "invalid-input-500" => ["contract.invalid_input_rejected"];
    accepted_garbage_fails_input_validation: "invalid-input-accepted" => ["contract.invalid_input_rejected"];
    unauthenticated_listing_fails_auth_enforcement: "no-auth-on-list" => ["auth.enforced"];
    plain_text_errors_fail_the_error_format: "plain-errors" => ["errors.problem_json"];
    missing_pong_fails_heartbeat: "no-pong" => ["ws.heartbeat"];
    reused_seq_fails_ordering: "seq-disorder" => ["ws.ordering"];
    bad_event_fails_event_schema: "bad-event-schema" => ["ws.event_schema"];
    closing_on_malformed_frames_fails_malformed_handling: "malformed-closes" => ["ws.malformed_handling"];
    ignored_resume_fails_resume: "no-resume" => ["ws.resume_no_loss"];
    slow_switch_loses_latency_credit: "slow-switch" => ["switch.latency"];
    dropped_context_fails_context_preservation: "drop-context" => ["switch.context_preserved"];
    missing_revocation_fails_rest_and_ws_revocation: "no-revocation" => ["auth.revocation_rest", "auth.revocation_ws"];
    open_sockets_after_logout_fail_ws_revocation: "ws-ignores-revocation" => ["auth.revocation_ws"];
    leaked_sessions_fail_isolation: "cross-user-leak" => ["auth.cross_user_isolation"];
    slow_events_lose_latency_credit: "slow-events" => ["ws.event_latency"];
}
