//! `report.html`: the Markdown report as one self-contained, printable page with plots.
//!
//! The body *is* the Markdown report (same template, same values, same section order) turned
//! into HTML, so the two formats cannot drift apart. On the way the renderer adds what a page
//! can do and a text file cannot: heading anchors and a table of contents, the latency and
//! score plots (inline SVG) in the sections that discuss them, and a link from every check id
//! to its finding, whose evidence references link into the evidence folder.
//!
//! The page must be safe to open whatever the target answered: text quoted from the deployment
//! may contain markup, so raw HTML and links in the Markdown are rendered as text; the only
//! markup in the page is the renderer's own. Nothing is loaded from anywhere: no script, font,
//! stylesheet or image outside the file.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

use crate::model::{AuditReport, CheckResult, Distribution, Percentiles, Status};

use super::context::{num, status_label};
use super::svg::{self, escape};
use super::{ReportError, markdown};

/// The embedded page template: head, styles, table of contents, body and findings.
pub const EMBEDDED_HTML_TEMPLATE: &str = include_str!("../../templates/report.html");

/// Renders `report` with the Markdown `md_template` as body and `page_template` as the page.
pub fn render(
    report: &AuditReport,
    md_template: &str,
    page_template: &str,
) -> Result<String, ReportError> {
    let md = markdown::render(report, md_template)?;
    render_markdown(report, &md, page_template)
}

/// The page around an already rendered Markdown report (profiles with their own template).
pub fn render_markdown(
    report: &AuditReport,
    md: &str,
    page_template: &str,
) -> Result<String, ReportError> {
    let md = md.to_owned();
    let (body, toc) = body(report, &md);
    let page = Page {
        title: format!("{} · {}", report.profile.title, report.audit_id),
        audit_id: report.audit_id.clone(),
        target: report.target.base_url.clone(),
        finished_at: report
            .finished_at
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        score: num(report.score.total),
        emoji: report.score.readiness.emoji.clone(),
        label: report.score.readiness.label.clone(),
        band: report.score.readiness.band.clone(),
        toc,
        body,
        findings: report
            .checks
            .iter()
            .map(|c| FindingView::new(c, report.evidence_dir.as_deref()))
            .collect(),
        evidence_dir: report.evidence_dir.clone(),
    };
    let context = tera::Context::from_serialize(&page).map_err(|e| page_error(e, "context"))?;
    // Autoescape on: every value is text except `body`, which the template marks `safe`.
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec!["report.html"]);
    // Tera's default also escapes `/`, which turns every path and unit into `&#x2F;`.
    tera.set_escape_fn(escape);
    tera.add_raw_template("report.html", page_template)
        .map_err(|e| page_error(e, "report.html"))?;
    tera.render("report.html", &context)
        .map_err(|e| page_error(e, "report.html"))
}

#[derive(Serialize)]
struct Page {
    title: String,
    audit_id: String,
    target: String,
    finished_at: String,
    score: String,
    emoji: String,
    label: String,
    band: String,
    toc: Vec<TocEntry>,
    body: String,
    findings: Vec<FindingView>,
    evidence_dir: Option<String>,
}

#[derive(Serialize)]
struct TocEntry {
    id: String,
    text: String,
}

#[derive(Serialize)]
struct FindingView {
    id: String,
    anchor: String,
    title: String,
    status: String,
    status_class: &'static str,
    emoji: String,
    severity: String,
    points: String,
    value: String,
    target: String,
    summary: String,
    details: Vec<String>,
    evidence: Vec<EvidenceLink>,
}

#[derive(Serialize)]
struct EvidenceLink {
    text: String,
    /// Relative link into the evidence folder; `None` when no folder was written.
    href: Option<String>,
    title: String,
}

impl FindingView {
    fn new(c: &CheckResult, evidence_dir: Option<&str>) -> Self {
        let value = match (c.status, &c.measured) {
            (Status::NotAssessed, _) => format!(
                "not assessed: {}",
                c.not_assessed_reason
                    .as_deref()
                    .unwrap_or("the check did not run")
            ),
            (_, Some(m)) => m.display.clone(),
            (s, None) => status_label(s).to_owned(),
        };
        FindingView {
            id: c.id.clone(),
            anchor: anchor(&c.id),
            title: c.title.clone(),
            status: status_label(c.status).to_owned(),
            status_class: match c.status {
                Status::Pass => "pass",
                Status::Partial => "partial",
                Status::Fail => "fail",
                Status::NotAssessed => "na",
            },
            emoji: c.status.emoji().to_owned(),
            severity: c.severity.clone(),
            points: format!("{}/{}", num(c.points_earned), num(c.points_max)),
            value,
            target: c.target.clone(),
            summary: c.summary.clone(),
            details: c.details.clone(),
            evidence: c
                .evidence
                .iter()
                .map(|e| evidence_link(e, evidence_dir))
                .collect(),
        }
    }
}

