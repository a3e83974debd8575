//! Integration tests of the reference server: `app()` driven with `oneshot`, and end-to-end
//! WebSocket tests against a port-0 server.

mod auth;
mod bus;
mod cache;
mod common;
mod durable;
mod faults;
mod hardening;
mod instances;
mod pg;
mod sessions;
mod store;
mod store_suite;
mod strict;
mod telephony;
mod telephony_webhooks;
mod ws;
