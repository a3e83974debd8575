//! Judges the browser-facing security observations: security headers, CORS, the failed-login
//! budget and readiness self-consistency. Pure functions of `probe::security`'s observations,
//! so each rule is tested here on hand-made replies.

use super::Finding;
use crate::probe::security::{CorsKind, CorsSample, Sample, SecurityObservation};

pub const HEADERS: &str = "http.security_headers";
pub const CORS: &str = "auth.cors";
pub const LOGIN_LIMIT: &str = "auth.login_rate_limit";
pub const READINESS: &str = "state.readiness_consistent";

pub fn findings(obs: Option<&SecurityObservation>) -> Vec<Finding> {
    let Some(obs) = obs else {
        return [HEADERS, CORS, LOGIN_LIMIT, READINESS]
            .iter()
            .map(|id| Finding::not_assessed(id, "the security probe did not run"))
            .collect();
    };
    vec![
        headers(obs),
        cors(obs),
        super::login_limit::finding(LOGIN_LIMIT, &obs.login_limit),
        readiness(&obs.readiness),
    ]
}

fn evidence(samples: &[&Sample]) -> Vec<String> {
    samples
        .iter()
        .map(|s| s.reply.exchange_id.clone())
        .collect()
}

/// What is missing from one response's headers (empty: it passes).
pub fn header_problems(sample: &Sample, https: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if !sample
        .header("x-content-type-options")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("nosniff"))
    {
        problems.push("no `X-Content-Type-Options: nosniff`".to_string());
    }
    let frame_options = sample.header("x-frame-options").is_some_and(|v| {
        let v = v.trim().to_ascii_uppercase();
        v == "DENY" || v == "SAMEORIGIN"
    });
    let frame_ancestors = sample
        .header("content-security-policy")
        .is_some_and(|v| v.to_ascii_lowercase().contains("frame-ancestors"));
    if !frame_options && !frame_ancestors {
        problems.push("no frame policy (`X-Frame-Options` or CSP `frame-ancestors`)".to_string());
    }
    match sample.header("referrer-policy") {
        None => problems.push("no `Referrer-Policy`".to_string()),
        Some(v) if v.to_ascii_lowercase().contains("unsafe-url") => {
            problems.push(format!("`Referrer-Policy: {v}` leaks full URLs"));
        }
        Some(_) => {}
    }
    if https
        && !sample.header("strict-transport-security").is_some_and(|v| {
            v.to_ascii_lowercase().contains("max-age=") && !v.contains("max-age=0")
        })
    {
        problems.push("https target without `Strict-Transport-Security`".to_string());
    }
    if let Some(server) = sample.header("server")
        && server.chars().any(|c| c.is_ascii_digit())
    {
        problems.push(format!("`Server: {server}` discloses a version"));
    }
    problems
}

fn headers(obs: &SecurityObservation) -> Finding {
    let samples = match &obs.headers {
        Ok(s) => s
            .iter()
            .filter(|s| s.reply.status.is_some())
            .collect::<Vec<_>>(),
        Err(reason) => return Finding::not_assessed(HEADERS, reason),
    };
    if samples.is_empty() {
        return Finding::failed(HEADERS, "no sampled route answered");
    }
    let details: Vec<String> = samples
        .iter()
        .filter_map(|s| {
            let problems = header_problems(s, obs.https);
            (!problems.is_empty()).then(|| {
                format!(
                    "{} → HTTP {} ({}): {}",
                    s.label,
                    s.reply.status.unwrap_or(0),
                    s.reply.exchange_id,
                    problems.join("; ")
                )
            })
        })
        .collect();
    let passed = samples.len() - details.len();
    Finding::ratio(HEADERS, passed, samples.len(), "sampled responses")
        .with_details(details)
        .with_evidence(evidence(&samples))
}

/// Why one CORS answer is a problem, if it is.
pub fn cors_problem(c: &CorsSample) -> Option<String> {
    let allow_origin = c
        .sample
        .header("access-control-allow-origin")
        .map(str::trim);
    let credentials = c
        .sample
        .header("access-control-allow-credentials")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    match c.kind {
        CorsKind::ArbitraryPreflight | CorsKind::ArbitrarySimple => match allow_origin {
            Some(o) if o == c.origin && credentials => Some(format!(
                "reflects the arbitrary origin {} with `Access-Control-Allow-Credentials: true`: any web site can call the API as the signed-in user",
                c.origin
            )),
            Some("*") if credentials => Some(
                "`Access-Control-Allow-Origin: *` together with `Access-Control-Allow-Credentials: true`".to_string(),
            ),
            _ => None,
        },
        CorsKind::AllowedPreflight => {
            let status_ok = c.sample.reply.status.is_some_and(|s| (200..300).contains(&s));
            let origin_ok = allow_origin.is_some_and(|o| o == c.origin || o == "*");
            let method_ok = c
                .sample
                .header("access-control-allow-methods")
                .is_some_and(|m| {
                    m.split(',')
                        .map(str::trim)
                        .any(|m| m == "*" || m.eq_ignore_ascii_case(&c.method))
                });
            if status_ok && origin_ok && method_ok {
                None
            } else {
                Some(format!(
                    "the allow-listed origin {} is refused (HTTP {}, Allow-Origin {:?}, Allow-Methods {:?})",
                    c.origin,
                    c.sample.reply.status.map_or("none".to_string(), |s| s.to_string()),
                    allow_origin,
                    c.sample.header("access-control-allow-methods"),
                ))
            }
        }
    }
}

