//! Verification of the carriers' webhook signatures, and what their events mean for a call.
//!
//! - **Twilio** (`X-Twilio-Signature`): base64 of HMAC-SHA1, keyed by the account's auth
//!   token, over the full URL Twilio requested followed by every form parameter, sorted by
//!   name, as name + value with no separators.
//! - **Telnyx** (`telnyx-signature-ed25519`, `telnyx-timestamp`): base64 Ed25519 signature of
//!   `timestamp|body` under the account's public key; a timestamp more than 300 s from now is
//!   refused, and so is a signature seen before (a replay), for as long as its timestamp is
//!   within the tolerance (after that the timestamp check refuses it anyway).
//!
//! Comparisons are constant-time (`Mac::verify_slice`, `VerifyingKey::verify_strict`). A
//! webhook that fails verification changes nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::CallStatus;
use crate::settings::{Secret, TelephonySettings};

/// How far a Telnyx timestamp may be from now, in seconds.
pub const TELNYX_TOLERANCE_SECS: i64 = 300;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header (or timestamp) at all: 401.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The carrier's secret is not configured, so nothing can be verified: 401.
    #[error("webhook verification is not configured for {0}")]
    NotConfigured(&'static str),
    /// The signature does not match: 403.
    #[error("invalid signature")]
    Invalid,
    /// The timestamp is outside the tolerance: 403.
    #[error("timestamp outside the {TELNYX_TOLERANCE_SECS} s tolerance")]
    Stale,
    /// The signature was already used: 403.
    #[error("replayed webhook")]
    Replayed,
}

impl SignatureError {
    /// Whether this is "unauthenticated" (401) rather than "forbidden" (403).
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            SignatureError::Missing(_) | SignatureError::NotConfigured(_)
        )
    }
}

/// The verification material of both carriers, built once at start.
#[derive(Default)]
pub struct WebhookKeys {
    /// Twilio's auth token.
    pub twilio: Option<Secret>,
    /// Telnyx's public key.
    pub telnyx: Option<VerifyingKey>,
    /// Telnyx signatures already accepted.
    pub replays: ReplayGuard,
}

impl std::fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookKeys")
            .field("twilio", &self.twilio.is_some())
            .field("telnyx", &self.telnyx.is_some())
            .finish_non_exhaustive()
    }
}

impl WebhookKeys {
    /// From the settings; a malformed Telnyx key is an error (refusing to start beats
    /// refusing every webhook silently).
    pub fn from_settings(settings: &TelephonySettings) -> Result<Self, String> {
        Ok(WebhookKeys {
            twilio: settings.twilio_auth_token.clone(),
            telnyx: settings
                .telnyx_public_key
                .as_deref()
                .map(telnyx_key)
                .transpose()?,
            replays: ReplayGuard::default(),
        })
    }
}

/// Checks a Twilio signature over `url` and the form `params` (in any order).
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> Result<(), SignatureError> {
    let expected = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Invalid)?;
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).map_err(|_| SignatureError::Invalid)?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Invalid)
}

/// A Telnyx public key: base64 of the raw 32 bytes (what the Telnyx portal shows).
pub fn telnyx_key(base64_key: &str) -> Result<VerifyingKey, String> {
    let raw = STANDARD
        .decode(base64_key.trim())
        .map_err(|e| format!("the Telnyx public key is not base64: {e}"))?;
    let bytes: [u8; 32] = raw
        .try_into()
        .map_err(|_| "the Telnyx public key must be 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("invalid Telnyx public key: {e}"))
}

/// Signatures already accepted, with their timestamps (Telnyx replay protection).
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayGuard {
    /// Records `signature`; `false` when it was already recorded. Entries older than the
    /// tolerance are dropped (their timestamp alone now refuses them).
    fn first_use(&self, signature: &str, timestamp: i64, now: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        seen.retain(|_, at| (now - *at).abs() <= TELNYX_TOLERANCE_SECS);
        seen.insert(signature.to_owned(), timestamp).is_none()
    }
}

/// Checks a Telnyx webhook: timestamp within the tolerance of `now`, Ed25519 signature of
/// `timestamp|body`, and not seen before.
pub fn verify_telnyx(
    key: &VerifyingKey,
    guard: &ReplayGuard,
    body: &[u8],
    signature: &str,
    timestamp: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Invalid)?;
    if (now - at).abs() > TELNYX_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let raw = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Invalid)?;
    let signature = Signature::from_slice(&raw).map_err(|_| SignatureError::Invalid)?;
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.trim().as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    key.verify_strict(&signed, &signature)
        .map_err(|_| SignatureError::Invalid)?;
    if !guard.first_use(&STANDARD.encode(signature.to_bytes()), at, now) {
        return Err(SignatureError::Replayed);
    }
    Ok(())
}

/// The call status a Twilio `CallStatus` parameter means (`None`: not a status we track).
pub fn twilio_status(value: &str) -> Option<CallStatus> {
    Some(match value {
        "queued" | "initiated" => CallStatus::Initiated,
        "ringing" => CallStatus::Ringing,
        "in-progress" => CallStatus::Answered,
        "completed" => CallStatus::Completed,
        "busy" | "failed" | "no-answer" | "canceled" => CallStatus::Failed,
        _ => return None,
    })
}

/// The call status a Telnyx `event_type` means, given the call's current status (a hang-up
/// completes a connected call and fails one that never connected).
pub fn telnyx_status(event_type: &str, current: CallStatus) -> Option<CallStatus> {
    Some(match event_type {
        "call.initiated" => CallStatus::Initiated,
        "call.ringing" => CallStatus::Ringing,
        "call.answered" | "call.bridged" => CallStatus::Answered,
        "call.hangup" => match current {
            CallStatus::Answered | CallStatus::OnHold | CallStatus::Transferring => {
                CallStatus::Completed
            }
            _ => CallStatus::Failed,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_statuses_map_onto_the_lifecycle() {
        assert_eq!(twilio_status("in-progress"), Some(CallStatus::Answered));
        assert_eq!(twilio_status("no-answer"), Some(CallStatus::Failed));
        assert_eq!(twilio_status("dialing"), None);
        assert_eq!(
            telnyx_status("call.hangup", CallStatus::Answered),
            Some(CallStatus::Completed)
        );
        assert_eq!(
            telnyx_status("call.hangup", CallStatus::Ringing),
            Some(CallStatus::Failed)
        );
    }
}
