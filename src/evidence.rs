//! Evidence: every HTTP exchange and WebSocket message the audit made, kept so that each point
//! of the score can be traced to what was actually sent and received.
//!
//! Written as HAR 1.2 (`evidence/http.har`) and JSON lines (`evidence/ws.jsonl`). Secrets never
//! reach these files: headers and JSON fields that carry credentials are masked, and every
//! secret string the audit learned (tokens, passwords) is replaced wherever it appears.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const MASK: &str = "[REDACTED]";
const SECRET_FIELDS: [&str; 5] = [
    "password",
    "access_token",
    "refresh_token",
    "token",
    "secret",
];
/// Bodies kept in evidence are cut here; the checks saw the whole body.
const BODY_LIMIT: usize = 64 * 1024;

/// Why a request was made; checks select exchanges by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A valid request to an operation.
    Valid,
    /// Well-formed JSON that breaks the request schema.
    InvalidBody,
    /// A body that is not JSON at all.
    MalformedJson,
    /// A secured operation called without credentials.
    NoToken,
    /// Part of a scenario (name).
    Scenario(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub id: String,
    pub purpose: Purpose,
    pub operation_id: Option<String>,
    pub method: String,
    pub url: String,
    pub path: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub response_body: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(with = "duration_ms")]
    pub elapsed: Duration,
    /// Transport failure (connection refused, timeout), if no response arrived.
    pub error: Option<String>,
}

impl Exchange {
    pub fn json(&self) -> Option<Value> {
        self.response_body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
    }

    /// Media type without parameters, lower case.
    pub fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

mod duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WsRecord {
    pub connection: String,
    pub probe: String,
    /// `sent`, `received`, `open`, `close`.
    pub direction: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// Masks secrets; shared by the HTTP client, the WebSocket probes and the report details.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<Mutex<Vec<String>>>,
}

impl Redactor {
    /// Remembers a secret so that it is masked wherever it later appears.
    pub fn add(&self, secret: &str) {
        if secret.len() < 6 {
            return; // too short to mask without mangling ordinary text
        }
        if let Ok(mut s) = self.secrets.lock()
            && !s.iter().any(|x| x == secret)
        {
            s.push(secret.to_string());
        }
    }

    pub fn text(&self, text: &str) -> String {
        let masked = match serde_json::from_str::<Value>(text) {
            Ok(mut v) if v.is_object() || v.is_array() => {
                mask_fields(&mut v);
                v.to_string()
            }
            _ => text.to_string(),
        };
        self.known_secrets(masked)
    }

    /// Replaces every secret the audit learned, wherever it stands; no parsing.
    fn known_secrets(&self, mut out: String) -> String {
        if let Ok(secrets) = self.secrets.lock() {
            for s in secrets.iter() {
                if out.contains(s.as_str()) {
                    out = out.replace(s.as_str(), MASK);
                }
            }
        }
        out
    }

    pub fn header(&self, name: &str, value: &str) -> String {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" || lower == "cookie" || lower == "set-cookie" {
            let scheme = value
                .split_whitespace()
                .next()
                .filter(|_| value.contains(' '));
            return match scheme {
                Some(s) => format!("{s} {MASK}"),
                None => MASK.to_string(),
            };
        }
        self.text(value)
    }

    /// Masks `token=` style query parameters and known secrets in a URL.
    pub fn url(&self, url: &str) -> String {
        let masked = match url::Url::parse(url) {
            Ok(mut u) if u.query().is_some() => {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let secret = SECRET_FIELDS.contains(&k.to_ascii_lowercase().as_str());
                        (
                            k.into_owned(),
                            if secret {
                                MASK.to_string()
                            } else {
                                v.into_owned()
                            },
                        )
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
                u.to_string()
            }
            _ => url.to_string(),
        };
        self.text(&masked)
    }
}

fn mask_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SECRET_FIELDS.contains(&k.to_ascii_lowercase().as_str()) && val.is_string() {
                    *val = Value::String(MASK.to_string());
                } else {
                    mask_fields(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_fields),
        _ => {}
    }
}

/// The audit's log of exchanges and messages, filled by the probes as they go.
#[derive(Debug, Clone, Default)]
pub struct EvidenceLog {
    inner: Arc<Mutex<Inner>>,
    pub redactor: Redactor,
}

#[derive(Debug, Default)]
struct Inner {
    exchanges: Vec<Exchange>,
    ws: Vec<WsRecord>,
}

impl EvidenceLog {
    /// Stores an exchange (already redacted by the client) and returns its id.
    pub fn push(&self, mut exchange: Exchange) -> String {
        if let Ok(mut inner) = self.inner.lock() {
            exchange.id = format!("http-{:04}", inner.exchanges.len() + 1);
            let id = exchange.id.clone();
            inner.exchanges.push(exchange);
            return id;
        }
        String::new()
    }

    pub fn ws(&self, connection: &str, probe: &str, direction: &str, text: &str) {
        let record = WsRecord {
            connection: connection.to_string(),
            probe: probe.to_string(),
            direction: direction.to_string(),
            at: Utc::now(),
            // Redacted when written: this runs for every frame, inside the timed receive path.
            text: text.to_string(),
        };
        if let Ok(mut inner) = self.inner.lock() {
            inner.ws.push(record);
        }
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.inner
            .lock()
            .map(|i| i.exchanges.clone())
            .unwrap_or_default()
    }

