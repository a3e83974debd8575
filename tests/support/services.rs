//! The machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) for the end-to-end
//! tests of the production shape: a database of the test's own (dropped at the end), a Redis key
//! prefix of its own, and a signing key on disk that several instances can share. When a
//! service is absent the test fails with a clear message, unless `VOICE_SKIP_SERVICES=1`, which
//! skips it instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use voice_reference_server::Settings;
use voice_reference_server::auth::TokenService;
use voice_reference_server::cache::CacheConfig;

/// Redis on the machine.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn skip_services() -> bool {
    std::env::var("VOICE_SKIP_SERVICES").is_ok_and(|v| v == "1")
}

fn psql(sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A signing key written to `dir` (every instance of one deployment reads the same file).
pub fn key_file(dir: &Path) -> PathBuf {
    let key = dir.join("jwt.pem");
    std::fs::write(&key, TokenService::generate_pem().expect("key")).expect("key file");
    key
}

/// A database and a key prefix of one test; the database is dropped with it.
pub struct Services {
    /// The database's name.
    pub database: String,
    /// A signing key file for the instances.
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Services {
    /// Creates the test's database; `None` (skip the test) when a service is missing and
    /// `VOICE_SKIP_SERVICES=1`, a failed assertion when it is missing otherwise.
    pub fn start(tag: &str) -> Option<Services> {
        let database = format!("voice_audit_{tag}_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = psql(&format!("CREATE DATABASE {database}")) {
            assert!(
                skip_services(),
                "PostgreSQL not usable at 127.0.0.1:5432 ({e}); set VOICE_SKIP_SERVICES=1 to skip"
            );
            eprintln!("skipped: VOICE_SKIP_SERVICES=1 and PostgreSQL is not usable");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let services = Services {
            database,
            key: key_file(dir.path()),
            _dir: dir,
        };
        if std::net::TcpStream::connect("127.0.0.1:6379").is_err() {
            assert!(
                skip_services(),
                "Redis not reachable at 127.0.0.1:6379; set VOICE_SKIP_SERVICES=1 to skip"
            );
            eprintln!("skipped: VOICE_SKIP_SERVICES=1 and Redis is not reachable");
            return None;
        }
        Some(services)
    }

    /// `postgres://…` of the test's database.
    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.database)
    }

    /// Server settings on the test's database, Redis under a prefix of its own and the
    /// shared key: the same for every instance built from them.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::ephemeral(self.database_url());
        settings.jwt_key_file = Some(self.key.clone());
        settings.cache = CacheConfig::Redis {
            url: REDIS_URL.into(),
            prefix: format!("voice:audit-test:{}:", self.database),
        };
        settings
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        ));
    }
}

/// A `redis-server` of one test on a free port, without persistence, started and stopped by
/// shell commands (the same commands serve as the audit's `--cache-down-cmd`/`--cache-up-cmd`).
/// Stopped when dropped; the machine's own Redis is never touched.
pub struct OwnRedis {
    pub port: u16,
}

impl OwnRedis {
    /// Starts it; `None` (skip) when `redis-server` cannot run and `VOICE_SKIP_SERVICES=1`.
    pub fn start() -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let redis = OwnRedis { port };
        let started = Command::new("sh").args(["-c", &redis.up_cmd()]).status();
        if !started.is_ok_and(|s| s.success()) {
            assert!(
                skip_services(),
                "cannot start redis-server; install it or set VOICE_SKIP_SERVICES=1"
            );
            return None;
        }
        Some(redis)
    }

    /// `redis://…` of this Redis.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A command that starts it (in the background) and returns once it answers.
    pub fn up_cmd(&self) -> String {
        let p = self.port;
        format!(
            "redis-server --port {p} --save '' --appendonly no --daemonize yes >/dev/null && \
             for i in $(seq 200); do redis-cli -p {p} ping 2>/dev/null | grep -q PONG && exit 0; \
             sleep 0.05; done; exit 1"
        )
    }

    /// A command that stops it, losing everything it held.
    pub fn down_cmd(&self) -> String {
        format!("redis-cli -p {} shutdown nosave", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = Command::new("sh").args(["-c", &self.down_cmd()]).status();
    }
}
