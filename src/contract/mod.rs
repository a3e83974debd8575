//! What the deployment promises: the OpenAPI document (3.0 or 3.1) and the AsyncAPI document of
//! the session stream, loaded into one small model that the probes walk and the checks judge
//! against.
//!
//! Both documents are kept whole as JSON next to the extracted model, because response and event
//! schemas are validated against the full document (`$ref`s anywhere in it resolve).

pub mod asyncapi;
pub mod generate;
pub mod openapi;
pub mod schema;
mod source;

pub use asyncapi::{MessageDirection, WsContract, WsMessage};
pub use openapi::{ApiContract, BodySpec, Operation, ParamLocation, Parameter, ResponseSpec};
pub use schema::{SchemaSet, SchemaViolation};
pub use source::{ContractSource, load_text};

use std::path::PathBuf;

/// The bundled contracts: the audit works out of the box against the reference backend.
pub const BUNDLED_OPENAPI: &str = include_str!("../../contracts/openapi.yaml");
pub const BUNDLED_ASYNCAPI: &str = include_str!("../../contracts/websocket.yaml");

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("cannot read contract {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot fetch contract from {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("contract {source_name} is neither JSON nor YAML: {reason}")]
    Syntax { source_name: String, reason: String },
    #[error("contract {source_name} is not a valid {kind} document: {reason}")]
    Structure {
        source_name: String,
        kind: &'static str,
        reason: String,
    },
    #[error("contract {source_name}: unsupported version {version:?} (supported: {supported})")]
    Version {
        source_name: String,
        version: String,
        supported: &'static str,
    },
    #[error("contract {source_name}: {reason}")]
    Semantics { source_name: String, reason: String },
}
