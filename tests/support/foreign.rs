//! A foreign-shaped deployment for tests: the reference server behind a layer that moves every
//! API path from `/api/v1/` to `/v2/`, renames operation ids and publishes that contract, and
//! takes the stream token only from an `access_token` query parameter. Audited through its own
//! contract and binding it must score what the reference server scores.

use axum::extract::Request;
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Operation ids of the reference contract and their foreign names.
const RENAMED: &[(&str, &str)] = &[
    ("operationId: login", "operationId: signIn"),
    ("operationId: register", "operationId: signUp"),
    ("operationId: createSession", "operationId: startCall"),
    ("operationId: switchProvider", "operationId: changeProvider"),
];

/// The foreign contract, as YAML.
pub fn contract() -> String {
    let mut text = voice_audit::contract::BUNDLED_OPENAPI.replace("/api/v1/", "/v2/");
    for (from, to) in RENAMED {
        text = text.replace(from, to);
    }
    text
}

/// The foreign binding: the reference binding with foreign ids, paths and stream token.
pub fn binding() -> String {
    std::fs::read_to_string("audits/bindings/reference.yaml")
        .expect("reference binding")
        .replace("operation: login", "operation: signIn")
        .replace("operation: register", "operation: signUp")
        .replace("operation: createSession", "operation: POST /v2/sessions")
        .replace("operation: switchProvider", "operation: changeProvider")
        .replace(
            r#"token: { in: header, name: authorization, prefix: "Bearer " }"#,
            "token: { in: query, name: access_token }",
        )
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path == "/openapi.json" {
        let doc: serde_json::Value = yaml_serde::from_str(&contract()).expect("foreign contract");
        return axum::Json(doc).into_response();
    }
    if let Some(rest) = path.strip_prefix("/v2/") {
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("/api/v1/{rest}{query}").parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    } else if path.starts_with("/api/v1/") {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    if path.starts_with("/ws/") {
        req.headers_mut().remove(header::AUTHORIZATION);
        let token = req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("access_token="))
                .map(str::to_string)
        });
        if let Some(value) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            req.headers_mut().insert(header::AUTHORIZATION, value);
        }
    }
    next.run(req).await
}
