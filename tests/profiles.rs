//! One run rendered under several profiles (integration, readiness of seed 002, status of seed
//! 004) with a frontend HAR, then scored again offline: every placeholder of the seeds filled,
//! the HAR's calls matched to the contract, and `rescore` reproducing the run's results.

use crate::clean::redactions;
use crate::support;
use serde_json::json;
use std::path::Path;
use voice_audit::check::service_layer;
use voice_audit::contract::{ApiContract, BUNDLED_OPENAPI};
use voice_audit::model::Status;
use voice_audit::report::Format;

/// Placeholder tokens of seed 002 (a filled report: its component list and IDs are the
/// template) and seed 004 (a template) that must never survive into a report.
const SEED_PLACEHOLDERS: &[&str] = &[
    "[DATE]",
    "[Feature/System Integration]",
    "[Agent Name]",
    "[TIMESTAMP]",
    "[INTEGRATION_AGENT]",
    "[Integration status updates and coordination notes]",
    "___",
    "| | |",
];

/// Every leftover placeholder: the seeds' own tokens, any bracketed text other than a checklist
/// box, and any empty table cell.
fn placeholders(text: &str) -> Vec<String> {
    let mut found: Vec<String> = SEED_PLACEHOLDERS
        .iter()
        .filter(|p| text.contains(**p))
        .map(|p| p.to_string())
        .collect();
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        let Some(end) = after.find(']') else { break };
        let inner = &after[..end];
        if inner != " " && inner != "x" {
            found.push(format!("[{inner}]"));
        }
        rest = &after[end + 1..];
    }
    for line in text.lines().filter(|l| l.starts_with('|')) {
        if line.contains("|  |") || line.contains("| |") {
            found.push(format!("empty cell: {line}"));
        }
    }
    found
}