/// `http-0007` is an entry of the HAR (its `_id`), `ws-003` a connection in the frame log;
/// anything else is shown as given, linked only when it is a plain relative path.
fn evidence_link(reference: &str, dir: Option<&str>) -> EvidenceLink {
    let text = reference.to_owned();
    let Some(dir) = dir else {
        return EvidenceLink {
            text,
            href: None,
            title: "no evidence folder was written in this run".to_owned(),
        };
    };
    let (href, title) = if reference.starts_with("http-") {
        (
            Some(format!("{dir}/http.har#{reference}")),
            format!("HAR entry with _id {reference}"),
        )
    } else if reference.starts_with("ws-") {
        (
            Some(format!("{dir}/ws.jsonl#{reference}")),
            format!("frames of WebSocket connection {reference}"),
        )
    } else if is_relative_path(reference) {
        (Some(reference.to_owned()), format!("evidence {reference}"))
    } else {
        (None, format!("evidence {reference}"))
    };
    EvidenceLink { text, href, title }
}

fn is_relative_path(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(':')
        && !s.starts_with('/')
        && !s.starts_with('\\')
        && !s.chars().any(|c| c.is_whitespace() || c == '"' || c == '<')
}

fn anchor(check_id: &str) -> String {
    format!("check-{}", slug(check_id))
}

/// Where the plots go: after the heading that discusses them (exact heading text).
const CONNECT_AND_EVENTS_AFTER: &str = "4.3 Performance Metrics";
const SWITCH_AFTER: &str = "Performance Metrics";
/// The score by category opens the report, where the verdict is (§14.1 has it in words).
const SCORE_AFTER: &str = "Executive Summary";

/// The Markdown as HTML with anchors, plots and check links, and the table of contents.
fn body(report: &AuditReport, md: &str) -> (String, Vec<TocEntry>) {
    let options = Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let events: Vec<Event> = Parser::new_ext(md, options).map(defang).collect();
    let check_ids: BTreeSet<&str> = report.checks.iter().map(|c| c.id.as_str()).collect();
    let mut plots = Plots::new(report);

    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut toc = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        match &events[i] {
            Event::Start(Tag::Heading { level, .. }) => {
                let level = *level;
                let end = (i..events.len())
                    .find(|&j| matches!(events[j], Event::End(TagEnd::Heading(_))))
                    .unwrap_or(events.len() - 1);
                let text = plain_text(&events[i + 1..end]);
                let mut id = slug(&text);
                let n = seen.entry(id.clone()).or_insert(0);
                *n += 1;
                if *n > 1 {
                    id = format!("{id}-{n}");
                }
                if level == HeadingLevel::H2 {
                    toc.push(TocEntry {
                        id: id.clone(),
                        text: text.clone(),
                    });
                }
                out.push(Event::Start(Tag::Heading {
                    level,
                    id: Some(CowStr::from(id)),
                    classes: Vec::new(),
                    attrs: Vec::new(),
                }));
                out.extend(
                    events[i + 1..=end]
                        .iter()
                        .map(|e| link_check(e, &check_ids)),
                );
                if let Some(html) = plots.after(level, &text) {
                    out.push(Event::Html(CowStr::from(html)));
                }
                i = end + 1;
            }
            e => {
                out.push(link_check(e, &check_ids));
                i += 1;
            }
        }
    }
    let mut html = String::with_capacity(md.len() * 2);
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    // A custom template without the headings still gets every plot, at the end.
    let rest = plots.remaining();
    if !rest.is_empty() {
        html.push_str("<h2 id=\"plots\">Plots</h2>\n");
        html.push_str(&rest);
    }
    (html, toc)
}

/// Markup and links that came with the text are shown as text: only the renderer writes tags.
fn defang(e: Event<'_>) -> Event<'_> {
    match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        Event::Start(Tag::Link { .. } | Tag::Image { .. })
        | Event::End(TagEnd::Link | TagEnd::Image) => Event::Text(CowStr::Borrowed("")),
        other => other,
    }
}

/// `` `switch.latency` `` becomes a link to that check's finding.
fn link_check<'a>(e: &Event<'a>, ids: &BTreeSet<&str>) -> Event<'a> {
    match e {
        Event::Code(code) if ids.contains(&**code) => Event::InlineHtml(CowStr::from(format!(
            "<a href=\"#{}\"><code>{}</code></a>",
            anchor(code),
            escape(code)
        ))),
        other => other.clone(),
    }
}

