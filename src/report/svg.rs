//! Inline SVG plots for the HTML report, drawn from the report's own numbers.
//!
//! A plotting crate would bring fonts, rasterisers or JavaScript for four simple charts; a few
//! `<rect>`s and a `<polyline>` are enough, print sharply and keep the report one offline file.
//! Every mark carries its number as a `data-*` attribute and a `<title>` (a tooltip without
//! JavaScript), so a test can check the drawing against `results.json` and a reader can too.
//! No `xmlns`: inline SVG in HTML needs none, and the report must hold no URL at all.

use std::fmt::Write as _;

use crate::model::{CategoryScore, Distribution, LoadStepMetric, Status};

use super::context::num;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 56.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 44.0;

/// A histogram of `d` with its cumulative share as a line and the check's target as a dashed
/// vertical line. Buckets are drawn at equal widths (they are equal in log or linear space).
pub fn histogram(id: &str, title: &str, d: &Distribution) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = d.buckets.len().max(1) as f64;
    let bar_w = plot_w / n;
    let peak = d.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let mut s = open(id, title, &format!("{title}: {} samples", d.count));
    // Axes and the count scale.
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y0}" stroke="#333"/><text x="{lx}" y="{ty}" text-anchor="end" font-size="11">{peak}</text><text x="{lx}" y="{y0}" text-anchor="end" font-size="11">0</text><text x="{rx}" y="{ty}" font-size="11">100 %</text>"##,
        y0 = TOP + plot_h,
        x1 = LEFT + plot_w,
        lx = LEFT - 6.0,
        ty = TOP + 4.0,
        rx = LEFT + plot_w + 6.0,
        peak = peak as u64,
    );
    let mut cumulative = 0u64;
    let mut points = vec![format!("{LEFT:.1},{:.1}", TOP + plot_h)];
    for (i, b) in d.buckets.iter().enumerate() {
        let h = b.count as f64 / peak * plot_h;
        let x = LEFT + i as f64 * bar_w;
        let _ = write!(
            s,
            r##"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#4a78b5" data-low-ms="{lo}" data-high-ms="{hi}" data-count="{c}"><title>{lo}–{hi} ms: {c} samples</title></rect>"##,
            y = TOP + plot_h - h,
            w = (bar_w - 1.0).max(0.5),
            lo = b.low_ms,
            hi = b.high_ms,
            c = b.count,
        );
        cumulative += b.count;
        let share = cumulative as f64 / d.count.max(1) as f64;
        points.push(format!(
            "{:.1},{:.1}",
            x + bar_w,
            TOP + plot_h - share * plot_h
        ));
    }
    let _ = write!(
        s,
        r##"<polyline class="cdf" points="{}" fill="none" stroke="#d9822b" stroke-width="2"><title>cumulative share of samples</title></polyline>"##,
        points.join(" ")
    );
    // The value axis: the first edge, the middle edge and the last edge.
    if let (Some(first), Some(last)) = (d.buckets.first(), d.buckets.last()) {
        let mid = &d.buckets[d.buckets.len() / 2];
        for (x, v, anchor) in [
            (LEFT, first.low_ms, "start"),
            (
                LEFT + (d.buckets.len() / 2) as f64 * bar_w,
                mid.low_ms,
                "middle",
            ),
            (LEFT + plot_w, last.high_ms, "end"),
        ] {
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-size="11">{} ms</text>"##,
                num_ms(v),
                y = TOP + plot_h + 16.0,
            );
        }
    }
    if let Some(t) = d.target_ms {
        target_line(&mut s, d, t, bar_w, plot_h);
    }
    // The buckets are log-spaced when the samples span more than a factor of 4 (`stats`).
    let log = match (d.buckets.first(), d.buckets.last()) {
        (Some(f), Some(l)) => l.high_ms > 4.0 * f.low_ms,
        _ => false,
    };
    let _ = write!(
        s,
        r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" font-size="11">latency (ms{scale}); bars: samples per bucket; line: cumulative share</text></svg>"##,
        x = LEFT + plot_w / 2.0,
        y = HEIGHT - 8.0,
        scale = if log { ", log scale" } else { "" },
    );
    s
}

/// The target as a dashed line where it falls among the buckets, or at the edge (with a note)
/// when every sample is on one side of it.
fn target_line(s: &mut String, d: &Distribution, target: f64, bar_w: f64, plot_h: f64) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let (x, note) = match d.buckets.iter().position(|b| target < b.high_ms) {
        _ if d.buckets.first().is_some_and(|b| target < b.low_ms) => {
            (LEFT, " (every sample above it)")
        }
        Some(i) => {
            let b = &d.buckets[i];
            let within = if b.high_ms > b.low_ms {
                (target - b.low_ms) / (b.high_ms - b.low_ms)
            } else {
                0.5
            };
            (LEFT + (i as f64 + within) * bar_w, "")
        }
        None => (LEFT + plot_w, " (every sample below it)"),
    };
    let anchor = if x > LEFT + plot_w * 0.6 {
        "end"
    } else {
        "start"
    };
    let _ = write!(
        s,
        r##"<line class="target" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{y0:.1}" stroke="#b3261e" stroke-width="2" stroke-dasharray="6 4" data-target-ms="{target}"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="{anchor}" font-size="12" fill="#b3261e">target {} ms{note}</text>"##,
        num_ms(target),
        y0 = TOP + plot_h,
        tx = if anchor == "end" { x - 4.0 } else { x + 4.0 },
        ty = TOP - 8.0,
    );
}

