//! Integration tests of the reference server: `app()` driven with `oneshot`, and end-to-end
//! WebSocket tests against a port-0 server.

mod auth;
mod common;
mod faults;
mod sessions;
mod store;
mod strict;
mod ws;
