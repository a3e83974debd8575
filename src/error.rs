//! Errors of the tool itself (exit code 2): a contract that cannot be read, a target that cannot
//! be reached at all, a report that cannot be written.
//!
//! A deployment that breaks its contract is *not* an error: that is a finding, and it lands in
//! the report. Only the tool failing to do its job comes through here.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
    #[error(transparent)]
    Binding(#[from] crate::binding::BindingError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Har(#[from] crate::har::HarError),
    #[error(transparent)]
    Observed(#[from] crate::observed::ObservedError),
    #[error("the target {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("invalid target URL {url:?}: {reason}")]
    InvalidTarget { url: String, reason: String },
    #[error(
        "no credentials: pass --token (VOICE_AUDIT_TOKEN) or --email/--password (VOICE_AUDIT_EMAIL/VOICE_AUDIT_PASSWORD); without them the audit registers a throwaway user, which --no-register and --read-only forbid"
    )]
    NoCredentials,
    #[error("cannot sign in as the audit user: {0}")]
    SignIn(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the baseline {path}: {reason}")]
    Baseline { path: PathBuf, reason: String },
    #[error("cannot start the reference server: {0}")]
    Server(String),
    #[error("HTTP client: {0}")]
    Client(String),
}
