//! The call vocabulary (status, carrier, direction) and the one table of legal status changes.
//!
//! Seed 000 §6.1 names seven states: `initiated → ringing → answered ⇄ on_hold → transferring
//! → completed | failed`. Every change of a call's status, whether asked for by a client or
//! reported by a carrier's webhook, goes through [`CallStatus::can_become`], so an illegal
//! change is refused in one place (409 for the API) and a terminal call never moves again.

use std::str::FromStr;

use crate::domain::{UnknownValue, text_vocabulary};

/// The status of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// `initiated`: created, not yet ringing.
    Initiated,
    /// `ringing`: the far end is alerted.
    Ringing,
    /// `answered`: connected.
    Answered,
    /// `on_hold`: connected, held.
    OnHold,
    /// `transferring`: being handed to another party.
    Transferring,
    /// `completed`: ended normally (terminal).
    Completed,
    /// `failed`: ended without a conversation, or broken (terminal).
    Failed,
}

impl CallStatus {
    /// Every status, in lifecycle order (the contract's enum order).
    pub const ALL: [CallStatus; 7] = [
        CallStatus::Initiated,
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::OnHold,
        CallStatus::Transferring,
        CallStatus::Completed,
        CallStatus::Failed,
    ];

    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            CallStatus::Initiated => "initiated",
            CallStatus::Ringing => "ringing",
            CallStatus::Answered => "answered",
            CallStatus::OnHold => "on_hold",
            CallStatus::Transferring => "transferring",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
        }
    }

    /// Whether the call is over (`ended_at` set, never changes again).
    pub fn is_terminal(self) -> bool {
        matches!(self, CallStatus::Completed | CallStatus::Failed)
    }

    /// The statuses a call in this status may move to.
    pub fn next(self) -> &'static [CallStatus] {
        use CallStatus::*;
        match self {
            Initiated => &[Ringing, Failed],
            Ringing => &[Answered, Failed],
            Answered => &[OnHold, Transferring, Completed, Failed],
            OnHold => &[Answered, Transferring, Completed, Failed],
            Transferring => &[Answered, Completed, Failed],
            Completed | Failed => &[],
        }
    }

    /// Whether `self → to` is a legal change.
    pub fn can_become(self, to: CallStatus) -> bool {
        self.next().contains(&to)
    }
}

impl FromStr for CallStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CallStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                UnknownValue::new(
                    "call status",
                    s,
                    "initiated, ringing, answered, on_hold, transferring, completed, failed",
                )
            })
    }
}

text_vocabulary!(CallStatus);

/// A telephony carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    /// `twilio`.
    Twilio,
    /// `telnyx`.
    Telnyx,
}

impl Carrier {
    /// Every carrier.
    pub const ALL: [Carrier; 2] = [Carrier::Twilio, Carrier::Telnyx];

    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Carrier::Twilio => "twilio",
            Carrier::Telnyx => "telnyx",
        }
    }
}

impl FromStr for Carrier {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Carrier::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownValue::new("telephony provider", s, "twilio, telnyx"))
    }
}

text_vocabulary!(Carrier);

/// Which side placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `inbound`.
    Inbound,
    /// `outbound`.
    Outbound,
}

impl Direction {
    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl FromStr for Direction {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inbound" => Ok(Direction::Inbound),
            "outbound" => Ok(Direction::Outbound),
            _ => Err(UnknownValue::new("direction", s, "inbound, outbound")),
        }
    }
}

text_vocabulary!(Direction);

/// Whether `number` is E.164: `+`, a non-zero digit, then 1 to 14 more digits.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_go_nowhere_and_spellings_round_trip() {
        for s in CallStatus::ALL {
            assert_eq!(s.as_str().parse::<CallStatus>(), Ok(s));
            assert_eq!(s.is_terminal(), s.next().is_empty());
        }
        assert!(CallStatus::Answered.can_become(CallStatus::OnHold));
        assert!(CallStatus::OnHold.can_become(CallStatus::Answered));
        assert!(!CallStatus::Initiated.can_become(CallStatus::Completed));
        assert!(!CallStatus::Completed.can_become(CallStatus::Answered));
        assert!("busy".parse::<CallStatus>().is_err());
    }

    #[test]
    fn e164_numbers_are_plus_and_up_to_fifteen_digits() {
        for good in ["+14155550100", "+442071838750", "+12"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "14155550100",
            "+0123",
            "+1",
            "+1415555010012345",
            "+1 415",
            "",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
