//! The closed vocabularies of the API: provider names, session statuses, user roles.
//!
//! Each is an enum so that an invalid value cannot exist past parsing: a request body, a query
//! parameter or a database row either yields one of the variants or is refused where it is
//! read (422 / 400 for the API, a decode error for a row). The wire and column spelling is the
//! lower-case name of the contract, produced in one place ([`as_str`](ProviderName::as_str))
//! and read back by `FromStr`; serde and sqlx both go through those two functions, so the
//! storage modules bind and read these types directly and convert at their edge.

use std::str::FromStr;

/// Implements `Display`, serde and the sqlx column conversions (a text column, on every engine)
/// through `as_str` and `FromStr`.
macro_rules! text_vocabulary {
    ($name:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'static str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut DB::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                self.as_str().encode_by_ref(buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

pub(crate) use text_vocabulary;

/// A value outside a closed vocabulary; the message names the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; expected one of {expected}")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
    expected: &'static str,
}

impl UnknownValue {
    /// `value` is not a `what`; `expected` lists the valid spellings.
    pub(crate) fn new(what: &'static str, value: &str, expected: &'static str) -> Self {
        UnknownValue {
            what,
            value: value.to_owned(),
            expected,
        }
    }
}

/// An AI provider of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProviderName {
    /// `gemini`.
    Gemini,
    /// `openai`.
    OpenAi,
    /// `deepgram`.
    Deepgram,
}

impl ProviderName {
    /// Every provider, in preference order for ties.
    pub const ALL: [ProviderName; 3] = [
        ProviderName::Gemini,
        ProviderName::OpenAi,
        ProviderName::Deepgram,
    ];

    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderName::Gemini => "gemini",
            ProviderName::OpenAi => "openai",
            ProviderName::Deepgram => "deepgram",
        }
    }
}

impl FromStr for ProviderName {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderName::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownValue {
                what: "provider",
                value: s.to_owned(),
                expected: "gemini, openai, deepgram",
            })
    }
}

text_vocabulary!(ProviderName);

/// The lifecycle state of a voice session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    /// `active`: accepts utterances and switches.
    Active,
    /// `ended`: read-only.
    Ended,
}

impl SessionStatus {
    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Ended => "ended",
        }
    }
}

impl FromStr for SessionStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(SessionStatus::Active),
            "ended" => Ok(SessionStatus::Ended),
            _ => Err(UnknownValue {
                what: "status",
                value: s.to_owned(),
                expected: "active, ended",
            }),
        }
    }
}

text_vocabulary!(SessionStatus);

/// The role of a user account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// `user`: every account registered through the API.
    User,
    /// `admin`.
    Admin,
}

impl Role {
    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownValue {
                what: "role",
                value: s.to_owned(),
                expected: "user, admin",
            }),
        }
    }
}

text_vocabulary!(Role);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_strangers_are_refused() {
        for p in ProviderName::ALL {
            assert_eq!(p.as_str().parse::<ProviderName>(), Ok(p));
        }
        assert_eq!("ended".parse::<SessionStatus>(), Ok(SessionStatus::Ended));
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        let err = "skynet"
            .parse::<ProviderName>()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown provider `skynet`; expected one of gemini, openai, deepgram")
        );
        assert!("Active".parse::<SessionStatus>().is_err());
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn serde_uses_the_contract_spelling() {
        let json = serde_json::to_string(&ProviderName::OpenAi).unwrap_or_default();
        assert_eq!(json, "\"openai\"");
        let back: Result<ProviderName, _> = serde_json::from_str("\"deepgram\"");
        assert_eq!(back.ok(), Some(ProviderName::Deepgram));
        let bad: Result<SessionStatus, _> = serde_json::from_str("\"paused\"");
        assert!(bad.is_err());
    }
}
