//! The summary printed to the terminal at the end of a run.
//!
//! A person at a terminal wants the verdict and where the points went, not the whole report:
//! one row per category, its checks indented under it, and the total on the last line. Long
//! text (reasons, details) stays in `report.md`, so the table fits in 100 columns.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::model::{AuditReport, Status};

use super::context::{num, pct, status_label};

/// Width the table wraps to, so it stays readable in a 100-column terminal and in CI logs.
const WIDTH: u16 = 100;

pub fn summary_table(report: &AuditReport) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(vec!["Category / check", "", "Points", "Measured"]);

    let mut listed = vec![false; report.checks.len()];
    for cat in &report.score.categories {
        table.add_row(vec![
            cat.title.clone(),
            cat.status.emoji().to_owned(),
            format!("{}/{}", num(cat.score), num(cat.max)),
            format!(
                "{}/{} checks assessed",
                cat.assessed_checks, cat.total_checks
            ),
        ]);
        for (i, check) in report.checks.iter().enumerate() {
            if check.category == cat.id {
                listed[i] = true;
                table.add_row(check_row(check));
            }
        }
    }
    // Checks of a category the scorecard does not list still show, at the end.
    for (i, check) in report.checks.iter().enumerate() {
        if !listed[i] {
            table.add_row(check_row(check));
        }
    }

    let capped = &report.score.readiness.capped_by;
    let cap = if capped.is_empty() {
        String::new()
    } else {
        format!(" (capped by failed critical checks: {})", capped.join(", "))
    };
    format!(
        "{table}\nScore: {}/100 — {} {}{cap} — assessed share {}\n",
        num(report.score.total),
        report.score.readiness.emoji,
        report.score.readiness.label,
        pct(report.score.assessed_share),
    )
}

/// Whether to colour output on a stream: only at a terminal, never with `NO_COLOR` set to
/// anything non-empty (no-color.org) or `TERM=dumb`.
pub fn colour_enabled(is_terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    is_terminal && !no_color && !dumb
}

/// The summary with its verdict line coloured by band (green, yellow, red) when `colour`.
pub fn paint_verdict(summary: &str, band: &str, colour: bool) -> String {
    if !colour {
        return summary.to_owned();
    }
    let code = match band {
        "excellent" => "32",
        "good" => "33",
        _ => "31",
    };
    summary
        .lines()
        .map(|l| {
            if l.starts_with("Score:") {
                format!("\x1b[1;{code}m{l}\x1b[0m")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn check_row(check: &crate::model::CheckResult) -> Vec<String> {
    let measured = match (&check.measured, check.status) {
        (_, Status::NotAssessed) => status_label(Status::NotAssessed).to_owned(),
        (Some(m), _) => m.display.clone(),
        (None, s) => status_label(s).to_owned(),
    };
    vec![
        format!("  {}", check.id),
        check.status.emoji().to_owned(),
        format!("{}/{}", num(check.points_earned), num(check.points_max)),
        measured,
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn one_row_per_category_and_check_and_a_total_line() {
        let report = fixture::mixed();
        let text = summary_table(&report);
        for cat in &report.score.categories {
            assert!(text.contains(&cat.title), "missing category {}", cat.title);
        }
        for check in &report.checks {
            assert!(text.contains(&check.id), "missing check {}", check.id);
        }
        let last = text.lines().last().unwrap();
        assert!(last.starts_with(&format!("Score: {}/100", num(report.score.total))));
        assert!(last.contains(&report.score.readiness.label));
        assert!(last.contains("assessed share"));
    }

    #[test]
    fn fits_in_100_columns() {
        for report in [
            fixture::all_pass(),
            fixture::mixed(),
            fixture::empty_metrics(),
        ] {
            let text = summary_table(&report);
            for line in text.lines().filter(|l| !l.starts_with("Score:")) {
                // Emoji are two columns wide; count them twice.
                let width: usize = line
                    .chars()
                    .map(|c| {
                        if (c as u32) >= 0x1F000 || c == '⚪' {
                            2
                        } else {
                            1
                        }
                    })
                    .sum();
                assert!(width <= 100, "{width} columns: {line}");
            }
        }
    }

    #[test]
    fn the_verdict_is_coloured_only_when_asked() {
        let text = summary_table(&fixture::all_pass());
        assert_eq!(paint_verdict(&text, "excellent", false), text);
        let painted = paint_verdict(&text, "excellent", true);
        assert!(painted.contains("\x1b[1;32mScore: 100/100"), "{painted}");
        assert_eq!(painted.matches('\x1b').count(), 2);
    }

    #[test]
    fn all_pass_totals_100() {
        let text = summary_table(&fixture::all_pass());
        assert!(text.contains("Score: 100/100"), "{text}");
    }
}
