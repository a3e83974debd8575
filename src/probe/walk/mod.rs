//! The contract walk: every operation of the OpenAPI document is called with a valid request,
//! every operation with a body also with schema-breaking bodies (each labelled with the rule it
//! breaks), malformed JSON and a wrong content type, every secured operation without a token,
//! and every operation on a resource of the audit user also with a second user's token. Each
//! call is recorded as an exchange whose purpose says what was expected of it; the contract
//! checks judge the exchanges.
//!
//! Order matters on a live system: per resource (the path up to its first parameter), resources
//! are created before they are read, state-changing calls come after reads, calls that end a
//! resource come next; calls that revoke credentials come last, after every resource, and use
//! credentials of their own. Resources are walked concurrently (`--concurrency`), each one in
//! that order, and the walk as a whole has a budget (`--walk-budget`): every request's deadline
//! is the smaller of the request timeout and what is left of the budget, so a hung server costs
//! one timeout per request in flight, and operations not reached in time are listed as skipped.

mod operation;
mod values;

use super::Ctx;
use super::revocation::CrossUserAttempt;
use crate::contract::Operation;
use crate::contract::generate::Generator;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Progress lines (the CLI prints them; tests ignore them).
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// A schema-breaking request and the rule it breaks.
#[derive(Debug, Clone)]
pub struct NegativeCase {
    pub exchange_id: String,
    /// What the request violates (`null for a non-nullable field at /display_name`).
    pub violates: String,
}

#[derive(Debug, Clone, Default)]
pub struct WalkObservation {
    /// Operations that were not called, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Every negative-input request with the rule it breaks.
    pub negative: Vec<NegativeCase>,
    /// Operations on the audit user's resources called with a second user's token; `None`
    /// when no second user could be had (registration disabled or refused).
    pub cross_user: Option<Vec<CrossUserAttempt>>,
    /// Whether the walk's budget ran out before every operation was called.
    pub budget_exhausted: bool,
    /// How long the walk took.
    pub elapsed: Duration,
}

/// Where in the walk an operation goes (lower first).
pub(crate) fn phase(op: &Operation) -> u8 {
    let has_params = op.path.contains('{');
    if op.path.contains("logout") || op.path.contains("revoke") {
        5
    } else if op.method == "DELETE" || op.path.ends_with("/end") || op.path.ends_with("/close") {
        4
    } else if has_params && op.method != "GET" {
        3
    } else if op.method == "GET" {
        2
    } else {
        1
    }
}

/// The resource an operation belongs to: its path up to the first parameter.
fn resource_key(op: &Operation) -> String {
    let end = op.path.find('{').unwrap_or(op.path.len());
    op.path[..end].trim_end_matches('/').to_string()
}

/// The shared state of one walk.
pub(crate) struct Walker<'c> {
    pub ctx: &'c Ctx,
    pub generator: Generator<'c>,
    deadline: Instant,
    /// Token of a second, throwaway user for the object-level authorization calls.
    pub intruder: Option<String>,
    /// Ids seen in earlier responses, for path parameters no created resource fills.
    pub seen_ids: Mutex<Vec<String>>,
    pub out: Mutex<WalkObservation>,
}

impl Walker<'_> {
    /// What is left of the budget for one request (`None` when it is spent).
    pub fn request_deadline(&self) -> Option<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        (!left.is_zero()).then(|| left.min(self.ctx.settings.timeout))
    }

    pub fn record<F: FnOnce(&mut WalkObservation)>(&self, f: F) {
        if let Ok(mut out) = self.out.lock() {
            f(&mut out);
        }
    }
}

pub async fn probe(ctx: &Ctx, progress: Progress<'_>) -> WalkObservation {
    let started = Instant::now();
    let api = ctx.api();
    let intruder = if ctx.settings.allow_register {
        super::auth::register(&ctx.http, "walk-intruder")
            .await
            .ok()
            .map(|c| c.access)
    } else {
        None
    };
    let walker = Walker {
        ctx,
        generator: Generator::new(api.document()),
        deadline: started + ctx.settings.walk_budget,
        seen_ids: Mutex::new(Vec::new()),
        out: Mutex::new(WalkObservation {
            cross_user: intruder.as_ref().map(|_| Vec::new()),
            ..WalkObservation::default()
        }),
        intruder,
    };

    let mut groups: BTreeMap<String, Vec<&Operation>> = BTreeMap::new();
    let mut revoking = Vec::new();
    for op in &api.operations {
        if phase(op) == 5 {
            revoking.push(op);
        } else {
            groups.entry(resource_key(op)).or_default().push(op);
        }
    }
    let total = api.operations.len();
    let done = AtomicUsize::new(0);
    let step = (total / 10).max(20);
    let tick = || {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(step) {
            progress(&format!(
                "walk: {n}/{total} operations ({:.1} s)",
                started.elapsed().as_secs_f64()
            ));
        }
    };
    let walker_ref = &walker;
    let tick_ref = &tick;
    futures_util::stream::iter(groups.into_values())
        .for_each_concurrent(ctx.settings.concurrency.max(1), |mut ops| async move {
            // Within a phase, a collection before its items: its listing may name one.
            ops.sort_by_key(|op| (phase(op), op.path.contains('{')));
            let mut created = values::Created::default();
            for op in ops {
                operation::walk(walker_ref, op, &mut created).await;
                tick_ref();
            }
        })
        .await;
    let no_resource = values::Created::default();
    for op in revoking {
        operation::walk(&walker, op, &mut no_resource.clone()).await;
        tick();
    }
    operation::closing_calls(&walker).await;
    let mut out = walker
        .out
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    out.elapsed = started.elapsed();
    out
}
