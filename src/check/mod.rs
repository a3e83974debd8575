//! Checks: each turns observations into one finding per profile check id. A module per check
//! family; none of them talks to the network or knows about scoring.

mod finding;
pub mod stream;

pub use finding::{Finding, Outcome};
pub mod auth;
pub mod availability;
pub mod contract;
pub mod forgery;
pub mod instances;
pub mod load;
pub mod login_limit;
pub mod recovery;
pub mod rows;
pub mod security;
pub mod service_layer;
pub mod switching;
pub mod unsecured;
