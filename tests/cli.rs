//! The binary as CI and auditors use it: files written, exit codes 0 / 1 / 2, nothing secret on
//! the terminal.

use crate::support;
use std::process::Command;

fn voice_audit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voice-audit"))
}

/// Runs `voice-audit run` against a fresh reference server with `faults`; returns the process
/// output and the report folder.
async fn run_against(faults: &[&str], extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let server = support::server(faults).await;
    let out = tempfile::tempdir().expect("out");
    let mut cmd = voice_audit();
    cmd.args([
        "run",
        "--target",
        &server.url(),
        "--switches",
        "5",
        "--timeout",
        "3",
        "--out",
    ])
    .arg(out.path())
    .args(extra);
    let _turn = support::turn().await;
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined");
    (output, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_against_a_separate_server_passes_the_gate_and_writes_every_report() {
    let (output, out) = run_against(&[], &["--fail-under", "100"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    for file in [
        "report.md",
        "results.json",
        "junit.xml",
        "evidence/http.har",
        "evidence/ws.jsonl",
    ] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
    let md = std::fs::read_to_string(out.path().join("report.md")).expect("md");
    assert!(md.contains("Score: 100/100"));
    assert!(
        stdout.contains("Score: 100/100"),
        "summary table printed: {stdout}"
    );
    assert!(
        stderr.contains("switching providers"),
        "progress shown: {stderr}"
    );
    assert!(
        !stdout.contains("eyJ") && !stderr.contains("eyJ"),
        "a token reached the terminal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_deployment_fails_the_gate_with_exit_1() {
    let (output, out) = run_against(
        &["no-revocation"],
        &["--fail-under", "100", "--format", "json", "--quiet"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("gate failed"));
    let results: voice_audit::model::AuditReport = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("results.json")).expect("json"),
    )
    .expect("parses");
    assert!(results.score.total < 100.0);
}

#[test]
fn tool_errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("dir");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "openapi: 3.1.0\ninfo: [not, a, mapping]\npaths: {}\n",
    )
    .expect("write");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["run".into(), "--target".into(), "http://127.0.0.1:9".into()],
            "cannot be reached",
        ),
        (
            vec!["run".into(), "--target".into(), "ftp://example.test".into()],
            "scheme must be http",
        ),
        (
            vec![
                "run".into(),
                "--target".into(),
                "http://127.0.0.1:9".into(),
                "--contract".into(),
                broken.display().to_string(),
            ],
            "not a valid OpenAPI",
        ),
        (
            vec![
                "run".into(),
                "--target".into(),
                "http://127.0.0.1:9".into(),
                "--contract".into(),
                "/nonexistent/x.yaml".into(),
            ],
            "cannot read contract",
        ),
    ];
    for (args, needle) in cases {
        let output = voice_audit()
            .args(&args)
            .args(["--quiet", "--timeout", "2"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let output = voice_audit()
        .args([
            "run",
            "--target",
            "http://127.0.0.1:9",
            "--fail-under",
            "101",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "clap usage errors exit 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_regressions_fail_the_gate() {
    let clean = support::server(&[]).await;
    let out = tempfile::tempdir().expect("out");
    let mut audit = support::audit(&clean.url()).await;
    voice_audit::run::write(
        &mut audit,
        &[voice_audit::report::Format::Json],
        out.path(),
        false,
    )
    .expect("written");
    let baseline =
        voice_audit::run::load_baseline(&out.path().join("results.json")).expect("baseline loads");
    assert!(voice_audit::run::gate(&audit.report, Some(100.0), Some(&baseline)).is_ok());
    let broken = support::audit_with_faults(&["drop-context"]).await;
    let reasons = voice_audit::run::gate(&broken, None, Some(&baseline)).expect_err("regression");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("switch.context_preserved")),
        "{reasons:?}"
    );
}

#[test]
fn bind_drafts_a_binding_the_run_command_accepts() {
    let out = voice_audit()
        .args(["bind", "--contract", "bundled"])
        .output()
        .expect("bind runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let contract = voice_audit::contract::ApiContract::parse(
        voice_audit::contract::BUNDLED_OPENAPI,
        "bundled",
    )
    .expect("contract");
    let binding = voice_audit::binding::Binding::parse(&text, "draft", &contract)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(binding.role("switch").is_ok());

    let missing = voice_audit()
        .args(["bind", "--contract", "/no/such/contract.yaml"])
        .output()
        .expect("bind runs");
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_broken_binding_file_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("binding.yaml");
    std::fs::write(
        &path,
        "version: 1\nroles:\n  switch: { operation: teleport }\n",
    )
    .expect("write");
    let out = voice_audit()
        .args(["run", "--target", "http://127.0.0.1:9", "--binding"])
        .arg(&path)
        .output()
        .expect("run runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("teleport"), "{stderr}");
}
