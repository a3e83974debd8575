//! voice-audit: probes a running voice backend against its OpenAPI and AsyncAPI contracts and
//! turns what it observed into a scored, evidence-backed audit report.
//!
//! The pipeline is one-way: `contract` loads what the deployment promises, `probe` talks to the
//! deployment and records observations (never judging them), `check` turns observations into
//! findings, `score` is a pure function of findings and the `profile`, and `report` only renders
//! the finished `model::AuditReport`. `run` wires the pipeline for the CLI.

pub mod binding;
pub mod cap;
pub mod check;
pub mod cli;
pub mod contract;
pub mod demo;
pub mod error;
pub mod evidence;
pub mod har;
pub mod inproc;
pub mod model;
pub mod observed;
pub mod probe;
pub mod profile;
pub mod progress;
pub mod report;
pub mod report_set;
pub mod rescore;
pub mod run;
pub mod score;
pub mod stats;
