//! Tests of `report.html` on the fixed reports: sections, plots, links, safety, snapshot.
//! (The end-to-end test in `tests/reports.rs` parses the page of a real demo run.)

#![allow(clippy::unwrap_used)]

use super::super::{EMBEDDED_MARKDOWN_TEMPLATE, fixture};
use super::*;

fn page(report: &AuditReport) -> String {
    render(report, EMBEDDED_MARKDOWN_TEMPLATE, EMBEDDED_HTML_TEMPLATE).unwrap()
}

#[test]
fn every_markdown_heading_is_an_html_heading_in_the_same_order() {
    let report = fixture::mixed();
    let md = markdown::render(&report, EMBEDDED_MARKDOWN_TEMPLATE).unwrap();
    let html = page(&report);
    let mut from = 0;
    for line in md.lines().filter(|l| l.starts_with('#')) {
        let level = line.chars().take_while(|c| *c == '#').count();
        let text = escape(line[level..].trim()).replace("&#39;", "'");
        let open = format!("<h{level} id=\"");
        let found = html[from..]
            .match_indices(&open)
            .find(|(i, _)| {
                html[from + i..]
                    .split("</h")
                    .next()
                    .unwrap()
                    .ends_with(&text)
            })
            .map(|(i, _)| from + i);
        let Some(at) = found else {
            panic!("heading {line:?} missing or out of order");
        };
        from = at + 1;
    }
}

#[test]
fn plots_sit_in_their_sections_and_draw_the_reports_numbers() {
    let report = fixture::mixed();
    let html = page(&report);
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    assert!(at("id=\"4-3-performance-metrics\"") < at("id=\"plot-ws-connect\""));
    assert!(at("id=\"plot-ws-event-latency\"") < at("id=\"5-provider-switching"));
    assert!(at("id=\"5-4-mid-call-switching-capabilities\"") < at("id=\"plot-switch-latency\""));
    assert!(at("id=\"executive-summary\"") < at("id=\"plot-score\""));
    assert!(at("id=\"plot-score\"") < at("id=\"0-integration-evidence-checklist\""));
    let d = report
        .metrics
        .distributions
        .switch_latency_ms
        .as_ref()
        .unwrap();
    let svg_start = at("id=\"plot-switch-latency\"");
    let svg = &html[svg_start..svg_start + html[svg_start..].find("</svg>").unwrap()];
    let counts: Vec<String> = svg
        .split("data-count=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = d.buckets.iter().map(|b| b.count.to_string()).collect();
    assert_eq!(counts, expected);
    assert!(svg.contains("data-target-ms=\"500\""));
    for c in &report.score.categories {
        assert!(
            html.contains(&format!(
                "data-category=\"{}\" data-score=\"{}\"",
                c.id, c.score
            )),
            "{}",
            c.id
        );
    }
}

#[test]
fn nothing_measured_says_so_instead_of_an_empty_plot() {
    let html = page(&fixture::empty_metrics());
    assert!(!html.contains("class=\"bar\""));
    assert!(html.contains("id=\"plot-switch-latency\""));
    assert!(html.contains("not assessed: not measured in this run"));
    // No evidence folder: references are not links.
    assert!(!html.contains("href=\"evidence"));
}

#[test]
fn results_without_histograms_keep_their_percentiles() {
    let mut report = fixture::mixed();
    report.metrics.distributions = Default::default();
    let html = page(&report);
    assert!(!html.contains("class=\"bar\""));
    assert!(html.contains("no histogram in these results (written before results schema 1.2)"));
}

#[test]
fn check_ids_link_to_findings_whose_evidence_links_to_the_evidence_folder() {
    let report = fixture::mixed();
    let html = page(&report);
    for c in &report.checks {
        let anchor = format!("id=\"check-{}\"", slug(&c.id));
        assert!(html.contains(&anchor), "{anchor}");
    }
    assert!(html.contains("href=\"#check-switch-latency\""));
    let failed = report
        .checks
        .iter()
        .find(|c| c.status == Status::Fail && !c.evidence.is_empty())
        .unwrap();
    let article = html
        .split(&format!("id=\"check-{}\"", slug(&failed.id)))
        .nth(1)
        .unwrap();
    let article = article.split("</article>").next().unwrap();
    assert!(
        article.contains("<a href=\"evidence/http.har#"),
        "{article}"
    );
}

#[test]
fn markup_from_the_target_is_shown_as_text() {
    let mut report = fixture::mixed();
    report.checks[0].summary = "<img src=x onerror=alert(1)> <script>alert(2)</script>".into();
    report.checks[0].details = vec!["<a href=\"https://evil.example\">x</a>".into()];
    report.checks[0].evidence = vec![
        "https://evil.example/x".into(),
        "javascript:alert(3)".into(),
    ];
    let html = page(&report);
    assert!(!html.contains("<img"), "raw image tag survived");
    assert!(!html.contains("<script"), "raw script tag survived");
    assert!(!html.contains("href=\"https"), "external link survived");
    assert!(!html.contains("href=\"javascript"), "script link survived");
}

#[test]
fn no_external_reference_anywhere() {
    let html = page(&fixture::mixed());
    for bad in [
        "src=\"",
        "href=\"http",
        "href=\"//",
        "<script",
        "<link",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
}

#[test]
fn html_snapshot_mixed() {
    let html = page(&fixture::mixed());
    insta::assert_snapshot!("report_html_mixed", html);
}

#[test]
fn load_steps_are_plotted_in_section_4_3_with_collapses_in_red() {
    let mut report = fixture::mixed();
    assert!(
        !page(&report).contains("id=\"plot-load\""),
        "no load phase, no plot"
    );
    let step = |step: &str, rps: f64, errors: u64| crate::model::LoadStepMetric {
        role: "health".into(),
        step: step.into(),
        sent: 1000,
        throughput_rps: rps,
        p50_ms: 1.5,
        p99_ms: 9.25,
        max_ms: 30.0,
        errors,
        timeouts: 0,
    };
    report.metrics.load_steps = vec![
        step("50 req/s", 50.0, 0),
        step("64 concurrent clients", 7.0, 41),
    ];
    let html = page(&report);
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    assert!(at("id=\"4-3-performance-metrics\"") < at("id=\"plot-load\""));
    let svg_start = at("id=\"plot-load\"");
    let svg = &html[svg_start..svg_start + html[svg_start..].find("</svg>").unwrap()];
    assert_eq!(svg.matches("class=\"load-step\"").count(), 2);
    assert!(svg.contains("data-throughput=\"50\""), "{svg}");
    assert!(svg.contains("data-errors=\"41\""), "{svg}");
    assert!(svg.contains("41 errors, 0 timeouts"), "{svg}");
    assert!(svg.contains("#b3261e"), "the collapsing step is red");
}
