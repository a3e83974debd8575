//! `voice-reference-server`: the executable definition of a contract-perfect voice backend.
//!
//! It exists so that `voice-audit` has a deployment to score 100/100 against, and — with
//! [`Faults`] switched on — deployments that break exactly one check each.
//!
//! Embedding (what the `voice-audit` CLI does for `demo` and its tests):
//!
//! ```no_run
//! # async fn demo() -> Result<(), voice_reference_server::StartError> {
//! use voice_reference_server::{Application, Settings};
//! let settings = Settings::ephemeral("sqlite:///tmp/demo.db?mode=rwc");
//! let server = Application::build(settings).await?.spawn();
//! println!("listening on http://{}", server.addr);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod bus;
pub mod cache;
pub mod cli;
pub mod conversation;
pub mod domain;
pub mod error;
pub mod events;
pub mod extract;
pub mod faults;
pub mod hardening;
pub mod providers;
pub mod request_context;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod telephony;
pub mod ws;

pub use domain::{ProviderName, Role, SessionStatus};
pub use error::AppError;
pub use faults::{Faults, UnknownFault};
pub use routes::app;
pub use settings::{PasswordHashing, ProviderConfig, ProviderSettings, Settings};
pub use startup::{Application, ServerHandle, StartError};
pub use state::AppState;
