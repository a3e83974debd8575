//! Shared state of all handlers and sockets, built once from [`Settings`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::auth::{Revocations, TokenService};
use crate::bus::{EventBus, InProcessBus, RedisBus};
use crate::cache::CacheConfig;
use crate::cache::{self, Cache, InMemoryCache};
use crate::events::Events;
use crate::faults::Faults;
use crate::hardening::LoginLimiter;
use crate::providers::Providers;
use crate::settings::{PasswordHashing, Settings};
use crate::startup::StartError;
use crate::store::Store;
use crate::telephony::Carriers;
use crate::telephony::calls::{self, Recovery};
use crate::telephony::webhooks::WebhookKeys;
use crate::ws::hub::Hubs;
use crate::ws::hubs::Dispatch;

/// Values fixed at start.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Base for `websocket_url`.
    pub public_url: Option<String>,
    /// Where the listener is bound (fallback host for `websocket_url`).
    pub bound_addr: Option<SocketAddr>,
    /// Socket idle timeout (close 4008).
    pub ws_idle_timeout: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// argon2 cost.
    pub password_hashing: PasswordHashing,
    /// For `uptime_seconds`.
    pub started_at: Instant,
    /// Origins allowed by CORS (see [`crate::hardening`]).
    pub cors_origins: Vec<String>,
}

/// Everything a handler needs, behind one `Arc`: axum clones the state for every request (twice),
/// and one reference count is what that should cost (a struct of a dozen `Arc`s cost a third of
/// the CPU of `GET /health` under load). Fields are reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The database.
    pub store: Store,
    /// The cache tier.
    pub cache: Arc<dyn Cache>,
    /// The cache tier when it is in-process (it can be switched off to drill an outage).
    pub in_process_cache: Option<Arc<InMemoryCache>>,
    /// JWT issuing and verification.
    pub tokens: Arc<TokenService>,
    /// Revocation (both tiers, pushed to sockets).
    pub revocations: Revocations,
    /// Per-session event hubs.
    pub hubs: Hubs,
    /// The event bus between instances (in-process unless a Redis URL is given).
    pub bus: Arc<dyn EventBus>,
    /// The AI providers.
    pub providers: Providers,
    /// Where session events go on their way to the hubs.
    pub events: Events,
    /// Injected faults (all off in a correct server).
    pub faults: Faults,
    /// Fixed configuration.
    pub config: Arc<RuntimeConfig>,
    /// The OpenAPI contract as JSON.
    pub contract: Arc<serde_json::Value>,
    /// Failed sign-ins per account and peer.
    pub login_limiter: Arc<LoginLimiter>,
    /// The telephony carriers.
    pub carriers: Carriers,
    /// How their webhooks are verified.
    pub webhook_keys: WebhookKeys,
    /// What call recovery did at start.
    pub recovery: Recovery,
    shutdown: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("faults", &self.faults)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The bundled OpenAPI document.
pub const OPENAPI_YAML: &str = include_str!("../../contracts/openapi.yaml");

impl AppState {
    /// Connects the database, migrates, creates the keys and providers.
    pub async fn new(settings: &Settings) -> Result<AppState, StartError> {
        AppState::build(settings, None).await
    }

    /// Like [`AppState::new`], knowing the bound address.
    pub async fn build(
        settings: &Settings,
        bound_addr: Option<SocketAddr>,
    ) -> Result<AppState, StartError> {
        if settings.cache.is_shared() && settings.jwt_key_file.is_none() {
            return Err(StartError::Config(
                "a shared cache (--cache-url) needs --jwt-key-file: every instance must sign \
                 and verify with the same key"
                    .into(),
            ));
        }
        let engine = Store::connect(&settings.database_url).await?;
        let store = settings
            .faults
            .decorate_store(engine.clone())
            .with_calls_of(&engine);
        let webhook_keys =
            WebhookKeys::from_settings(&settings.telephony).map_err(StartError::Config)?;
        // One instance owns the database unless the cache is shared.
        let store = if settings.cache.is_shared() {
            store
        } else {
            store.with_session_cache()
        };
        let opened = cache::open(&settings.cache)?;
        let cache = settings.faults.decorate_cache(opened.cache.clone());
        let tokens =
            TokenService::new(settings.jwt_key_file.as_deref(), settings.access_token_ttl)?;
        let contract: serde_json::Value =
            yaml_serde::from_str(OPENAPI_YAML).map_err(|e| StartError::Contract(e.to_string()))?;
        let (shutdown, _) = watch::channel(false);
        let mut revocations =
            Revocations::new(store.clone(), cache.clone(), settings.access_token_ttl);
        let replay_buffer = settings.replay_buffer.max(1);
        let (bus, hubs): (Arc<dyn EventBus>, Hubs) = match &settings.cache {
            CacheConfig::InProcess => {
                let bus: Arc<dyn EventBus> = Arc::new(InProcessBus);
                (bus.clone(), Hubs::new(replay_buffer, store.clone(), bus))
            }
            CacheConfig::Redis { url, prefix } => {
                let redis = Arc::new(
                    RedisBus::open(url, prefix).map_err(|e| StartError::Config(e.to_string()))?,
                );
                let bus: Arc<dyn EventBus> = redis.clone();
                revocations.set_bus(bus.clone());
                let hubs = Hubs::new(replay_buffer, store.clone(), bus.clone());
                let inbox = Arc::new(Dispatch {
                    hubs: hubs.clone(),
                    revocations: revocations.clone(),
                });
                redis.listen(inbox, shutdown.subscribe()).await;
                (bus, hubs)
            }
        };
        hubs.spawn_sweeper(shutdown.subscribe());
        if !revocations.warm().await {
            tracing::warn!(
                cache = cache.kind(),
                "cache tier unavailable at start: revocation checks use the database until it returns"
            );
        }
        // Every non-terminal call back into the cache before the first request.
        let recovery = calls::recover(&store, cache.as_ref()).await?;
        Ok(AppState(Arc::new(Shared {
            revocations,
            store: store.clone(),
            cache,
            in_process_cache: opened.in_process,
            tokens: Arc::new(tokens),
            hubs,
            bus,
            providers: settings
                .faults
                .decorate_providers(Providers::simulated(&settings.providers), &store),
            events: settings.faults.events(),
            faults: settings.faults,
            config: Arc::new(RuntimeConfig {
                public_url: settings.public_url.clone(),
                bound_addr,
                ws_idle_timeout: settings.ws_idle_timeout,
                refresh_ttl: settings.refresh_token_ttl,
                password_hashing: settings.password_hashing,
                started_at: Instant::now(),
                cors_origins: settings.cors_origins.clone(),
            }),
            login_limiter: Arc::new(match opened.redis {
                Some(redis) => LoginLimiter::shared(settings.login_limit, redis),
                None => LoginLimiter::new(settings.login_limit),
            }),
            carriers: Carriers::simulated(
                webhook_keys.twilio.is_some(),
                webhook_keys.telnyx.is_some(),
            ),
            webhook_keys,
            recovery,
            contract: Arc::new(crate::faults::published_contract(
                contract,
                &settings.faults,
            )),
            shutdown: Arc::new(shutdown),
        })))
    }

    /// Resolves when the server is shutting down (sockets close with 1001).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells every open socket that the server is going away.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}
