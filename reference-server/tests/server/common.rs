//! Test helpers: a fresh app over its own temp SQLite file, and request shortcuts.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;
use voice_reference_server::{AppState, Faults, Settings, app};

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    /// The app's database, for tests that look behind the store.
    pub database_url: String,
    _dir: TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Reply {
    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.raw);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.raw
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["type"].is_string());
        assert!(self.body["title"].is_string());
        assert!(self.body["correlation_id"].is_string());
    }
}

pub fn settings(dir: &TempDir) -> Settings {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    Settings::ephemeral(url)
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with(|_| {}).await
    }

    pub async fn with_faults(faults: &[&str]) -> TestApp {
        let faults = Faults::from_names(faults).unwrap();
        TestApp::with(move |s| s.faults = faults).await
    }

    pub async fn with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings(&dir);
        tweak(&mut settings);
        let state = AppState::new(&settings).await.unwrap();
        TestApp {
            database_url: settings.database_url.clone(),
            router: app(state.clone()),
            state,
            _dir: dir,
        }
    }

    pub async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "voice.test");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.raw(request).await
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, uri, token, None).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, uri, token, Some(body)).await
    }

    /// Registers `email` and returns the auth response.
    pub async fn register(&self, email: &str) -> Value {
        let reply = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.raw);
        reply.body
    }

    /// Registers a user and returns its access token.
    pub async fn user(&self, email: &str) -> String {
        self.register(email).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a session and returns its id.
    pub async fn session(&self, token: &str, provider: &str) -> String {
        let reply = self
            .post(
                "/api/v1/sessions",
                Some(token),
                json!({"provider": provider}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.raw);
        reply.body["session"]["id"].as_str().unwrap().to_owned()
    }

    /// Switches a session's provider.
    pub async fn switch_provider(&self, session_id: &str, token: &str, provider: &str) -> Reply {
        self.post(
            &format!("/api/v1/sessions/{session_id}/switch-provider"),
            Some(token),
            json!({"provider": provider}),
        )
        .await
    }
}

/// A reqwest client for the end-to-end tests. In a workspace build reqwest's features are
/// unified with voice-audit's (`rustls-no-provider`), so a crypto provider must be chosen first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