/// One horizontal bar per category: the track is the category's share of 100 points, the fill
/// the points earned. A category with nothing assessed shows an empty track and says so.
pub fn score_breakdown(categories: &[CategoryScore]) -> String {
    let label_w = 260.0;
    let plot_w = WIDTH - label_w - 90.0;
    let widest = largest(categories.iter().map(|c| c.max));
    let mut s = open_rows(
        "plot-score",
        "Score by category (points earned of each category's share of 100)",
        categories.len(),
    );
    for (i, c) in categories.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let track = c.max / widest * plot_w;
        let fill = if c.max > 0.0 {
            (c.score / c.max).clamp(0.0, 1.0) * track
        } else {
            0.0
        };
        let colour = match c.status {
            Status::Pass => "#2e7d32",
            Status::Partial => "#c99400",
            Status::Fail => "#b3261e",
            Status::NotAssessed => "#9e9e9e",
        };
        let value = if c.assessed_checks == 0 {
            "not assessed".to_owned()
        } else {
            format!("{}/{}", num(c.score), num(c.max))
        };
        let _ = write!(
            s,
            r##"<g class="category" data-category="{id}" data-score="{score}" data-max="{max}"><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="12">{title}</text><rect x="{label_w}" y="{y:.1}" width="{track:.1}" height="18" fill="#e6e6e6"/><rect x="{label_w}" y="{y:.1}" width="{fill:.1}" height="18" fill="{colour}"><title>{title}: {value}</title></rect><text x="{vx:.1}" y="{ty:.1}" font-size="12">{value}</text></g>"##,
            id = escape(&c.id),
            score = c.score,
            max = c.max,
            title = escape(&c.title),
            tx = label_w - 8.0,
            ty = y + 13.0,
            vx = label_w + track + 6.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// One horizontal bar per load step: its throughput against the busiest step's, with the p99
/// and, in red, any errors or timeouts (a collapse shows as a short red bar, not a hidden one).
pub fn load_steps(steps: &[LoadStepMetric]) -> String {
    let label_w = 230.0;
    let plot_w = WIDTH - label_w - 250.0;
    let busiest = largest(steps.iter().map(|s| s.throughput_rps));
    let mut s = open_rows("plot-load", "Load phase: throughput per step", steps.len());
    for (i, step) in steps.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let w = step.throughput_rps / busiest * plot_w;
        let failed = step.errors + step.timeouts;
        let colour = if failed > 0 { "#b3261e" } else { "#4a78b5" };
        let label = format!("{} · {}", step.role, step.step);
        let value = format!(
            "{} req/s · p99 {} ms{}",
            num(step.throughput_rps),
            num_ms(step.p99_ms),
            if failed > 0 {
                format!(" · {} errors, {} timeouts", step.errors, step.timeouts)
            } else {
                String::new()
            }
        );
        let _ = write!(
            s,
            r##"<g class="load-step" data-role="{role}" data-throughput="{rps}" data-p99-ms="{p99}" data-errors="{errors}" data-timeouts="{timeouts}"><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="12">{label}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="18" fill="{colour}"><title>{label}: {value}</title></rect><text x="{vx:.1}" y="{ty:.1}" font-size="12">{value}</text></g>"##,
            role = escape(&step.role),
            rps = step.throughput_rps,
            p99 = step.p99_ms,
            errors = step.errors,
            timeouts = step.timeouts,
            label = escape(&label),
            value = escape(&value),
            tx = label_w - 8.0,
            ty = y + 13.0,
            vx = label_w + w.max(1.0) + 6.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// Height of one row of a horizontal bar chart.
const ROW: f64 = 30.0;

/// The opening tag and title of a horizontal bar chart of `rows` rows (at least one); `id`
/// and `title` are the tool's own constants, written as they are.
fn open_rows(id: &str, title: &str, rows: usize) -> String {
    let height = TOP + ROW * rows.max(1) as f64 + 8.0;
    format!(
        r##"<svg id="{id}" class="plot" role="img" aria-labelledby="{id}-title" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"><title id="{id}-title">{title}</title>"##
    )
}

/// The largest of `values`, at least 1 (a scale's denominator).
fn largest(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max).max(1.0)
}

fn open(id: &str, title: &str, desc: &str) -> String {
    let id = escape(id);
    format!(
        r##"<svg id="{id}" class="plot" role="img" aria-labelledby="{id}-title" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"><title id="{id}-title">{}</title><desc>{}</desc>"##,
        escape(title),
        escape(desc)
    )
}

fn num_ms(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{:.2}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    } else {
        num(v)
    }
}

/// Text made safe inside an SVG/HTML element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Bucket;

    fn dist(target: Option<f64>) -> Distribution {
        Distribution {
            check_id: "switch.latency".into(),
            target_ms: target,
            count: 6,
            buckets: vec![
                Bucket {
                    low_ms: 1.0,
                    high_ms: 2.0,
                    count: 1,
                },
                Bucket {
                    low_ms: 2.0,
                    high_ms: 4.0,
                    count: 3,
                },
                Bucket {
                    low_ms: 4.0,
                    high_ms: 8.0,
                    count: 2,
                },
            ],
        }
    }

    #[test]
    fn one_bar_per_bucket_with_its_count() {
        let svg = histogram("plot-x", "Switch <latency>", &dist(Some(3.0)));
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3);
        for c in ["data-count=\"1\"", "data-count=\"3\"", "data-count=\"2\""] {
            assert!(svg.contains(c), "{c}");
        }
        assert!(svg.contains("Switch &lt;latency&gt;"));
        assert!(svg.contains("data-target-ms=\"3\""));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn a_target_beyond_every_sample_says_so() {
        let svg = histogram("p", "t", &dist(Some(500.0)));
        assert!(svg.contains("every sample below it"), "{svg}");
        let svg = histogram("p", "t", &dist(Some(0.5)));
        assert!(svg.contains("every sample above it"), "{svg}");
        assert!(!histogram("p", "t", &dist(None)).contains("class=\"target\""));
    }
}
