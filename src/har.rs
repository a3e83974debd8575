//! A frontend's recorded traffic (`--frontend-har`): the HAR 1.2 file a browser's devtools
//! export, reduced to the API calls the frontend made.
//!
//! Only what the service-layer check needs is read (method, URL, request body), and nothing of
//! it is echoed into a report except the method and path: a recorded HAR carries the
//! frontend's cookies, tokens and passwords. A file that is not a HAR is a tool error (exit 2),
//! never a finding and never a panic; an entry the check cannot use is skipped and counted.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("cannot read the frontend HAR {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the frontend HAR {path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: String },
}

/// One request the frontend sent to an HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Index of the entry in `log.entries` (0-based), for evidence references.
    pub entry: usize,
    /// Upper case.
    pub method: String,
    /// `scheme://host[:port]`.
    pub origin: String,
    /// Path without query string, percent-encoding kept.
    pub path: String,
    pub body: Option<RequestBody>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestBody {
    pub mime_type: String,
    pub text: String,
}

/// The API calls of a HAR and what was left out of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontendHar {
    pub calls: Vec<Call>,
    /// Entries that are not API calls: static assets, CORS preflights, `data:` URLs.
    pub skipped: usize,
    /// WebSocket upgrades; their frames belong to the AsyncAPI contract, not this check.
    pub websockets: usize,
}

#[derive(Deserialize)]
struct HarFile {
    log: HarLog,
}

#[derive(Deserialize)]
struct HarLog {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    request: Request,
    #[serde(default)]
    response: Option<Response>,
    /// Chromium's resource type (`xhr`, `fetch`, `script`, `websocket`…); absent elsewhere.
    #[serde(rename = "_resourceType", default)]
    resource_type: Option<String>,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    url: String,
    #[serde(rename = "postData", default)]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(rename = "mimeType", default)]
    mime_type: String,
}

/// Response types of page loads rather than API answers (pages, scripts, styles, media).
const PAGE_TYPES: &[&str] = &[
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "image/",
    "font/",
    "audio/",
    "video/",
];

#[derive(Deserialize)]
struct PostData {
    #[serde(rename = "mimeType", default)]
    mime_type: String,
    #[serde(default)]
    text: Option<String>,
}

/// File extensions of what a page loads besides its API calls, for HARs without
/// `_resourceType`.
const STATIC: &[&str] = &[
    ".js",
    ".mjs",
    ".css",
    ".map",
    ".html",
    ".htm",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".webp",
    ".avif",
    ".ico",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".wasm",
    ".json.map",
    ".mp3",
    ".wav",
    ".webm",
];

pub fn load(path: &Path) -> Result<FrontendHar, HarError> {
    let text = std::fs::read_to_string(path).map_err(|source| HarError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|reason| HarError::Malformed {
        path: path.to_path_buf(),
        reason,
    })
}

pub fn parse(text: &str) -> Result<FrontendHar, String> {
    let file: HarFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut har = FrontendHar::default();
    for (i, entry) in file.log.entries.into_iter().enumerate() {
        let req = entry.request;
        let url = url::Url::parse(&req.url)
            .map_err(|e| format!("entry {i}: the request URL is not absolute ({e})"))?;
        let method = req.method.trim().to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("entry {i}: {:?} is not an HTTP method", req.method));
        }
        let kind = entry.resource_type.as_deref().map(str::to_ascii_lowercase);
        if matches!(url.scheme(), "ws" | "wss") || kind.as_deref() == Some("websocket") {
            har.websockets += 1;
            continue;
        }
        let api_kind = match kind.as_deref() {
            Some(k) => matches!(k, "xhr" | "fetch"),
            // Without Chromium's resource type (Firefox, Safari), a page, script or image is
            // told by its extension or the type it was answered with.
            None => {
                let p = url.path().to_ascii_lowercase();
                let answered = entry
                    .response
                    .and_then(|r| r.content)
                    .map(|c| c.mime_type.to_ascii_lowercase())
                    .unwrap_or_default();
                !STATIC.iter().any(|ext| p.ends_with(ext))
                    && !PAGE_TYPES.iter().any(|t| answered.starts_with(t))
            }
        };
        if !matches!(url.scheme(), "http" | "https") || method == "OPTIONS" || !api_kind {
            har.skipped += 1;
            continue;
        }
        let body = req.post_data.and_then(|d| {
            d.text.filter(|t| !t.is_empty()).map(|text| RequestBody {
                mime_type: d.mime_type,
                text,
            })
        });
        har.calls.push(Call {
            entry: i,
            method,
            origin: url.origin().ascii_serialization(),
            path: url.path().to_string(),
            body,
        });
    }
    Ok(har)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, url: &str, kind: Option<&str>, body: Option<&str>) -> serde_json::Value {
        let mut request = serde_json::json!({ "method": method, "url": url, "headers": [] });
        if let Some(b) = body {
            request["postData"] = serde_json::json!({ "mimeType": "application/json", "text": b });
        }
        let mut e = serde_json::json!({ "request": request, "response": { "status": 200 } });
        if let Some(k) = kind {
            e["_resourceType"] = serde_json::json!(k);
        }
        e
    }

    #[test]
    fn api_calls_are_kept_and_the_rest_counted() {
        let mut page = entry("GET", "https://app.example.test/dashboard", None, None);
        page["response"]["content"] = serde_json::json!({ "mimeType": "text/html; charset=utf-8" });
        let har = serde_json::json!({ "log": { "version": "1.2", "entries": [
            entry("post", "https://api.example.test/api/v1/auth/login?x=1", Some("fetch"), Some("{}")),
            entry("GET", "https://app.example.test/main.js", Some("script"), None),
            entry("GET", "https://app.example.test/logo.svg", None, None),
            entry("OPTIONS", "https://api.example.test/api/v1/sessions", None, None),
            entry("GET", "wss://api.example.test/ws/sessions/1", None, None),
            entry("GET", "https://api.example.test/api/v1/sessions", None, None),
            page,
        ] } });
        let parsed = parse(&har.to_string()).expect("valid");
        assert_eq!(parsed.skipped, 4);
        assert_eq!(parsed.websockets, 1);
        let calls: Vec<(&str, &str)> = parsed
            .calls
            .iter()
            .map(|c| (c.method.as_str(), c.path.as_str()))
            .collect();
        assert_eq!(
            calls,
            [("POST", "/api/v1/auth/login"), ("GET", "/api/v1/sessions")]
        );
        assert_eq!(parsed.calls[0].origin, "https://api.example.test");
        assert_eq!(parsed.calls[0].entry, 0);
        assert!(parsed.calls[0].body.is_some());
    }

    #[test]
    fn malformed_files_are_errors_with_a_reason() {
        for (text, needle) in [
            ("not json", "expected"),
            ("{\"log\": {}}", "entries"),
            (
                "{\"log\": {\"entries\": [{\"request\": {\"method\": \"GET\", \"url\": \"/relative\"}}]}}",
                "entry 0",
            ),
            (
                "{\"log\": {\"entries\": [{\"request\": {\"method\": \"G T\", \"url\": \"http://a/\"}}]}}",
                "method",
            ),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
