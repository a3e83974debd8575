//! The per-operation table of the report (seed 000 §3.1/§5.1): implemented or not, conforming
//! or not, with a note saying why.

use super::contract::{conformance_problems, implemented_status};
use crate::contract::ApiContract;
use crate::evidence::{Exchange, Purpose};
use crate::model::{OperationRow, Status};

pub fn operations(api: &ApiContract, exchanges: &[Exchange]) -> Vec<OperationRow> {
    api.operations
        .iter()
        .map(|op| {
            let mine: Vec<&Exchange> = exchanges
                .iter()
                .filter(|e| e.operation_id.as_deref() == Some(op.operation_id.as_str()))
                .collect();
            let valid = mine.iter().find(|e| e.purpose == Purpose::Valid);
            let implemented = match valid {
                None => Status::NotAssessed,
                Some(e) if implemented_status(e.status) => Status::Pass,
                Some(_) => Status::Fail,
            };
            let problems: Vec<String> = mine
                .iter()
                .flat_map(|e| {
                    conformance_problems(api, e)
                        .into_iter()
                        .map(move |p| format!("{}: {p}", e.id))
                })
                .collect();
            let contract = if mine.is_empty() {
                Status::NotAssessed
            } else if problems.is_empty() {
                Status::Pass
            } else {
                Status::Fail
            };
            let notes = match (valid, problems.first()) {
                (None, _) => "not exercised".to_string(),
                (Some(_), Some(p)) => format!(
                    "{} exchanges, {} problems; first: {p}",
                    mine.len(),
                    problems.len()
                ),
                (Some(v), None) => format!(
                    "{} exchanges conform; valid request → HTTP {} in {:.1} ms",
                    mine.len(),
                    v.status.unwrap_or(0),
                    v.elapsed.as_secs_f64() * 1000.0
                ),
            };
            OperationRow {
                method: op.method.clone(),
                path: op.path.clone(),
                operation_id: op.operation_id.clone(),
                implemented,
                contract,
                notes,
                frontend: None,
            }
        })
        .collect()
}
