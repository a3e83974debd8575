//! The cache tier: the in-process cache switched off and on, Redis shared through a key
//! prefix, and a Redis of the test's own killed mid-run (fail closed, then whole again).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use voice_reference_server::auth::TokenService;
use voice_reference_server::cache::CacheConfig;
use voice_reference_server::{AppState, Settings};

use crate::common::TestApp;

/// Registers a user and signs it out: returns (revoked access token, a live token of another user).
async fn revoked_and_live(app: &TestApp) -> (String, String) {
    let revoked = app.user("revoked@example.com").await;
    let reply = app
        .post("/api/v1/auth/logout", Some(&revoked), json!({}))
        .await;
    assert!(reply.status.is_success(), "logout: {}", reply.raw);
    let live = app.user("live@example.com").await;
    (revoked, live)
}

async fn me(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/v1/auth/me", Some(token)).await.status
}

async fn ready_cache(app: &TestApp) -> (StatusCode, Value) {
    let reply = app.get("/ready", None).await;
    (reply.status, reply.body["checks"]["cache"].clone())
}

#[tokio::test]
async fn in_process_cache_outage_fails_closed_and_recovers_without_restart() {
    let app = TestApp::new().await;
    let (revoked, live) = revoked_and_live(&app).await;
    assert_eq!(me(&app, &revoked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(ready_cache(&app).await, (StatusCode::OK, json!("ok")));

    let writer = app.user("writer@example.com").await;
    let switch = app
        .state
        .in_process_cache
        .clone()
        .expect("in-process cache");
    switch.set_available(false);
    assert_eq!(
        me(&app, &revoked).await,
        StatusCode::UNAUTHORIZED,
        "revoked token accepted during the outage"
    );
    assert_eq!(
        me(&app, &live).await,
        StatusCode::OK,
        "reads not served during the outage"
    );
    let session = app.session(&writer, "openai").await;
    assert_eq!(ready_cache(&app).await, (StatusCode::OK, json!("degraded")));
    // A revocation made during the outage reaches the database only.
    let reply = app
        .post("/api/v1/auth/logout", Some(&live), json!({}))
        .await;
    assert!(reply.status.is_success(), "{}", reply.raw);
    assert_eq!(me(&app, &live).await, StatusCode::UNAUTHORIZED);

    switch.set_available(true);
    assert_eq!(ready_cache(&app).await, (StatusCode::OK, json!("ok")));
    // The cache came back empty and was warmed from the database: both stay revoked.
    assert_eq!(me(&app, &revoked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &live).await, StatusCode::UNAUTHORIZED);
    let reply = app
        .get(&format!("/api/v1/sessions/{session}"), Some(&writer))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "write lost: {}", reply.raw);
}

#[tokio::test]
async fn a_shared_cache_without_a_key_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::common::settings(&dir);
    settings.cache = CacheConfig::Redis {
        url: "redis://127.0.0.1:6379".into(),
        prefix: "voice:test:nokey:".into(),
    };
    let err = AppState::new(&settings).await.expect_err("must refuse");
    assert!(err.to_string().contains("--jwt-key-file"), "{err}");
}

// ----- Redis -----

fn skip_services() -> bool {
    std::env::var("VOICE_SKIP_SERVICES").is_ok_and(|v| v == "1")
}

pub(crate) fn key_file(dir: &Path) -> PathBuf {
    let path = dir.join("jwt.pem");
    std::fs::write(&path, TokenService::generate_pem().unwrap()).unwrap();
    path
}

async fn redis_app(dir: &tempfile::TempDir, url: &str, prefix: &str) -> TestApp {
    let url = url.to_owned();
    let prefix = prefix.to_owned();
    let key = key_file(dir.path());
    TestApp::with(move |s: &mut Settings| {
        s.jwt_key_file = Some(key);
        s.cache = CacheConfig::Redis { url, prefix };
    })
    .await
}