    pub fn ws_records(&self) -> Vec<WsRecord> {
        self.inner.lock().map(|i| i.ws.clone()).unwrap_or_default()
    }

    /// Writes `http.har` and `ws.jsonl` into `dir`. Exchanges were masked when recorded; the
    /// HAR gets one more pass for secrets learned later, WebSocket frames their only pass.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        let har_path = dir.join("http.har");
        let har = self
            .redactor
            .known_secrets(serde_json::to_string_pretty(&self.har())?);
        std::fs::write(&har_path, har)?;
        let ws_path = dir.join("ws.jsonl");
        let mut lines = String::new();
        for mut r in self.ws_records() {
            r.text = self.redactor.text(&r.text);
            lines.push_str(&serde_json::to_string(&r)?);
            lines.push('\n');
        }
        std::fs::write(&ws_path, lines)?;
        Ok(vec![har_path, ws_path])
    }

    /// HAR 1.2 of every exchange, with the audit's purpose and exchange id as `_` extensions.
    pub fn har(&self) -> Value {
        let entries: Vec<Value> = self
            .exchanges()
            .iter()
            .map(|e| {
                let headers = |h: &[(String, String)]| -> Vec<Value> {
                    h.iter().map(|(n, v)| json!({"name": n, "value": v})).collect()
                };
                let query: Vec<Value> = url::Url::parse(&e.url)
                    .map(|u| u.query_pairs().map(|(n, v)| json!({"name": n, "value": v})).collect())
                    .unwrap_or_default();
                let body = clip(e.response_body.as_deref().unwrap_or_default());
                let mut request = json!({
                    "method": e.method, "url": e.url, "httpVersion": "HTTP/1.1",
                    "cookies": [], "headers": headers(&e.request_headers), "queryString": query,
                    "headersSize": -1, "bodySize": e.request_body.as_ref().map_or(0, |b| b.len() as i64),
                });
                if let Some(b) = &e.request_body {
                    request["postData"] = json!({"mimeType": "application/json", "text": b});
                }
                json!({
                    "startedDateTime": e.started_at.to_rfc3339(),
                    "time": e.elapsed.as_secs_f64() * 1000.0,
                    "request": request,
                    "response": {
                        "status": e.status.unwrap_or(0), "statusText": "", "httpVersion": "HTTP/1.1",
                        "cookies": [], "headers": headers(&e.response_headers),
                        "content": {"size": body.len(), "mimeType": e.content_type.clone().unwrap_or_default(), "text": body},
                        "redirectURL": "", "headersSize": -1, "bodySize": body.len(),
                        "_error": e.error,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": e.elapsed.as_secs_f64() * 1000.0, "receive": 0},
                    "_id": e.id, "_purpose": e.purpose, "_operationId": e.operation_id,
                })
            })
            .collect();
        json!({"log": {
            "version": "1.2",
            "creator": {"name": "voice-audit", "version": env!("CARGO_PKG_VERSION")},
            "entries": entries,
        }})
    }
}

/// Cuts a body for storage, on a character boundary.
pub fn clip(body: &str) -> String {
    if body.len() <= BODY_LIMIT {
        return body.to_string();
    }
    let mut end = BODY_LIMIT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes cut]", &body[..end], body.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_everywhere() {
        let r = Redactor::default();
        r.add("eyJhbGciOiJFZERTQSJ9.secret-token");
        let body = r#"{"access_token":"abc","user":{"password":"hunter22"},"note":"eyJhbGciOiJFZERTQSJ9.secret-token"}"#;
        let masked = r.text(body);
        assert!(
            !masked.contains("hunter22")
                && !masked.contains("secret-token")
                && !masked.contains("\"abc\""),
            "{masked}"
        );
        assert_eq!(
            r.header("Authorization", "Bearer eyJhbGciOiJFZERTQSJ9.secret-token"),
            "Bearer [REDACTED]"
        );
        let url = r.url("ws://h/ws/sessions/1?token=abcdef&x=1");
        assert!(
            url.contains("token=%5BREDACTED%5D") && url.contains("x=1"),
            "{url}"
        );
        assert_eq!(
            r.text("plain text eyJhbGciOiJFZERTQSJ9.secret-token"),
            "plain text [REDACTED]"
        );
    }

    #[test]
    fn har_is_version_1_2_and_has_every_exchange() {
        let log = EvidenceLog::default();
        for _ in 0..2 {
            log.push(Exchange {
                id: String::new(),
                purpose: Purpose::Valid,
                operation_id: Some("health".into()),
                method: "GET".into(),
                url: "http://127.0.0.1:1/health".into(),
                path: "/health".into(),
                request_headers: vec![],
                request_body: None,
                status: Some(200),
                response_headers: vec![],
                content_type: Some("application/json".into()),
                response_body: Some("{}".into()),
                started_at: Utc::now(),
                elapsed: Duration::from_millis(2),
                error: None,
            });
        }
        let har = log.har();
        assert_eq!(har["log"]["version"], "1.2");
        assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(2));
        assert_eq!(har["log"]["entries"][1]["_id"], "http-0002");
    }
}
