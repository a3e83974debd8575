//! Telephony: calls placed through (simulated) carriers, their lifecycle, their durable state
//! and the carriers' signed webhooks.
//!
//! Call state has two tiers (seed 000 §6.2): the `calls` table is the truth and every write
//! goes there first; the cache holds call ↔ session mappings of active calls for fast lookups
//! and is rebuilt from the table at start ([`calls::recover`]), so losing the cache never
//! loses a call. Status changes, from the API or from a webhook, go through one function
//! ([`calls::transition`]) that checks the lifecycle ([`lifecycle`]), writes conditionally
//! (two racing changes cannot both apply) and publishes `call_status` on the session's stream.

pub mod calls;
pub mod carriers;
pub mod lifecycle;
pub mod webhooks;

pub use carriers::{CarrierHealth, Carriers};
pub use lifecycle::{CallStatus, Carrier, Direction, is_e164};
