//! Times the HTML renderer alone on a finished run: `cargo run --release --example render_html
//! -- voice-audit-report/results.json [ROUNDS]` prints the page size and the mean render time.
//! (The audit itself dominates a run; this isolates what `--format html` adds.)

use std::time::Instant;
use voice_audit::model::AuditReport;
use voice_audit::report::{Format, render};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "voice-audit-report/results.json".into());
    let rounds: u32 = args.next().map_or(Ok(50), |r| r.parse())?;
    let report: AuditReport = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let mut bytes = 0;
    let started = Instant::now();
    for _ in 0..rounds.max(1) {
        bytes = render(&report, Format::Html, None)?.len();
    }
    let each = started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds.max(1));
    println!("report.html: {bytes} bytes, {each:.2} ms per render (mean of {rounds})");
    Ok(())
}