pub(crate) fn shared_redis_or_skip() -> Option<&'static str> {
    const URL: &str = "redis://127.0.0.1:6379";
    if std::net::TcpStream::connect("127.0.0.1:6379").is_ok() {
        return Some(URL);
    }
    assert!(
        skip_services(),
        "Redis is not reachable at 127.0.0.1:6379; start it, or set VOICE_SKIP_SERVICES=1 to skip"
    );
    eprintln!("skipped: VOICE_SKIP_SERVICES=1 and no Redis at 127.0.0.1:6379");
    None
}

pub(crate) fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn redis_cache_holds_revocations_under_its_prefix() {
    let Some(url) = shared_redis_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("voice:test:{}:", uuid::Uuid::new_v4().simple());
    let app = redis_app(&dir, url, &prefix).await;
    let (revoked, live) = revoked_and_live(&app).await;
    assert_eq!(me(&app, &revoked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &live).await, StatusCode::OK);
    assert_eq!(ready_cache(&app).await, (StatusCode::OK, json!("ok")));
    let keys = redis_cli(6379, &["--scan", "--pattern", &format!("{prefix}*")]);
    assert!(keys.contains(&format!("{prefix}rev:epoch")), "keys: {keys}");
    assert!(keys.contains(&format!("{prefix}rev:jti:")), "keys: {keys}");

    // A flushed cache (no epoch) is not trusted: the database still refuses the token.
    for key in keys.lines() {
        redis_cli(6379, &["DEL", key]);
    }
    assert_eq!(me(&app, &revoked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &live).await, StatusCode::OK);
    for key in redis_cli(6379, &["--scan", "--pattern", &format!("{prefix}*")]).lines() {
        redis_cli(6379, &["DEL", key]);
    }
}

/// A `redis-server` of this test only, on a free port, without persistence.
pub(crate) struct OwnRedis {
    child: Child,
    pub(crate) port: u16,
}

impl OwnRedis {
    pub(crate) fn start(port: u16) -> Option<OwnRedis> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                assert!(
                    skip_services(),
                    "cannot start redis-server ({e}); install it or set VOICE_SKIP_SERVICES=1"
                );
                return None;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis_cli(port, &["PING"]) != "PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(OwnRedis { child, port })
    }

    pub(crate) fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `/ready` until the cache reports `want` (the reconnect is asynchronous).
async fn wait_for_cache(app: &TestApp, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, cache) = ready_cache(app).await;
        assert_eq!(status, StatusCode::OK);
        if cache == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "cache still {cache}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn redis_killed_mid_run_fails_closed_and_is_used_again_when_back() {
    let Some(redis) = OwnRedis::start(free_port()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = redis_app(&dir, &url, "voice:failclosed:").await;
    let (revoked, live) = revoked_and_live(&app).await;
    assert_eq!(me(&app, &revoked).await, StatusCode::UNAUTHORIZED);

    let port = redis.kill();
    assert_eq!(
        me(&app, &revoked).await,
        StatusCode::UNAUTHORIZED,
        "revoked token accepted with Redis down"
    );
    assert_eq!(
        me(&app, &live).await,
        StatusCode::OK,
        "not served with Redis down"
    );
    let session = app.session(&live, "gemini").await;
    wait_for_cache(&app, "degraded").await;

    let redis = OwnRedis::start(port).expect("restart redis");
    wait_for_cache(&app, "ok").await;
    assert_eq!(
        me(&app, &revoked).await,
        StatusCode::UNAUTHORIZED,
        "revocation lost with the cache"
    );
    let reply = app
        .get(&format!("/api/v1/sessions/{session}"), Some(&live))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "write lost: {}", reply.raw);
    // The restarted Redis was warmed from the database: it holds the revocation again.
    let keys = redis_cli(
        redis.port,
        &["--scan", "--pattern", "voice:failclosed:rev:jti:*"],
    );
    assert!(!keys.is_empty(), "cache not warmed after its return");
}
