//! The stream probes against the reference server, clean and with one fault per check.
use super::*;
use crate::check::Outcome;
use crate::check::stream::findings;
use voice_reference_server::{Application, Faults, Settings};

async fn server(dir: &tempfile::TempDir, faults: Faults) -> voice_reference_server::ServerHandle {
    let db = dir.path().join("stream.db");
    let settings =
        Settings::ephemeral(format!("sqlite://{}?mode=rwc", db.display())).with_faults(faults);
    Application::build(settings)
        .await
        .expect("reference server starts")
        .spawn()
}

fn value(findings: &[crate::check::Finding], id: &str) -> f64 {
    let finding = findings.iter().find(|f| f.check_id == id).expect(id);
    match &finding.outcome {
        Outcome::Measured { value, .. } => *value,
        Outcome::NotAssessed { reason } => panic!("{id} not assessed: {reason}"),
        Outcome::Failed { reason } => panic!("{id} failed: {reason}"),
    }
}

#[tokio::test]
async fn the_reference_server_passes_every_stream_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(&dir, Faults::default()).await;
    let ctx = test_ctx(&server.base_url(), &server.ws_base_url()).await;
    let observed = probe(&ctx).await;
    server.shutdown().await;
    let obs = observed.expect("the stream probes run");
    assert_eq!(obs.no_token_status, Some(401));
    let found = findings(Some(&Ok(obs.clone())), &obs.connections, &ctx.ws_contract);
    assert_eq!(found.len(), 10);
    for f in &found {
        eprintln!("{}: {:?} — {}", f.check_id, f.outcome, f.summary);
        assert!(f.details.is_empty(), "{}: {:?}", f.check_id, f.details);
    }
    for id in [
        "ws.heartbeat",
        "ws.resume_no_loss",
        "ws.event_schema",
        "ws.ordering",
        "ws.malformed_handling",
        "auth.ws_upgrade_refused",
    ] {
        assert_eq!(value(&found, id), 1.0, "{id}");
    }
    assert!(value(&found, "ws.connect_time") < 500.0);
    assert!(value(&found, "ws.event_latency") < 100.0);
    assert!(value(&found, "ws.reconnect_time") < 2000.0);
    assert!(value(&found, "ws.throughput") > 100.0);
    let resume = obs.resume.expect("resume ran");
    assert_eq!(resume.missed_seqs.len(), 2 * RESUME_TEXTS + 1, "{resume:?}");
}

/// Runs the probe against a server with `fault` and returns the value of check `id`.
async fn value_under_fault(fault: &str, id: &str) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(&dir, Faults::only(fault).expect("known fault")).await;
    let mut ctx = test_ctx(&server.base_url(), &server.ws_base_url()).await;
    ctx.settings.timeout = Duration::from_millis(600);
    ctx.settings.latency_samples = 3;
    ctx.settings.throughput_messages = 4;
    let observed = probe(&ctx).await;
    server.shutdown().await;
    let obs = observed.expect("the stream probes run");
    value(
        &findings(Some(&Ok(obs.clone())), &obs.connections, &ctx.ws_contract),
        id,
    )
}

#[tokio::test]
async fn reused_seqs_fail_ordering() {
    assert!(value_under_fault("seq-disorder", "ws.ordering").await < 1.0);
}

#[tokio::test]
async fn a_string_confidence_fails_the_event_schema() {
    assert!(value_under_fault("bad-event-schema", "ws.event_schema").await < 1.0);
}

#[tokio::test]
async fn closing_on_malformed_frames_fails_malformed_handling() {
    assert_eq!(
        value_under_fault("malformed-closes", "ws.malformed_handling").await,
        0.0
    );
}

#[tokio::test]
async fn an_ignored_resume_loses_every_missed_event() {
    assert_eq!(
        value_under_fault("no-resume", "ws.resume_no_loss").await,
        0.0
    );
}

#[tokio::test]
async fn delayed_events_show_in_the_event_latency() {
    assert!(value_under_fault("slow-events", "ws.event_latency").await >= 250.0);
}

#[tokio::test]
async fn a_server_without_pongs_fails_the_heartbeat_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(&dir, Faults::only("no-pong").expect("known fault")).await;
    let mut ctx = test_ctx(&server.base_url(), &server.ws_base_url()).await;
    // Every ping waits out its timeout here; keep the waits short.
    ctx.settings.timeout = Duration::from_millis(400);
    ctx.settings.latency_samples = 3;
    ctx.settings.throughput_messages = 20;
    let observed = probe(&ctx).await;
    server.shutdown().await;
    let obs = observed.expect("the stream probes run");
    let found = findings(Some(&Ok(obs.clone())), &obs.connections, &ctx.ws_contract);
    assert_eq!(value(&found, "ws.heartbeat"), 0.0);
    assert_eq!(
        value(&found, "ws.malformed_handling"),
        1.0,
        "liveness falls back to a text"
    );
    assert_eq!(value(&found, "ws.resume_no_loss"), 1.0);
}
