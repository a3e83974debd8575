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

/// A bearer token split the way a verifier reads it.
struct Jws {
    token: String,
    alg: String,
    signing_input: String,
    payload: String,
    signature: Vec<u8>,
}

fn jws(req: &Request) -> Option<Jws> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .to_string();
    let mut parts = token.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    Some(Jws {
        alg: header.get("alg")?.as_str()?.to_string(),
        signing_input: format!("{h}.{p}"),
        payload: p.to_string(),
        signature: URL_SAFE_NO_PAD.decode(sig).unwrap_or_default(),
        token,
    })
}

/// A verifier that trusts what `trusts` accepts: such a token is replaced by the token with the
/// same claims the server accepted before. Returns the token to remember if the server
/// accepts it.
fn swap_trusted(req: &mut Request, trusts: fn(&Jws) -> bool) -> Option<Jws> {
    let jws = jws(req)?;
    if !trusts(&jws) {
        return Some(jws);
    }
    let genuine = GENUINE.lock().expect("lock").get(&jws.payload).cloned();
    if let Some(value) = genuine.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
        req.headers_mut().insert(header::AUTHORIZATION, value);
    }
    None
}

fn remember(response: &Response, jws: Option<Jws>) {
    if let Some(jws) = jws.filter(|_| response.status().is_success()) {
        GENUINE.lock().expect("lock").insert(jws.payload, jws.token);
    }
}

/// A deployment that trusts the token's own `alg`: an `alg: none` token carrying the claims of
/// a token it accepted before is treated as that token.
async fn trust_alg_none(mut req: Request, next: Next) -> Response {
    let jws = swap_trusted(&mut req, |t| t.alg == "none");
    let response = next.run(req).await;
    remember(&response, jws);
    response
}

/// The foreign deployment's published key as a naive verifier keeps it (`openssl pkey -pubin`
/// reads it as the RFC 8037 key the deployment publishes).
const PUBLISHED_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";

/// The foreign deployment with a verifier open to algorithm confusion: a token whose header
/// says HS256 is checked with HMAC keyed by the published public key.
async fn confusable(mut req: Request, next: Next) -> Response {
    let jws = swap_trusted(&mut req, |t| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, PUBLISHED_PEM.as_bytes());
        t.alg == "HS256"
            && ring::hmac::verify(&key, t.signing_input.as_bytes(), &t.signature).is_ok()
    });
    let response = support::foreign::layer(req, next).await;
    remember(&response, jws);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_keyed_with_the_published_key_fails_token_forgery() {
    let server = layered::serve(confusable).await;
    let dir = tempfile::tempdir().expect("dir");
    let contract = dir.path().join("openapi.json");
    let binding = dir.path().join("binding.yaml");
    std::fs::write(&contract, support::foreign::openapi().to_string()).expect("contract");
    std::fs::write(&binding, support::foreign::binding()).expect("binding");

    let _turn = support::turn().await;
    let mut config = RunConfig::new(&server.url);
    config.probe = support::quick();
    config.contract = voice_audit::contract::ContractSource::parse(&contract.display().to_string());
    config.binding = Some(binding);
    let report = run::audit(&config, &|_| {})
        .await
        .expect("the audit runs")
        .report;
    let [c] = checks(&report, ["auth.token_forgery"]);
    assert_eq!(c.points_earned, 0.0, "{} {:?}", c.summary, c.details);
    assert_eq!(
        c.details,
        vec![format!(
            "signed HS256 with the published public key: HTTP 200, expected 401 ({})",
            c.evidence[0]
        )]
    );
}