fn cors(obs: &SecurityObservation) -> Finding {
    let samples = match &obs.cors {
        Ok(s) => s
            .iter()
            .filter(|c| c.sample.reply.status.is_some())
            .collect::<Vec<_>>(),
        Err(reason) => return Finding::not_assessed(CORS, reason),
    };
    if samples.is_empty() {
        return Finding::failed(CORS, "no CORS request got an answer");
    }
    let details: Vec<String> = samples
        .iter()
        .filter_map(|c| {
            cors_problem(c)
                .map(|p| format!("{} ({}): {p}", c.sample.label, c.sample.reply.exchange_id))
        })
        .collect();
    let passed = samples.len() - details.len();
    Finding::ratio(CORS, passed, samples.len(), "CORS requests")
        .with_details(details)
        .with_evidence(
            samples
                .iter()
                .map(|c| c.sample.reply.exchange_id.clone())
                .collect(),
        )
}

/// Words in a readiness body that mean "not ready".
const NOT_READY: &[&str] = &[
    "not_ready",
    "not ready",
    "notready",
    "unready",
    "degraded",
    "down",
    "unhealthy",
    "unavailable",
    "error",
    "fail",
    "failed",
    "failing",
    "starting",
];
const READY: &[&str] = &["ready", "ok", "up", "healthy", "pass", "available"];

/// What the body says: `Some(true)` ready, `Some(false)` not ready, `None` it does not say.
/// Reads `status`/`state`/`ready`/`healthy` at the top and the values of a `checks`,
/// `dependencies` or `components` object (one dependency down means not ready).
pub fn body_says_ready(body: &serde_json::Value) -> Option<bool> {
    use serde_json::Value;
    // A dependency may be a bare word or an object with its own status.
    let verdict = |v: &Value| match v {
        Value::Object(o) => ["status", "state"]
            .iter()
            .find_map(|k| o.get(*k))
            .and_then(word),
        other => word(other),
    };
    let obj = body.as_object()?;
    let mut verdicts: Vec<bool> = ["status", "state", "ready", "healthy"]
        .iter()
        .filter_map(|k| obj.get(*k))
        .filter_map(word)
        .collect();
    for group in ["checks", "dependencies", "components"] {
        if let Some(deps) = obj.get(group).and_then(Value::as_object) {
            verdicts.extend(deps.values().filter_map(verdict));
        }
    }
    if verdicts.is_empty() {
        None
    } else {
        Some(verdicts.iter().all(|v| *v))
    }
}

/// A boolean, or a word of [`READY`] / [`NOT_READY`].
fn word(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            if NOT_READY.contains(&s.as_str()) {
                Some(false)
            } else if READY.contains(&s.as_str()) {
                Some(true)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn readiness(obs: &Result<Sample, String>) -> Finding {
    let sample = match obs {
        Ok(s) => s,
        Err(reason) => return Finding::not_assessed(READINESS, reason),
    };
    let reply = &sample.reply;
    let Some(status) = reply.status else {
        return Finding::failed(
            READINESS,
            &format!("{} got no answer ({})", sample.label, reply.exchange_id),
        );
    };
    let says = reply.json().as_ref().and_then(body_says_ready);
    let problem = match (status, says) {
        (200..=299, Some(false)) => Some(format!(
            "answers HTTP {status} while its body says it is not ready: load balancers will send traffic to an instance that cannot serve it"
        )),
        (503, Some(true)) => Some(format!(
            "answers HTTP {status} while its body says it is ready"
        )),
        (200..=299, _) | (503, _) => None,
        (other, _) => Some(format!(
            "answers HTTP {other}: neither ready (2xx) nor not ready (503)"
        )),
    };
    let passed = usize::from(problem.is_none());
    Finding::ratio(READINESS, passed, 1, "readiness answers")
        .with_summary(match &problem {
            None => format!(
                "{} answers HTTP {status} consistently with its body",
                sample.label
            ),
            Some(p) => format!("{} {p}", sample.label),
        })
        .with_details(
            problem
                .map(|_| {
                    vec![format!(
                        "{} ({}): {}",
                        sample.label,
                        reply.exchange_id,
                        reply.body.chars().take(200).collect::<String>()
                    )]
                })
                .unwrap_or_default(),
        )
        .with_evidence(vec![reply.exchange_id.clone()])
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
