//! Authentication: Ed25519 JWTs, argon2id passwords, opaque rotating refresh tokens and
//! revocation (per token and per user) pushed to open WebSockets.

pub mod jwt;
pub mod password;
pub mod refresh;
pub mod revocation;
pub mod verified;

pub use jwt::{Claims, TokenError, TokenService};
pub use revocation::{CacheState, Revocation, Revocations};
