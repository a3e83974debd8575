//! The carriers (`twilio`, `telnyx`) behind one trait, like the AI providers: the reference
//! server simulates them (no network), so placing a call yields a carrier-shaped call id and
//! health is a flag that tests and drills can flip.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::Carrier;

/// A carrier refused or failed a request.
#[derive(Debug, thiserror::Error)]
#[error("{carrier} is unavailable")]
pub struct CarrierError {
    /// The carrier.
    pub carrier: Carrier,
}

/// What `GET /api/telephony/provider-health` reports per carrier.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CarrierHealth {
    /// The carrier.
    pub provider: Carrier,
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// Whether its webhooks are verified (a secret or key is configured).
    pub webhook_signature_configured: bool,
}

/// One telephony carrier.
pub trait TelephonyCarrier: Send + Sync + 'static {
    /// Which carrier this is.
    fn carrier(&self) -> Carrier;
    /// Places an outbound call; the carrier's id of the new call.
    fn place_call(&self, from: &str, to: &str) -> Result<String, CarrierError>;
    /// Whether the carrier currently accepts calls.
    fn is_healthy(&self) -> bool;
}

/// A simulated carrier: ids in the carrier's own shape, health switchable at run time.
#[derive(Debug)]
pub struct SimulatedCarrier {
    carrier: Carrier,
    healthy: AtomicBool,
}

impl SimulatedCarrier {
    /// A healthy simulated `carrier`.
    pub fn new(carrier: Carrier) -> Self {
        SimulatedCarrier {
            carrier,
            healthy: AtomicBool::new(true),
        }
    }
}

impl TelephonyCarrier for SimulatedCarrier {
    fn carrier(&self) -> Carrier {
        self.carrier
    }

    fn place_call(&self, _from: &str, _to: &str) -> Result<String, CarrierError> {
        if !self.is_healthy() {
            return Err(CarrierError {
                carrier: self.carrier,
            });
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        Ok(match self.carrier {
            // Twilio call SIDs: `CA` + 32 hex digits.
            Carrier::Twilio => format!("CA{id}"),
            // Telnyx call control ids: `v3:` + an opaque token.
            Carrier::Telnyx => format!("v3:{id}"),
        })
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }
}

/// Every carrier, plus which of them have webhook secrets configured.
#[derive(Clone)]
pub struct Carriers {
    twilio: Arc<SimulatedCarrier>,
    telnyx: Arc<SimulatedCarrier>,
    signed: [bool; 2],
}

impl std::fmt::Debug for Carriers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carriers").finish_non_exhaustive()
    }
}

impl Carriers {
    /// Both carriers simulated and healthy; `twilio_signed` / `telnyx_signed` say whether
    /// their webhook secrets are configured.
    pub fn simulated(twilio_signed: bool, telnyx_signed: bool) -> Self {
        Carriers {
            twilio: Arc::new(SimulatedCarrier::new(Carrier::Twilio)),
            telnyx: Arc::new(SimulatedCarrier::new(Carrier::Telnyx)),
            signed: [twilio_signed, telnyx_signed],
        }
    }

    /// The carrier `which`.
    pub fn get(&self, which: Carrier) -> &dyn TelephonyCarrier {
        match which {
            Carrier::Twilio => self.twilio.as_ref(),
            Carrier::Telnyx => self.telnyx.as_ref(),
        }
    }

    /// Marks a carrier (un)healthy (drills and tests).
    pub fn set_healthy(&self, which: Carrier, healthy: bool) {
        let carrier = match which {
            Carrier::Twilio => &self.twilio,
            Carrier::Telnyx => &self.telnyx,
        };
        carrier.healthy.store(healthy, Ordering::SeqCst);
    }

    /// The health of every carrier.
    pub fn health(&self) -> Vec<CarrierHealth> {
        Carrier::ALL
            .into_iter()
            .zip(self.signed)
            .map(|(which, signed)| CarrierHealth {
                provider: which,
                status: if self.get(which).is_healthy() {
                    "healthy"
                } else {
                    "unhealthy"
                },
                webhook_signature_configured: signed,
            })
            .collect()
    }
}
