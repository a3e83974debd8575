//! End-to-end tests of voice-audit against real servers: the reference server started on port
//! 0 (clean, or with one injected fault per check family) and the CLI binary itself.

mod support;

mod clean;
mod cli;
mod faults;
mod honest;
mod hostile;
mod instances;
mod load;
mod profiles;
mod readonly;
mod recovery;
mod reports;
mod security;
mod services;
mod tokens;
mod walk;
