//! Where the access token travels: on REST requests (a header or a cookie) and on the stream
//! upgrade (a query parameter, a header, a subprotocol or a first message). Deployments differ
//! here more than anywhere else, so both are binding data.

use serde::Deserialize;
use serde_json::Value;

/// How the token travels on the stream upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenPlacement {
    Query {
        name: String,
    },
    Header {
        name: String,
        #[serde(default)]
        prefix: String,
    },
    Subprotocol {
        #[serde(default)]
        prefix: String,
    },
    FirstMessage {
        template: Value,
    },
}

/// How REST requests carry the access token: a header (`Authorization: Bearer …` by default)
/// or a cookie, for deployments that sign in by setting one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthPlacement {
    Header {
        name: String,
        #[serde(default)]
        prefix: String,
    },
    Cookie {
        name: String,
    },
}

impl Default for AuthPlacement {
    fn default() -> Self {
        AuthPlacement::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        }
    }
}

impl AuthPlacement {
    /// The request header carrying `token`: (name, value).
    pub fn header(&self, token: &str) -> (String, String) {
        match self {
            AuthPlacement::Header { name, prefix } => {
                (name.to_ascii_lowercase(), format!("{prefix}{token}"))
            }
            AuthPlacement::Cookie { name } => ("cookie".into(), format!("{name}={token}")),
        }
    }
}