fn plain_text(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events {
        if let Event::Text(t) | Event::Code(t) = e {
            s.push_str(t);
        }
    }
    s.trim().to_owned()
}

/// Lower-case letters and digits joined by single dashes: `4.3 Performance` → `4-3-performance`.
fn slug(text: &str) -> String {
    let mut s = String::new();
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            s.push(ch);
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() {
        "section".to_owned()
    } else {
        s
    }
}

/// The plots of one report, each handed out once.
struct Plots {
    connect_and_events: Option<String>,
    switch: Option<String>,
    score: Option<String>,
}

impl Plots {
    fn new(r: &AuditReport) -> Self {
        let d = &r.metrics.distributions;
        let connect = figure(
            "plot-ws-connect",
            "WebSocket connect time",
            d.ws_connect_ms.as_ref(),
            r.metrics.ws_connect_ms.as_ref(),
        );
        let events = figure(
            "plot-ws-event-latency",
            "Event delivery latency (text → transcript)",
            d.ws_event_latency_ms.as_ref(),
            r.metrics.ws_event_latency_ms.as_ref(),
        );
        let load = if r.metrics.load_steps.is_empty() {
            String::new()
        } else {
            format!(
                "<figure class=\"plot-figure\">{}<figcaption>Load phase (<a href=\"#{}\"><code>perf.load</code></a>): answers per second of each step, its p99, and its errors and timeouts in red.</figcaption></figure>\n",
                svg::load_steps(&r.metrics.load_steps),
                anchor("perf.load")
            )
        };
        Plots {
            connect_and_events: Some(format!("{connect}{events}{load}")),
            switch: Some(figure(
                "plot-switch-latency",
                "Provider switch latency",
                d.switch_latency_ms.as_ref(),
                r.metrics.switch_latency_ms.as_ref(),
            )),
            score: Some(format!(
                "<figure class=\"plot-figure\">{}<figcaption>Points earned per category, of its share of the normalised 100 (grey: the share; a category with nothing assessed has none).</figcaption></figure>\n",
                svg::score_breakdown(&r.score.categories)
            )),
        }
    }

    fn after(&mut self, level: HeadingLevel, heading: &str) -> Option<String> {
        match (level, heading) {
            (HeadingLevel::H3, CONNECT_AND_EVENTS_AFTER) => self.connect_and_events.take(),
            (HeadingLevel::H4, SWITCH_AFTER) => self.switch.take(),
            (HeadingLevel::H2, SCORE_AFTER) => self.score.take(),
            _ => None,
        }
    }

    fn remaining(&mut self) -> String {
        [
            self.connect_and_events.take(),
            self.switch.take(),
            self.score.take(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// A histogram with a caption from the same run's percentiles, or the reason there is none.
fn figure(id: &str, title: &str, d: Option<&Distribution>, p: Option<&Percentiles>) -> String {
    let Some(d) = d.filter(|d| !d.buckets.is_empty()) else {
        let why = match p {
            // Results written before schema 1.2 kept percentiles only.
            Some(p) => format!(
                "no histogram in these results (written before results schema 1.2); p50 {} ms, p95 {} ms, n = {}",
                num(p.p50),
                num(p.p95),
                p.count
            ),
            None => {
                "not assessed: not measured in this run, so there is nothing to plot".to_owned()
            }
        };
        return format!(
            "<p class=\"na\" id=\"{id}\">⚪ {}: {}.</p>\n",
            escape(title),
            escape(&why)
        );
    };
    let stats = p.map_or_else(String::new, |p| {
        format!(
            "; p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
            num(p.p50),
            num(p.p95),
            num(p.p99),
            num(p.max)
        )
    });
    let target = d.target_ms.map_or_else(
        || "; no target in the profile".to_owned(),
        |t| {
            format!(
                "; dashed line: the profile's full-credit target, {} ms",
                num(t)
            )
        },
    );
    format!(
        "<figure class=\"plot-figure\">{}<figcaption>{}: n = {}{stats}{target} (<a href=\"#{}\"><code>{}</code></a>).</figcaption></figure>\n",
        svg::histogram(id, title, d),
        escape(title),
        d.count,
        anchor(&d.check_id),
        escape(&d.check_id)
    )
}

fn page_error(source: tera::Error, what: &str) -> ReportError {
    super::render_failed(format!("report.html ({what})"), source)
}

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
