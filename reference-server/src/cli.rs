//! The command line of the `voice-reference-server` binary, kept in the library so that
//! `main.rs` stays a thin shell and the flags can be tested.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::cache::CacheConfig;
use crate::faults::{Faults, UnknownFault};
use crate::settings::{DEFAULT_DATABASE_URL, Secret, Settings, TelephonySettings};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Reference implementation of the voice backend (OpenAPI + AsyncAPI contracts).
#[derive(Debug, Clone, Parser)]
#[command(name = "voice-reference-server", version, about)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "VOICE_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// SQLite database URL.
    #[arg(long, env = "VOICE_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Log format.
    #[arg(long, env = "VOICE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Public base URL (e.g. https://voice.example.com) used to build `websocket_url`.
    #[arg(long, env = "VOICE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "VOICE_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    /// Refresh-token lifetime in seconds.
    #[arg(
        long,
        env = "VOICE_REFRESH_TOKEN_TTL_SECS",
        default_value_t = 1_209_600
    )]
    pub refresh_token_ttl_secs: u64,
    /// PKCS#8 PEM file with the Ed25519 JWT signing key (generated at start when absent).
    #[arg(long, env = "VOICE_JWT_KEY_FILE")]
    pub jwt_key_file: Option<PathBuf>,
    /// Redis URL of the shared cache tier and event bus (`redis://127.0.0.1:6379`); the
    /// in-process cache when absent. Requires `--jwt-key-file`: every instance must verify
    /// the tokens of every other.
    #[arg(long, env = "VOICE_CACHE_URL")]
    pub cache_url: Option<String>,
    /// Prefix of every Redis key, so that several deployments (or tests) share one Redis.
    #[arg(long, env = "VOICE_CACHE_PREFIX", default_value = "voice:")]
    pub cache_prefix: String,
    /// Close a WebSocket with 4008 after this many seconds without a client frame.
    #[arg(long, env = "VOICE_WS_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub ws_idle_timeout_secs: u64,
    /// Inject a deliberate defect, for testing auditors; never in production. Repeatable.
    #[arg(
        long = "inject-fault",
        value_name = "NAME",
        env = "VOICE_INJECT_FAULTS",
        value_delimiter = ',',
        help = "Inject a deliberate defect (for testing auditors; never in production). Repeatable.",
        long_help = concat!(
            "Inject a deliberate defect (for testing auditors; never in production). Repeatable; ",
            "VOICE_INJECT_FAULTS takes a comma list. Names: missing-switch-history, schema-drift, ",
            "invalid-input-500, invalid-input-accepted, no-auth-on-list, plain-errors, no-pong, ",
            "seq-disorder, bad-event-schema, malformed-closes, no-resume, slow-switch, drop-context, ",
            "no-revocation, ws-ignores-revocation, cross-user-leak, slow-events, ",
            "refresh-reuse-accepted, stale-published-contract, flaky-switch, stale-provider, ",
            "silent-switch, drop-events, failover-noop, slow-upgrade, cache-fail-open, volatile-replay"
        )
    )]
    pub inject_fault: Vec<String>,
    /// Origin allowed to call the API from a browser (CORS), e.g. https://app.example.com.
    /// Repeatable; VOICE_CORS_ORIGINS takes a comma list. None: no CORS headers at all.
    #[arg(long = "cors-origin", value_name = "ORIGIN", env = "VOICE_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origin: Vec<String>,
    /// Twilio auth token: the key of `X-Twilio-Signature` on Twilio webhooks. Without it every
    /// Twilio webhook is refused.
    #[arg(long, env = "VOICE_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<Secret>,
    /// Telnyx webhook public key (base64 of the 32-byte Ed25519 key, as the Telnyx portal shows
    /// it). Without it every Telnyx webhook is refused.
    #[arg(long, env = "VOICE_TELNYX_PUBLIC_KEY")]
    pub telnyx_public_key: Option<String>,
}

/// An origin is `scheme://host[:port]`: no path, no wildcard (arbitrary origins are never allowed).
fn parse_origin(s: &str) -> Result<String, String> {
    let origin = s.trim().trim_end_matches('/');
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?} is not an http(s) origin"))?;
    if rest.is_empty() || rest.contains(['/', '*', ' ', '?', '#']) {
        return Err(format!("{s:?} is not an origin (scheme://host[:port])"));
    }
    Ok(origin.to_owned())
}

impl Cli {
    /// Turns the flags into [`Settings`]; unknown fault names are an error.
    pub fn into_settings(self) -> Result<Settings, UnknownFault> {
        Ok(Settings {
            addr: self.addr,
            database_url: self.database_url,
            public_url: self.public_url,
            access_token_ttl: Duration::from_secs(self.access_token_ttl_secs.max(1)),
            refresh_token_ttl: Duration::from_secs(self.refresh_token_ttl_secs.max(1)),
            jwt_key_file: self.jwt_key_file,
            ws_idle_timeout: Duration::from_secs(self.ws_idle_timeout_secs.max(1)),
            faults: Faults::from_names(&self.inject_fault)?,
            cache: match self.cache_url {
                Some(url) => CacheConfig::Redis {
                    url,
                    prefix: self.cache_prefix,
                },
                None => CacheConfig::InProcess,
            },
            cors_origins: self.cors_origin,
            telephony: TelephonySettings {
                twilio_auth_token: self.twilio_auth_token,
                telnyx_public_key: self.telnyx_public_key,
            },
            ..Settings::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cors_origins_are_exact_origins() {
        assert_eq!(
            parse_origin("https://app.example.com/"),
            Ok("https://app.example.com".to_owned())
        );
        for bad in [
            "*",
            "app.example.com",
            "https://",
            "https://x/y",
            "https://*.x",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn telephony_flags_reach_the_settings_and_the_token_is_never_shown() {
        let cli = Cli::try_parse_from([
            "voice-reference-server",
            "--twilio-auth-token",
            "tw-secret-42",
            "--telnyx-public-key",
            "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
        ]);
        let settings = cli.ok().and_then(|c| c.into_settings().ok());
        let settings = settings.unwrap_or_default();
        assert_eq!(
            settings.telephony.twilio_auth_token,
            Some(Secret("tw-secret-42".into()))
        );
        assert!(settings.telephony.telnyx_public_key.is_some());
        assert!(!format!("{settings:?}").contains("tw-secret-42"));
    }

    #[test]
    fn help_lists_every_fault() {
        let mut command = Cli::command();
        let help = command.render_long_help().to_string();
        for name in Faults::NAMES {
            assert!(help.contains(name), "--help does not list {name}");
        }
    }
}
