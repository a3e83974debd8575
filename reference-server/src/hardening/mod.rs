//! Browser-facing hardening of every response: security headers, a CORS allow-list, and the
//! failed-login budget ([`login_limit`]).
//!
//! It exists because the auditor checks what a browser relies on (nosniff, a frame policy, a
//! referrer policy, HSTS on https, no server version; no arbitrary origin allowed to call the
//! API with credentials; sign-in not open to password guessing), and the reference server is
//! the deployment that must pass those checks. It is one layer over the whole router, so
//! framework-generated answers (404, 405, bad JSON) are covered like handler answers.

mod headers;
pub mod login_limit;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use headers::{SecurityHeaders, SecurityHeadersLayer};
pub use login_limit::{LoginLimit, LoginLimiter, Peer};

/// What the hardening layer needs from the settings.
#[derive(Debug, Clone, Default)]
pub struct Hardening {
    /// Origins allowed to call the API from a browser (exact `scheme://host[:port]`); empty:
    /// no CORS headers at all, so browsers keep every other origin out.
    pub cors_origins: Vec<String>,
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
}

impl Hardening {
    /// From the allow-list and the public URL (HSTS only when it is https).
    pub fn new(cors_origins: &[String], public_url: Option<&str>) -> Hardening {
        Hardening {
            cors_origins: cors_origins.to_vec(),
            hsts: public_url.is_some_and(|u| u.to_ascii_lowercase().starts_with("https://")),
        }
    }

    /// Wraps `router` in the security headers and, when origins are allowed, CORS.
    pub fn apply<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let router = match self.cors() {
            Some(cors) => router.layer(cors),
            None => router,
        };
        // Outermost, so CORS preflight answers carry the headers too.
        router.layer(SecurityHeadersLayer { hsts: self.hsts })
    }

    /// The CORS layer of the allow-list; `None` when nothing is allowed. Origins that are not
    /// valid header values are skipped (the CLI refuses them before this point).
    fn cors(&self) -> Option<CorsLayer> {
        let origins: Vec<HeaderValue> = self
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim().trim_end_matches('/')).ok())
            .collect();
        if origins.is_empty() {
            return None;
        }
        // Tokens travel in the Authorization header, not in cookies: credentials stay off.
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("x-correlation-id"),
                ])
                .expose_headers([
                    HeaderName::from_static("x-correlation-id"),
                    header::RETRY_AFTER,
                    HeaderName::from_static("x-ratelimit-limit"),
                    HeaderName::from_static("x-ratelimit-remaining"),
                    HeaderName::from_static("x-ratelimit-reset"),
                ])
                .max_age(Duration::from_secs(600)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_follows_the_public_url() {
        assert!(Hardening::new(&[], Some("https://voice.example.com")).hsts);
        assert!(!Hardening::new(&[], Some("http://127.0.0.1:8000")).hsts);
        assert!(!Hardening::new(&[], None).hsts);
    }

    #[test]
    fn no_origins_means_no_cors_layer() {
        assert!(Hardening::new(&[], None).cors().is_none());
        let allowed = Hardening::new(&["https://app.example.com".into()], None);
        assert!(allowed.cors().is_some());
    }
}
