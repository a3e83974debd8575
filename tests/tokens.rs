//! Where tokens travel and which tokens count: a deployment that signs in by setting a cookie
//! (and ignores bearer headers) is audited through a binding that says so, and a deployment
//! that trusts `alg: none` fails `auth.token_forgery`.

use crate::support::{self, layered};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeMap;
use std::sync::Mutex;
use voice_audit::run::{self, RunConfig};

const COOKIE: &str = "va_access";

fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{name}=")))
        .map(str::to_string)
}

/// Bearer headers ignored; the access token counts only as the `va_access` cookie, which
/// sign-in and refresh set.
async fn cookie_sessions(mut req: Request, next: Next) -> Response {
    let token = cookie(&req, COOKIE);
    req.headers_mut().remove(header::AUTHORIZATION);
    if let Some(value) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
        req.headers_mut().insert(header::AUTHORIZATION, value);
    }
    let signs_in = ["/auth/login", "/auth/register", "/auth/refresh"]
        .iter()
        .any(|p| req.uri().path().ends_with(p));
    let response = next.run(req).await;
    if !signs_in || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("sign-in body");
    let access = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_string));
    if let Some(value) =
        access.and_then(|t| HeaderValue::from_str(&format!("{COOKIE}={t}; HttpOnly; Path=/")).ok())
    {
        parts.headers.append(header::SET_COOKIE, value);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn cookie_binding() -> String {
    let reference = std::fs::read_to_string("audits/bindings/reference.yaml").expect("binding");
    let text = reference
        .replace(
            "access_token: $response.body#/access_token",
            &format!("access_token: $response.cookie.{COOKIE}"),
        )
        .replace(
            r#"token: { in: header, name: authorization, prefix: "Bearer " }"#,
            &format!(r#"token: {{ in: header, name: cookie, prefix: "{COOKIE}=" }}"#),
        );
    format!("{text}auth: {{ in: cookie, name: {COOKIE} }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_in_cookies_are_sent_back_as_cookies() {
    let server = layered::serve(cookie_sessions).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("binding.yaml");
    std::fs::write(&path, cookie_binding()).expect("write binding");

    let _turn = support::turn().await;
    let mut config = RunConfig::new(&server.url);
    config.probe = support::quick();
    config.binding = Some(path);
    let bound = run::audit(&config, &|_| {})
        .await
        .expect("the audit runs")
        .report;
    assert_eq!(support::failing(&bound), Vec::<String>::new());
    assert_eq!(bound.score.total, 100.0);

    // The reference binding reads the token from the body and sends it as a bearer header,
    // which this deployment ignores.
    config.binding = None;
    let unbound = run::audit(&config, &|_| {}).await;
    match unbound {
        Ok(audit) => assert!(audit.report.score.total < 100.0),
        Err(e) => assert!(e.to_string().contains("sign"), "{e}"),
    }
}

/// Tokens the server accepted so far, by their payload part.
static GENUINE: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The `alg` of a token's header, and its payload part.
fn alg_and_payload(token: &str) -> Option<(String, String)> {
    let mut parts = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    let alg = serde_json::from_slice::<serde_json::Value>(&header)
        .ok()?
        .get("alg")?
        .as_str()?
        .to_string();
    Some((alg, parts.next()?.to_string()))
}

/// A deployment that trusts the token's own `alg`: an `alg: none` token carrying the claims of
/// a token it accepted before is treated as that token.
async fn trust_alg_none(mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some((token, (alg, payload))) =
        token.and_then(|t| alg_and_payload(&t).map(|parsed| (t, parsed)))
    else {
        return next.run(req).await;
    };
    if alg == "none" {
        let genuine = GENUINE.lock().expect("lock").get(&payload).cloned();
        if let Some(value) =
            genuine.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            req.headers_mut().insert(header::AUTHORIZATION, value);
        }
        return next.run(req).await;
    }
    let response = next.run(req).await;
    if response.status().is_success() {
        GENUINE.lock().expect("lock").insert(payload, token);
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_trusting_alg_none_fails_token_forgery() {
    // The clean reference server passing it is asserted in `clean`.
    let server = layered::serve(trust_alg_none).await;
    let report = support::audit(&server.url).await.report;
    let [c] = checks(&report, ["auth.token_forgery"]);
    assert!(c.points_max > 0.0);
    assert_eq!(c.points_earned, 0.0, "{} {:?}", c.summary, c.details);
    assert!(
        c.details
            .iter()
            .any(|d| d.contains("alg: none") && d.contains("HTTP 200")),
        "{:?}",
        c.details
    );
}

/// The checks `ids` of a report, in order.
fn checks<'a, const N: usize>(
    report: &'a voice_audit::model::AuditReport,
    ids: [&str; N],
) -> [&'a voice_audit::model::CheckResult; N] {
    ids.map(|id| support::check(report, id))
}
