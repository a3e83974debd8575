//! Target bindings: which operation of a deployment plays each role the scenarios need (sign-in,
//! sessions, switching, the stream), how its request is shaped and where its answers are.
//!
//! Scenario probes speak in roles, never in the bundled contract's paths, so a deployment with
//! other paths, operation ids or field names is audited by writing a binding instead of changing
//! the tool. A binding is validated against the contract on load: an unknown operation, a bad
//! pointer or a bad template is a clear error (exit 2), and a role left out is reported by the
//! checks that need it as "not assessed: role X is not bound".

pub mod draft;
pub mod envelope;
mod placement;
pub mod template;

use crate::contract::ApiContract;
use envelope::Envelope;
pub use placement::{AuthPlacement, TokenPlacement};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use template::Source;

/// The binding of the reference server, shipped and used by default.
pub const REFERENCE: &str = include_str!("../../audits/bindings/reference.yaml");

/// Every role a binding may name; anything else is a typo and refused.
pub const ROLES: &[&str] = &[
    "register",
    "login",
    "refresh",
    "logout",
    "logout_all",
    "me",
    "session_create",
    "session_get",
    "session_list",
    "session_end",
    "switch",
    "switch_status",
    "switch_history",
    "auto_failover",
    "provider_list",
    "health",
    "readiness",
    "published_contract",
    "jwks",
    "call_create",
    "call_get",
    "calls_active",
];

#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("cannot read the binding {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the binding {name} is not valid YAML for a binding: {reason}")]
    Malformed { name: String, reason: String },
    #[error("the binding {name}: {reason}")]
    Invalid { name: String, reason: String },
}