fn entry(
    method: &str,
    url: &str,
    kind: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut request = json!({ "method": method, "url": url, "httpVersion": "HTTP/1.1",
        "headers": [{ "name": "Authorization", "value": "Bearer eyJhbGciOiJFZERTQSJ9.e30.sig" }],
        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": -1 });
    if let Some(b) = body {
        request["postData"] = json!({ "mimeType": "application/json", "text": b.to_string() });
    }
    json!({ "startedDateTime": "2026-12-01T00:00:00.000Z", "time": 1, "request": request,
        "response": { "status": 200 }, "_resourceType": kind })
}

fn har(entries: Vec<serde_json::Value>) -> String {
    json!({ "log": { "version": "1.2", "creator": { "name": "test", "version": "1" },
        "entries": entries } })
    .to_string()
}

/// What a frontend that follows the contract records.
fn clean_har(base: &str) -> String {
    har(vec![
        entry("GET", &format!("{base}/app.js"), "script", None),
        entry(
            "POST",
            &format!("{base}/api/v1/auth/login"),
            "fetch",
            Some(json!({ "email": "ada@example.test", "password": "Va-correct-horse-1" })),
        ),
        entry("GET", &format!("{base}/api/v1/auth/me"), "xhr", None),
        entry(
            "POST",
            &format!("{base}/api/v1/sessions"),
            "fetch",
            Some(json!({ "provider": "gemini" })),
        ),
        entry(
            "GET",
            &format!("{}/ws/sessions/1", base.replace("http", "ws")),
            "websocket",
            None,
        ),
    ])
}

#[test]
fn a_frontend_har_with_a_wrong_prefix_method_and_body_is_caught_and_a_clean_one_passes() {
    let api = ApiContract::parse(BUNDLED_OPENAPI, "bundled").expect("contract");
    let dir = tempfile::tempdir().expect("dir");
    let base = "https://voice.example.test";
    let broken = har(vec![
        entry(
            "POST",
            &format!("{base}/auth/login"),
            "fetch",
            Some(json!({ "email": "ada@example.test", "password": "Va-correct-horse-1" })),
        ),
        entry("PUT", &format!("{base}/api/v1/auth/me"), "xhr", None),
        entry(
            "POST",
            &format!("{base}/api/v1/sessions"),
            "fetch",
            Some(json!({ "provider": "carrier-pigeon", "colour": "grey" })),
        ),
        entry("GET", &format!("{base}/api/v1/auth/me"), "xhr", None),
    ]);
    let path = dir.path().join("broken.har");
    std::fs::write(&path, broken).expect("write");
    let out = service_layer::check(&api, &voice_audit::har::load(&path).expect("parses"), "");
    let details = out.finding.details.join("\n");
    assert!(
        details.contains("POST /auth/login")
            && details.contains("did you mean POST /api/v1/auth/login"),
        "{details}"
    );
    assert!(
        details.contains("PUT /api/v1/auth/me") && details.contains("wrong method"),
        "{details}"
    );
    assert!(
        details.contains("POST /api/v1/sessions") && details.contains("breaks the schema"),
        "{details}"
    );
    assert!(
        !details.contains("Va-correct-horse-1") && !details.contains("eyJ"),
        "{details}"
    );
    match &out.finding.outcome {
        voice_audit::check::Outcome::Measured { value, display } => {
            assert_eq!(display, "1/4", "{details}");
            assert!(*value < 1.0);
        }
        other => panic!("{other:?}"),
    }

    let path = dir.path().join("clean.har");
    std::fs::write(&path, clean_har(base)).expect("write");
    let out = service_layer::check(&api, &voice_audit::har::load(&path).expect("parses"), "");
    assert_eq!(out.finding.details, Vec::<String>::new());
    assert!(
        out.finding.summary.contains("1 WebSocket"),
        "{}",
        out.finding.summary
    );
    assert!(
        matches!(out.finding.outcome, voice_audit::check::Outcome::Measured { value, .. } if value == 1.0)
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_renders_every_profile_and_rescoring_reproduces_it() {
    let server = support::server(&[]).await;
    let work = tempfile::tempdir().expect("dir");
    let har_path = work.path().join("frontend.har");
    std::fs::write(&har_path, clean_har(&server.url())).expect("har");
    let mut config = voice_audit::run::RunConfig::new(&server.url());
    config.probe = support::quick();
    config.profiles = vec!["integration".into(), "readiness".into(), "status".into()];
    config.frontend_har = Some(har_path);
    let mut audit = {
        let _turn = support::turn().await;
        voice_audit::run::audit(&config, &|_| {})
            .await
            .expect("runs")
    };
    assert_eq!(support::failing(&audit.report), Vec::<String>::new());
    assert_eq!(
        support::check(&audit.report, "contract.service_layer").status,
        Status::Pass
    );
    let out = work.path().join("out");
    let formats = [Format::Markdown, Format::Json, Format::Junit];
    let written = voice_audit::run::write(&mut audit, &formats, &out, false).expect("written");
    let names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            "observations.json",
            "report.md",
            "results.json",
            "junit.xml",
            "readiness-report.md",
            "readiness-results.json",
            "readiness-junit.xml",
            "status-report.md",
            "status-results.json",
            "status-junit.xml",
        ]
    );

    // The integration report's "Frontend Usage" column shows what the HAR did.
    let md = read(&out, "report.md");
    assert!(
        md.contains("🟢 called 1× by the frontend, conforms"),
        "frontend usage column"
    );
    assert!(md.contains("not called in the recorded frontend HAR"));

    let readiness = read(&out, "readiness-report.md");
    let status = read(&out, "status-report.md");
    for (name, text) in [("readiness", &readiness), ("status", &status)] {
        assert_eq!(placeholders(text), Vec::<String>::new(), "{name}");
        assert!(
            !text.contains("eyJ") && !text.contains("Va-correct-horse-1"),
            "{name} leaks"
        );
    }
    // Component scores are computed: every assessed component of a clean server is 100/100,
    // and the ones this version cannot observe say why instead of carrying a number.
    assert!(
        readiness.contains("**API Gateway: 100/100**"),
        "{readiness}"
    );
    assert!(
        readiness.contains("**Observability: not assessed: "),
        "{readiness}"
    );
    assert!(
        status.contains("- [x] Integration points identified"),
        "{status}"
    );

    let filters = redactions();
    insta::with_settings!({filters => filters.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>()}, {
        insta::assert_snapshot!("readiness_report_md", readiness);
        insta::assert_snapshot!("status_report_md", status);
    });

    // Offline re-scoring with the same profiles reproduces every results file byte for byte
    // (times included: they are the run's, read back from observations.json).
    let again = work.path().join("again");
    let (_, rewritten) = voice_audit::rescore::rescore(
        &out,
        &["integration".into(), "readiness".into(), "status".into()],
        &[Format::Json],
        Some(&again),
    )
    .expect("rescored");
    assert_eq!(rewritten.len(), 4, "{rewritten:?}");
    for name in [
        "results.json",
        "readiness-results.json",
        "status-results.json",
    ] {
        assert_eq!(
            read(&out, name),
            read(&again, name),
            "{name} differs after rescore"
        );
    }

    // A stricter rubric on the same evidence lowers the score.
    let strict = work.path().join("strict.yaml");
    let text = voice_audit::profile::BUNDLED_INTEGRATION.replace(
        "      - id: switch.latency\n        title: Provider switch latency (p95)\n        points: 1\n        unit: ms\n        good: 500\n        poor: 2000",
        "      - id: switch.latency\n        title: Provider switch latency (p95)\n        points: 1\n        unit: ms\n        good: 0.001\n        poor: 0.002",
    );
    assert_ne!(
        text,
        voice_audit::profile::BUNDLED_INTEGRATION,
        "the threshold was found"
    );
    std::fs::write(&strict, text).expect("strict profile");
    let (strict_audit, _) = voice_audit::rescore::rescore(
        &out,
        &[strict.display().to_string()],
        &[Format::Json],
        Some(&work.path().join("strict")),
    )
    .expect("rescored strictly");
    assert!(
        strict_audit.report.score.total < audit.report.score.total,
        "{} is not under {}",
        strict_audit.report.score.total,
        audit.report.score.total
    );
    assert_eq!(
        support::check(&strict_audit.report, "switch.latency").status,
        Status::Fail
    );
}

#[test]
fn rescoring_a_folder_without_observations_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    let err = voice_audit::rescore::rescore(dir.path(), &[], &[Format::Json], None)
        .err()
        .expect("no observations.json");
    assert!(err.to_string().contains("observations.json"), "{err}");
    std::fs::write(
        dir.path().join("observations.json"),
        "{\"schema_version\": \"9.0\"}",
    )
    .expect("write");
    let err = voice_audit::rescore::rescore(dir.path(), &[], &[Format::Json], None)
        .err()
        .expect("malformed");
    assert!(err.to_string().contains("malformed"), "{err}");
}

#[test]
fn a_malformed_har_or_a_missing_run_folder_exits_2_from_the_binary() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.har");
    std::fs::write(&bad, "{\"log\": {\"entries\": [{\"request\": {}}]}}").expect("write");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "run".into(),
                "--target".into(),
                "http://127.0.0.1:9".into(),
                "--frontend-har".into(),
                bad.display().to_string(),
            ],
            "frontend HAR",
        ),
        (
            vec!["rescore".into(), dir.path().display().to_string()],
            "observations.json",
        ),
        (
            vec![
                "run".into(),
                "--target".into(),
                "http://127.0.0.1:9".into(),
                "--profile".into(),
                "readiness,no-such-profile".into(),
            ],
            "no-such-profile",
        ),
    ];
    for (args, needle) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_voice-audit"))
            .args(&args)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
