//! A foreign-shaped deployment for tests: the reference server behind a remapping layer. Every
//! API path moves from `/api/v1/` to `/v2/`, operation ids and request fields are renamed (the
//! layer renames JSON bodies both ways), the stream lives at `/v2/stream/{id}`, takes its token
//! from an `X-Access-Token` header and speaks a `{"event", "sequence", "payload"}` envelope
//! (a small WebSocket proxy in `stream`). It publishes its own OpenAPI and AsyncAPI documents;
//! audited through them and its binding it must score what the reference server scores.

pub mod contract;
pub mod stream;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub use contract::{asyncapi, binding, openapi};

/// Marks the proxy's own upgrade to the inner stream; without it `/ws/` is not served.
pub const INTERNAL: &str = "x-foreign-internal";

/// Largest body the layer rewrites.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub async fn layer(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path == "/openapi.json" {
        return axum::Json(openapi()).into_response();
    }
    if path == "/asyncapi.json" {
        return axum::Json(asyncapi()).into_response();
    }
    if path == contract::KEYS_PATH {
        return axum::Json(contract::jwks()).into_response();
    }
    if let Some(session) = path.strip_prefix(contract::STREAM_PREFIX) {
        return stream::proxy(req, session.to_string()).await;
    }
    let internal = req.headers().contains_key(INTERNAL);
    if path.starts_with("/api/v1/") || (path.starts_with("/ws/") && !internal) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return next.run(req).await;
    };
    let mut req = req;
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if let Ok(uri) = format!("/api/v1/{rest}{query}").parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    let renames = request_renames(rest);
    let req = if renames.is_empty() {
        req
    } else {
        let (parts, body) = req.into_parts();
        let body = rewrite(body, |v| rename_keys(v, &renames)).await;
        Request::from_parts(parts, body)
    };
    let response = next.run(req).await;
    let (mut parts, body) = response.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !is_json {
        return Response::from_parts(parts, body);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = rewrite(body, |v| rename_everywhere(v, "display_name", "name")).await;
    Response::from_parts(parts, body)
}

/// Foreign → reference names of the request fields of the operation at `rest` (below `/v2/`).
fn request_renames(rest: &str) -> Vec<(&'static str, &'static str)> {
    let schema = match rest {
        "auth/register" => "RegisterRequest",
        "auth/login" => "LoginRequest",
        r if r.starts_with("sessions/") && r.ends_with("/switch-provider") => {
            "SwitchProviderRequest"
        }
        _ => return Vec::new(),
    };
    contract::RENAMED_FIELDS
        .iter()
        .filter(|(s, _, _)| *s == schema)
        .map(|(_, reference, foreign)| (*foreign, *reference))
        .collect()
}

/// Rewrites a JSON body with `f`; anything that is not JSON passes unchanged.
async fn rewrite(body: Body, f: impl Fn(&mut Value)) -> Body {
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return Body::empty();
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => {
            f(&mut v);
            Body::from(v.to_string())
        }
        Err(_) => Body::from(bytes),
    }
}

/// Renames top-level keys of an object.
fn rename_keys(v: &mut Value, renames: &[(&str, &str)]) {
    if let Some(map) = v.as_object_mut() {
        for (from, to) in renames {
            if let Some(x) = map.remove(*from) {
                map.insert(to.to_string(), x);
            }
        }
    }
}

/// Renames a key in every object of a document.
fn rename_everywhere(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Object(map) => {
            if !map.contains_key(to)
                && let Some(x) = map.remove(from)
            {
                map.insert(to.to_string(), x);
            }
            map.values_mut()
                .for_each(|c| rename_everywhere(c, from, to));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|c| rename_everywhere(c, from, to)),
        _ => {}
    }
}
