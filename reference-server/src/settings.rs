//! Everything the server needs to start, as a plain struct.
//!
//! The binary fills it from the command line (see [`crate::cli`]); embedders such as the
//! `voice-audit` CLI build it directly, usually with [`Settings::ephemeral`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cache::CacheConfig;
use crate::faults::Faults;
use crate::hardening::LoginLimit;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind; port 0 picks a free port (see [`crate::Application::port`]).
    pub addr: SocketAddr,
    /// sqlx SQLite URL, e.g. `sqlite://voice-reference.db?mode=rwc`.
    pub database_url: String,
    /// Public base URL (`http(s)://host[:port]`) used for `websocket_url`; when `None` the
    /// request's `Host` header (or the bound address) is used.
    pub public_url: Option<String>,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_token_ttl: Duration,
    /// PKCS#8 PEM file holding the Ed25519 signing key; a fresh key is generated when `None`.
    pub jwt_key_file: Option<PathBuf>,
    /// A socket that sends nothing for this long is closed with 4008.
    pub ws_idle_timeout: Duration,
    /// How many session events each session keeps for `resume`.
    pub replay_buffer: usize,
    /// Cost of the argon2id password hash.
    pub password_hashing: PasswordHashing,
    /// Behaviour of the simulated providers.
    pub providers: ProviderSettings,
    /// Deliberate defects, for testing auditors; never in production.
    pub faults: Faults,
    /// The cache tier (in-process unless a Redis URL is given).
    pub cache: CacheConfig,
    /// Origins allowed to call the API from a browser (CORS); empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Failed sign-ins allowed per account and peer address before 429.
    pub login_limit: LoginLimit,
    /// Webhook secrets of the telephony carriers.
    pub telephony: TelephonySettings,
}

/// A secret value (token, key): never shown by `Debug`, so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// How the carriers' webhooks are verified. Without a secret a carrier's webhooks are all
/// refused (401): an unverifiable webhook is never trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelephonySettings {
    /// Twilio's auth token (HMAC-SHA1 key of `X-Twilio-Signature`).
    pub twilio_auth_token: Option<Secret>,
    /// Telnyx's Ed25519 public key, base64 of the raw 32 bytes.
    pub telnyx_public_key: Option<String>,
}

/// argon2id parameters (memory in KiB, iterations, parallelism 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Time cost (iterations).
    pub iterations: u32,
}

impl Default for PasswordHashing {
    /// OWASP's argon2id recommendation (19 MiB, 2 iterations).
    fn default() -> Self {
        PasswordHashing {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

impl PasswordHashing {
    /// Cheap parameters for tests and demos; never for real passwords.
    pub fn fast_insecure() -> Self {
        PasswordHashing {
            memory_kib: 64,
            iterations: 1,
        }
    }
}

/// Behaviour of one simulated provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProviderConfig {
    /// Added to every `process_text`.
    pub latency: Duration,
    /// Probability in [0, 1] that `process_text` fails.
    pub error_rate: f64,
    /// Initial health (can be changed at run time through [`crate::providers::Providers`]).
    pub healthy: bool,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            latency: Duration::ZERO,
            error_rate: 0.0,
            healthy: true,
        }
    }
}

/// Behaviour of the three simulated providers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProviderSettings {
    /// `gemini`.
    pub gemini: ProviderConfig,
    /// `openai`.
    pub openai: ProviderConfig,
    /// `deepgram`.
    pub deepgram: ProviderConfig,
}

/// The database URL used when none is given: `./voice-reference.db`, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://voice-reference.db?mode=rwc";

impl Default for Settings {
    /// Serves `127.0.0.1:8000` from `./voice-reference.db`, exactly like the bare binary.
    fn default() -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            public_url: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(14 * 24 * 60 * 60),
            jwt_key_file: None,
            ws_idle_timeout: Duration::from_secs(60),
            replay_buffer: 1024,
            password_hashing: PasswordHashing::default(),
            providers: ProviderSettings::default(),
            faults: Faults::default(),
            cache: CacheConfig::InProcess,
            cors_origins: Vec::new(),
            login_limit: LoginLimit::default(),
            telephony: TelephonySettings::default(),
        }
    }
}

impl Settings {
    /// Settings for an in-process server: `127.0.0.1:0`, the given database URL (e.g.
    /// `sqlite:///tmp/x.db?mode=rwc`) and cheap password hashing.
    pub fn ephemeral(database_url: impl Into<String>) -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            password_hashing: PasswordHashing::fast_insecure(),
            ..Settings::default()
        }
    }

    /// The same settings with these CORS origins allowed.
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// The same settings with `faults` injected.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}
