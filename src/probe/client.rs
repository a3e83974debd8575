//! The one HTTP client of the audit: every request goes through here, so every exchange is
//! timed, tagged with the contract operation it exercised, and recorded (redacted) as evidence.

use crate::binding::Binding;
use crate::binding::template::Source;
use crate::contract::ApiContract;
use crate::evidence::{EvidenceLog, Exchange, Purpose};
use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Body {
    None,
    Json(Value),
    /// Sent as-is with `Content-Type: application/json` (for malformed-JSON probes).
    Raw(String),
    /// Sent as-is with another content type (for wrong-content-type probes).
    Typed {
        content_type: String,
        text: String,
    },
}

/// What a probe gets back: the raw response (for driving the scenario) and the evidence id.
#[derive(Debug, Clone)]
pub struct Reply {
    pub exchange_id: String,
    pub status: Option<u16>,
    pub body: String,
    pub elapsed: Duration,
    pub error: Option<String>,
    /// Response headers (a binding may read a token from a header or a cookie).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// A string field by JSON pointer (`/session/id`).
    pub fn str_at(&self, pointer: &str) -> Option<String> {
        self.json()?.pointer(pointer)?.as_str().map(str::to_string)
    }

    /// The value a binding output names: a body pointer, a header, or a cookie set by the reply.
    pub fn output(&self, source: &Source) -> Option<Value> {
        match source {
            Source::Body(pointer) => self.json()?.pointer(pointer).cloned(),
            Source::Header(name) => self
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| Value::String(v.clone())),
            Source::Cookie(name) => self
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
                .find_map(|(_, v)| {
                    let pair = v.split(';').next()?;
                    let (k, v) = pair.split_once('=')?;
                    (k.trim() == name).then(|| Value::String(v.trim().to_string()))
                }),
        }
    }
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    contract: Arc<ApiContract>,
    /// Which operations play the scenarios' roles; the reference binding until told otherwise.
    binding: Arc<Binding>,
    pub log: EvidenceLog,
    /// A read-only run's client refuses, unsent, every request whose method mutates.
    read_only: bool,
}

impl Http {
    pub fn new(
        base: &str,
        contract: Arc<ApiContract>,
        log: EvidenceLog,
        timeout: Duration,
    ) -> Result<Http, String> {
        // A contract the reference binding does not fit leaves every role unbound: the
        // scenarios then say which roles are missing instead of guessing paths.
        let binding = Arc::new(Binding::reference(&contract).unwrap_or_default());
        Ok(Http {
            client: build_client(timeout)?,
            base: base.trim_end_matches('/').to_string(),
            contract,
            binding,
            log,
            read_only: false,
        })
    }

    /// The same client with another binding (`--binding`).
    pub fn with_binding(mut self, binding: Arc<Binding>) -> Http {
        self.binding = binding;
        self
    }

    /// The same client refusing every mutating method (`--read-only`): such a request is never
    /// sent nor recorded, and its reply says why. The probes skip those steps on their own;
    /// this is the guarantee beneath them.
    pub fn read_only(mut self) -> Http {
        self.read_only = true;
        self
    }

    /// The same client (contract, binding, evidence log) on another instance's base URL.
    pub fn on(&self, base: &str) -> Http {
        Http {
            base: base.trim_end_matches('/').to_string(),
            ..self.clone()
        }
    }

    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn contract(&self) -> &ApiContract {
        &self.contract
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        purpose: Purpose,
    ) -> Reply {
        self.send_full(method, path, token, body, &[], purpose, None)
            .await
    }

    /// Like [`Http::send`], with extra request headers (`Origin`, `X-Forwarded-For`…), which
    /// are recorded with the exchange like the others.
    pub async fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        extra_headers: &[(&str, &str)],
        purpose: Purpose,
    ) -> Reply {
        self.send_full(method, path, token, body, extra_headers, purpose, None)
            .await
    }

    /// [`Http::send`] with its own deadline (shorter than the client's timeout, e.g. what is
    /// left of the walk's budget); a request cut by it is recorded as timed out.
    pub async fn send_within(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        purpose: Purpose,
        deadline: Option<Duration>,
    ) -> Reply {
        self.send_full(method, path, token, body, &[], purpose, deadline)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_full(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        extra_headers: &[(&str, &str)],
        purpose: Purpose,
        deadline: Option<Duration>,
    ) -> Reply {
        if self.read_only && super::mutating(method) {
            return Reply {
                exchange_id: String::new(),
                status: None,
                body: String::new(),
                elapsed: Duration::ZERO,
                error: Some(format!(
                    "not sent: {method} mutates and the run is read-only"
                )),
                headers: Vec::new(),
            };
        }
        let url = format!("{}{}", self.base, path);
        let path_only = path.split('?').next().unwrap_or(path).to_string();
        let operation_id = self
            .contract
            .find(method, &path_only)
            .map(|o| o.operation_id.clone());
        let method_value =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self
            .client
            .request(method_value, &url)
            .header("accept", "application/json, application/problem+json");
        let mut request_headers = vec![(
            "accept".to_string(),
            "application/json, application/problem+json".to_string(),
        )];
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
            request_headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
        if let Some(t) = token {
            // Where the binding says: a bearer header by default, or a cookie.
            let (name, value) = self.binding.auth.header(t);
            request = request.header(name.as_str(), value.as_str());
            request_headers.push((name, value));
        }
        if let Some(d) = deadline {
            request = request.timeout(d);
        }
        let (request_body, content_type) = match &body {
            Body::None => (None, "application/json"),
            Body::Json(v) => (Some(v.to_string()), "application/json"),
            Body::Raw(s) => (Some(s.clone()), "application/json"),
            Body::Typed { content_type, text } => (Some(text.clone()), content_type.as_str()),
        };
        if let Some(b) = &request_body {
            request = request.header("content-type", content_type).body(b.clone());
            request_headers.push(("content-type".into(), content_type.to_string()));
        }
        let started_at = Utc::now();
        let start = Instant::now();
        let outcome = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let text = response.text().await?;
            Ok::<_, reqwest::Error>((status, headers, text))
        }
        .await;
        let elapsed = start.elapsed();
        let r = &self.log.redactor;
        let (status, response_headers, text, error) = match outcome {
            Ok((s, h, t)) => (Some(s), h, t, None),
            Err(e) => (None, Vec::new(), String::new(), Some(describe(&e))),
        };
        let content_type = response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.clone());
        let exchange = Exchange {
            id: String::new(),
            purpose,
            operation_id,
            method: method.to_string(),
            url: r.url(&url),
            path: path_only,
            request_headers: request_headers
                .iter()
                .map(|(k, v)| (k.clone(), r.header(k, v)))
                .collect(),
            request_body: request_body.as_deref().map(|b| r.text(b)),
            status,
            response_headers: response_headers
                .iter()
                .map(|(k, v)| (k.clone(), r.header(k, v)))
                .collect(),
            content_type,
            response_body: Some(r.text(&text)),
            started_at,
            elapsed,
            error: error.clone(),
        };
        let exchange_id = self.log.push(exchange);
        Reply {
            exchange_id,
            status,
            body: text,
            elapsed,
            error,
            headers: response_headers,
        }
    }
}

/// Selects rustls' ring provider for HTTPS and WSS (once; later calls are no-ops).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS-capable client (rustls with ring), no redirects followed: a redirect is an answer.
pub fn build_client(timeout: Duration) -> Result<reqwest::Client, String> {
    install_crypto();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("voice-audit/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("connection failed: {e}")
    } else {
        e.to_string()
    }
}