/// One role as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    /// An operationId of the contract, or `METHOD /path`.
    operation: String,
    #[serde(default)]
    request: Option<Value>,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    /// A query string template appended to the path (`provider=${provider}&page=1`).
    #[serde(default)]
    query: Option<String>,
    /// Pointers into each element of the `items` output (a list answer).
    #[serde(default)]
    items: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingFile {
    version: u32,
    #[serde(default)]
    roles: BTreeMap<String, RoleFile>,
    #[serde(default)]
    stream: Option<StreamFile>,
    #[serde(default)]
    invalid_provider: Option<String>,
    #[serde(default)]
    auth: Option<AuthPlacement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamFile {
    /// Path template appended to the target's ws(s) base, e.g. `/ws/sessions/{session_id}`.
    #[serde(default)]
    url: Option<String>,
    /// Or: the session-create output that carries the stream URL.
    #[serde(default)]
    url_output: Option<String>,
    token: TokenPlacement,
    #[serde(default)]
    frames: BTreeMap<String, Value>,
    #[serde(default)]
    pointers: BTreeMap<String, String>,
    #[serde(default)]
    events: BTreeMap<String, String>,
    #[serde(default)]
    close_codes: CloseCodes,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseCodes {
    #[serde(default)]
    pub revoked: Vec<u16>,
}

/// A role resolved against the contract.
#[derive(Debug, Clone)]
pub struct Role {
    pub method: String,
    /// Path template with `{param}` placeholders.
    pub path: String,
    pub request: Option<Value>,
    pub outputs: BTreeMap<String, Source>,
    pub query: Option<String>,
    /// Pointers into each element of the `items` output.
    pub items: BTreeMap<String, String>,
}

/// The stream part of a binding, validated.
#[derive(Debug, Clone)]
pub struct Stream {
    pub url: Option<String>,
    pub url_output: Option<String>,
    pub token: TokenPlacement,
    /// `ping`, `text`, `resume` frame templates.
    pub frames: BTreeMap<String, Value>,
    /// `type`, `sequence`, `timestamp` JSON pointers into an event.
    pub pointers: BTreeMap<String, String>,
    /// `transcript`, `insight`, `provider_switched`, `pong`, `error`, `call_status` names.
    pub events: BTreeMap<String, String>,
    pub close_codes: CloseCodes,
}

const FRAMES: &[&str] = &["ping", "text", "resume"];
const POINTERS: &[&str] = &["type", "sequence", "timestamp", "payload", "message_id"];
const EVENTS: &[&str] = &[
    "transcript",
    "insight",
    "provider_switched",
    "pong",
    "error",
    "call_status",
];

#[derive(Debug, Clone, Default)]
pub struct Binding {
    /// Where the binding came from, for messages.
    pub name: String,
    pub roles: BTreeMap<String, Role>,
    pub stream: Option<Stream>,
    /// A provider name the deployment must refuse.
    pub invalid_provider: Option<String>,
    /// How stream frames are built and read: the bound stream's, else the reference one.
    pub envelope: Envelope,
    /// How REST requests carry the access token.
    pub auth: AuthPlacement,
}

impl Binding {
    /// The reference binding, used when no `--binding` is given. Unlike a binding the user
    /// wrote, a role whose operation the audited contract lacks is left unbound rather than
    /// refused: the audit of a foreign contract then says which roles it is missing.
    pub fn reference(contract: &ApiContract) -> Result<Binding, BindingError> {
        Binding::parse_with(REFERENCE, "reference (bundled)", contract, false)
    }

    pub fn load(path: &Path, contract: &ApiContract) -> Result<Binding, BindingError> {
        let text = std::fs::read_to_string(path).map_err(|source| BindingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Binding::parse(&text, &path.display().to_string(), contract)
    }

    pub fn parse(text: &str, name: &str, contract: &ApiContract) -> Result<Binding, BindingError> {
        Binding::parse_with(text, name, contract, true)
    }

    /// `strict`: a role that does not resolve against the contract is an error; otherwise it is
    /// left unbound.
    fn parse_with(
        text: &str,
        name: &str,
        contract: &ApiContract,
        strict: bool,
    ) -> Result<Binding, BindingError> {
        let file: BindingFile =
            yaml_serde::from_str(text).map_err(|e| BindingError::Malformed {
                name: name.to_string(),
                reason: e.to_string(),
            })?;
        let invalid = |reason: String| BindingError::Invalid {
            name: name.to_string(),
            reason,
        };
        if file.version != 1 {
            return Err(invalid(format!(
                "version {} is not supported (1 is)",
                file.version
            )));
        }
        let mut roles = BTreeMap::new();
        for (role, spec) in file.roles {
            if !ROLES.contains(&role.as_str()) {
                return Err(invalid(format!(
                    "unknown role {role:?}; roles are {}",
                    ROLES.join(", ")
                )));
            }
            match resolve_role(&role, spec, contract) {
                Ok(resolved) => {
                    roles.insert(role, resolved);
                }
                Err(e) if strict => return Err(invalid(e)),
                Err(_) => {}
            }
        }
        let stream = file
            .stream
            .map(stream)
            .transpose()
            .map_err(|e| invalid(format!("stream: {e}")))?;
        let envelope = match &stream {
            Some(s) => Envelope::of(s),
            None => reference_envelope(),
        };
        Ok(Binding {
            name: name.to_string(),
            roles,
            stream,
            invalid_provider: file.invalid_provider,
            envelope,
            auth: file.auth.unwrap_or_default(),
        })
    }

    /// The role, or why the scenario needing it cannot run.
    pub fn role(&self, role: &str) -> Result<&Role, String> {
        self.roles
            .get(role)
            .ok_or_else(|| format!("role {role} is not bound"))
    }

    pub fn stream(&self) -> Result<&Stream, String> {
        self.stream
            .as_ref()
            .ok_or_else(|| "role stream is not bound".to_string())
    }
}

/// The reference binding's envelope, for a binding that leaves the stream out (the stream
/// contract's address and a bearer token are used then too).
pub fn reference_envelope() -> Envelope {
    yaml_serde::from_str::<BindingFile>(REFERENCE)
        .ok()
        .and_then(|f| f.stream)
        .and_then(|s| stream(s).ok())
        .map(|s| Envelope::of(&s))
        .unwrap_or_default()
}

fn resolve_role(role: &str, spec: RoleFile, contract: &ApiContract) -> Result<Role, String> {
    let (method, path) = match spec.operation.split_once(' ') {
        Some((m, p)) if m.chars().all(|c| c.is_ascii_alphabetic()) && p.starts_with('/') => {
            let method = m.to_ascii_uppercase();
            let path = p.trim().to_string();
            if !contract
                .operations
                .iter()
                .any(|o| o.method == method && o.path == path)
            {
                return Err(format!(
                    "role {role}: the contract has no operation {method} {path}"
                ));
            }
            (method, path)
        }
        _ => {
            let op = contract.by_id(&spec.operation).ok_or_else(|| {
                format!(
                    "role {role}: the contract has no operation with id {:?}",
                    spec.operation
                )
            })?;
            (op.method.clone(), op.path.clone())
        }
    };
    if let Some(t) = &spec.request {
        template::variables(t).map_err(|e| format!("role {role}: request: {e}"))?;
    }
    let outputs: BTreeMap<String, Source> = spec
        .outputs
        .into_iter()
        .map(|(k, v)| {
            template::source(&v)
                .map(|s| (k.clone(), s))
                .map_err(|e| format!("role {role}: output {k}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    if let Some(q) = &spec.query {
        template::variables(&Value::String(q.clone()))
            .map_err(|e| format!("role {role}: query: {e}"))?;
    }
    for (name, p) in &spec.items {
        template::pointer(p).map_err(|e| format!("role {role}: items.{name}: {e}"))?;
    }
    if !spec.items.is_empty() && !outputs.contains_key("items") {
        return Err(format!(
            "role {role}: `items` pointers need an `items` output (the list they read)"
        ));
    }
    Ok(Role {
        method,
        path,
        request: spec.request,
        outputs,
        query: spec.query,
        items: spec.items,
    })
}

fn stream(s: StreamFile) -> Result<Stream, String> {
    if s.url.is_none() == s.url_output.is_none() {
        return Err("give exactly one of url (a path template) and url_output".into());
    }
    if let Some(url) = &s.url
        && !url.starts_with('/')
        && !url.starts_with("ws")
    {
        return Err(format!("url {url:?} must be a path (/…) or a ws(s):// URL"));
    }
    if let TokenPlacement::FirstMessage { template: t } = &s.token {
        template::variables(t).map_err(|e| format!("token: {e}"))?;
    }
    for (name, frame) in &s.frames {
        if !FRAMES.contains(&name.as_str()) {
            return Err(format!(
                "unknown frame {name:?}; frames are {}",
                FRAMES.join(", ")
            ));
        }
        template::variables(frame).map_err(|e| format!("frame {name}: {e}"))?;
    }
    for (name, p) in &s.pointers {
        if !POINTERS.contains(&name.as_str()) {
            return Err(format!(
                "unknown pointer {name:?}; pointers are {}",
                POINTERS.join(", ")
            ));
        }
        template::pointer(p).map_err(|e| format!("pointer {name}: {e}"))?;
    }
    for name in s.events.keys() {
        if !EVENTS.contains(&name.as_str()) {
            return Err(format!(
                "unknown event {name:?}; events are {}",
                EVENTS.join(", ")
            ));
        }
    }
    // Without these the probes can neither speak nor read the stream.
    for frame in FRAMES {
        if !s.frames.contains_key(*frame) {
            return Err(format!(
                "the frame {frame} is missing (frames: ping, text, resume)"
            ));
        }
    }
    for pointer in ["type", "sequence"] {
        if !s.pointers.contains_key(pointer) {
            return Err(format!("the pointer {pointer} is missing"));
        }
    }
    Ok(Stream {
        url: s.url,
        url_output: s.url_output,
        token: s.token,
        frames: s.frames,
        pointers: s.pointers,
        events: s.events,
        close_codes: s.close_codes,
    })
}

#[cfg(test)]
mod tests;
