//! Table tests of the security rules on hand-made replies.

use super::*;
use crate::probe::client::Reply;
use serde_json::json;
use std::time::Duration;

fn sample(status: u16, headers: &[(&str, &str)], body: &str) -> Sample {
    Sample {
        label: "x".into(),
        reply: Reply {
            exchange_id: "e1".into(),
            status: Some(status),
            body: body.into(),
            elapsed: Duration::ZERO,
            error: None,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
    }
}

const HARDENED: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

#[test]
fn headers_need_nosniff_a_frame_policy_a_referrer_policy_and_no_version() {
    assert!(header_problems(&sample(200, HARDENED, ""), false).is_empty());
    // HSTS only matters on https.
    let problems = header_problems(&sample(200, HARDENED, ""), true);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("Strict-Transport-Security"));
    // CSP frame-ancestors is a frame policy too; a Server without a version is fine.
    let csp = [
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "frame-ancestors 'none'"),
        ("Referrer-Policy", "same-origin"),
        ("Server", "nginx"),
    ];
    assert!(header_problems(&sample(404, &csp, ""), false).is_empty());
    let bare = header_problems(&sample(200, &[("server", "Apache/2.4.1")], ""), false);
    assert_eq!(bare.len(), 4, "{bare:?}");
    assert!(bare.iter().any(|p| p.contains("Apache/2.4.1")));
}

fn cors(kind: CorsKind, origin: &str, headers: &[(&str, &str)], status: u16) -> CorsSample {
    CorsSample {
        kind,
        origin: origin.into(),
        method: "GET".into(),
        sample: sample(status, headers, ""),
    }
}

#[test]
fn cors_fails_only_reflection_or_wildcard_with_credentials() {
    let evil = "https://evil.example";
    let reflected = [
        ("access-control-allow-origin", evil),
        ("access-control-allow-credentials", "true"),
    ];
    assert!(cors_problem(&cors(CorsKind::ArbitraryPreflight, evil, &reflected, 204)).is_some());
    assert!(cors_problem(&cors(CorsKind::ArbitrarySimple, evil, &reflected, 200)).is_some());
    let wildcard = [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
    ];
    assert!(cors_problem(&cors(CorsKind::ArbitrarySimple, evil, &wildcard, 200)).is_some());
    // No CORS at all, or a wildcard without credentials, is not a finding.
    assert!(cors_problem(&cors(CorsKind::ArbitraryPreflight, evil, &[], 405)).is_none());
    let public = [("access-control-allow-origin", "*")];
    assert!(cors_problem(&cors(CorsKind::ArbitrarySimple, evil, &public, 200)).is_none());

    let app = "https://app.example";
    let allowed = [
        ("access-control-allow-origin", app),
        ("access-control-allow-methods", "GET,POST"),
    ];
    assert!(cors_problem(&cors(CorsKind::AllowedPreflight, app, &allowed, 200)).is_none());
    assert!(cors_problem(&cors(CorsKind::AllowedPreflight, app, &[], 405)).is_some());
}

#[test]
fn readiness_bodies_are_read_for_what_they_say() {
    for (body, says) in [
        (
            json!({"status": "ready", "checks": {"database": "ok"}}),
            Some(true),
        ),
        (
            json!({"status": "ok", "checks": {"cache": "down"}}),
            Some(false),
        ),
        (json!({"ready": false}), Some(false)),
        (json!({"status": "degraded"}), Some(false)),
        (
            json!({"dependencies": {"db": {"status": "UP"}}}),
            Some(true),
        ),
        (
            json!({"dependencies": {"db": {"status": "unhealthy"}}}),
            Some(false),
        ),
        (json!({"uptime": 3}), None),
        (json!(["ready"]), None),
    ] {
        assert_eq!(body_says_ready(&body), says, "{body}");
    }
}

#[test]
fn readiness_200_saying_not_ready_fails_and_503_saying_so_passes() {
    let judge = |status: u16, body: &str| {
        let f = readiness(&Ok(sample(status, &[], body)));
        match f.outcome {
            crate::check::Outcome::Measured { value, .. } => value,
            _ => -1.0,
        }
    };
    assert_eq!(judge(200, r#"{"status":"ready"}"#), 1.0);
    assert_eq!(judge(200, r#"{"status":"not_ready"}"#), 0.0);
    assert_eq!(judge(503, r#"{"status":"not_ready"}"#), 1.0);
    assert_eq!(judge(503, r#"{"status":"ready"}"#), 0.0);
    assert_eq!(judge(404, ""), 0.0);
    let f = readiness(&Err("role readiness is not bound".into()));
    assert!(matches!(
        f.outcome,
        crate::check::Outcome::NotAssessed { .. }
    ));
}
