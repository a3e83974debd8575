//! The formats people and dashboards read, end to end: `voice-audit demo` writes the HTML page,
//! SARIF and the rest; the page is parsed (tags balanced, every section, plots drawn from the
//! run's own numbers, nothing loaded from anywhere), SARIF is checked for its required fields,
//! and the shell completions are printed.

use serde_json::Value;
use std::process::Command;

fn voice_audit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voice-audit"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_writes_an_offline_html_page_and_sarif_drawn_from_the_run() {
    let out = tempfile::tempdir().expect("out");
    let mut cmd = voice_audit();
    cmd.args(["demo", "--switches", "8", "--timeout", "3", "--format"])
        .arg("md,html,json,junit,sarif")
        .arg("--out")
        .arg(out.path())
        .env("NO_COLOR", "1");
    let _turn = crate::support::turn().await;
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "NO_COLOR: no escape codes: {stdout:?}"
    );
    let read = |f: &str| std::fs::read_to_string(out.path().join(f)).expect(f);
    let results: Value = serde_json::from_str(&read("results.json")).expect("json");
    assert_eq!(results["schema_version"], "1.2");

    let html = read("report.html");
    let doc = parse(&html);
    // Every heading of report.md, in order.
    let md_headings: Vec<String> = read("report.md")
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().to_owned())
        .collect();
    let html_headings: Vec<&String> = doc
        .headings
        .iter()
        .take_while(|h| !h.starts_with("D. Findings"))
        .collect();
    assert_eq!(html_headings.len(), md_headings.len());
    for (h, m) in html_headings.iter().zip(&md_headings) {
        assert_eq!(*h, m);
    }
    // Nothing outside the file: every src/href is a fragment or a relative evidence path.
    assert!(!doc.elements.contains(&"script".to_owned()), "no script");
    assert!(
        !doc.elements.contains(&"link".to_owned()),
        "no stylesheet link"
    );
    for (attr, value) in &doc.urls {
        let external = value.starts_with("//") || value.contains(':');
        assert!(!external, "{attr}={value:?} leaves the file");
        assert!(
            value.starts_with('#') || value.starts_with("evidence/"),
            "{value}"
        );
    }
    assert!(!html.contains("@import") && !html.contains("url("));
    // Plots: bars are the buckets of results.json, the target line is the profile's.
    let dists = &results["metrics"]["distributions"];
    for (svg_id, key) in [
        ("plot-ws-connect", "ws_connect_ms"),
        ("plot-ws-event-latency", "ws_event_latency_ms"),
        ("plot-switch-latency", "switch_latency_ms"),
    ] {
        let svg = doc.svgs.get(svg_id).unwrap_or_else(|| panic!("{svg_id}"));
        let buckets = dists[key]["buckets"].as_array().expect(key);
        let counts: Vec<u64> = buckets
            .iter()
            .map(|b| b["count"].as_u64().expect("n"))
            .collect();
        assert!(counts.iter().sum::<u64>() > 0, "{key}: samples");
        assert_eq!(svg.counts, counts, "{svg_id} draws {key}");
        assert_eq!(svg.target, dists[key]["target_ms"].as_f64(), "{svg_id}");
    }
    let score = doc.svgs.get("plot-score").expect("score plot");
    let categories = results["score"]["categories"]
        .as_array()
        .expect("categories");
    assert_eq!(score.scores.len(), categories.len());
    for (drawn, c) in score.scores.iter().zip(categories) {
        assert_eq!(Some(*drawn), c["score"].as_f64());
    }
    // Every check has a finding whose id the page can link to.
    for c in results["checks"].as_array().expect("checks") {
        let id = c["id"].as_str().expect("id").replace(['.', '_'], "-");
        assert!(doc.ids.contains(&format!("check-{id}")), "{id}");
    }

    let sarif: Value = serde_json::from_str(&read("voice-audit.sarif")).expect("sarif is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "voice-audit");
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().map(Vec::len),
        results["checks"].as_array().map(Vec::len)
    );
    assert_eq!(
        run["results"].as_array().map(Vec::len),
        Some(0),
        "the demo passes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_operation_is_a_sarif_alert_on_its_line_of_the_contract() {
    let out = tempfile::tempdir().expect("out");
    let mut cmd = voice_audit();
    cmd.args([
        "demo",
        "--inject-fault",
        "missing-switch-history",
        "--switches",
        "4",
    ])
    .args(["--timeout", "3", "--format", "sarif", "-q", "--out"])
    .arg(out.path());
    let _turn = crate::support::turn().await;
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined");
    assert_eq!(output.status.code(), Some(0));
    let sarif: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("voice-audit.sarif")).expect("sarif"),
    )
    .expect("json");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let missing = results
        .iter()
        .find(|r| r["ruleId"] == "contract.operations_implemented")
        .expect("the missing operation is an alert");
    assert_eq!(missing["level"], "error");
    let location = &missing["locations"][0];
    assert_eq!(location["logicalLocations"][0]["name"], "switchHistory");
    let uri = location["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .expect("uri");
    let line = location["physicalLocation"]["region"]["startLine"]
        .as_u64()
        .expect("line") as usize;
    let contract =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(uri))
            .expect("the uri is the repository's contract");
    let declared = contract.lines().nth(line - 1).expect("line exists");
    assert!(declared.contains("/switch-history:"), "{declared}");
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = voice_audit()
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("voice-audit"), "{shell}");
        for sub in ["demo", "run", "bind", "completions"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
        assert!(
            script.contains("sarif"),
            "{shell} completes --format values"
        );
    }
    let out = voice_audit()
        .args(["completions", "nope"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// What the test needs of a page, read by a small strict tokenizer: every non-void element must
/// be closed in order (the page is generated, so it can be held to that).
#[derive(Default)]
struct Doc {
    elements: Vec<String>,
    /// Text of the headings inside `<main>`, in order.
    headings: Vec<String>,
    ids: Vec<String>,
    /// (attribute, value) of every `src` and `href`.
    urls: Vec<(String, String)>,
    svgs: std::collections::HashMap<String, Svg>,
}

#[derive(Default)]
struct Svg {
    counts: Vec<u64>,
    target: Option<f64>,
    scores: Vec<f64>,
}

const VOID: &[&str] = &[
    "meta", "br", "hr", "input", "img", "link", "col", "area", "base", "wbr",
];

fn parse(html: &str) -> Doc {
    let mut doc = Doc::default();
    let mut stack: Vec<String> = Vec::new();
    let mut heading: Option<String> = None;
    let mut svg: Option<String> = None;
    let mut rest = html.trim_start();
    assert!(rest.starts_with("<!DOCTYPE html>"), "doctype");
    rest = &rest["<!DOCTYPE html>".len()..];
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if let Some(h) = heading.as_mut() {
            h.push_str(text);
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = &after[after.find("-->").expect("comment closed") + 3..];
            continue;
        }
        let gt = rest.find('>').expect("tag closed");
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> without an open tag"));
            assert_eq!(open, name, "</{name}> closes <{open}>");
            if name.len() == 2
                && name.starts_with('h')
                && let Some(h) = heading.take()
            {
                doc.headings.push(decode(h.trim()));
            }
            if name == "svg" {
                svg = None;
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag
            .split_whitespace()
            .next()
            .expect("tag name")
            .to_ascii_lowercase();
        let attrs = attributes(tag);
        for (k, v) in &attrs {
            match k.as_str() {
                "id" => doc.ids.push(v.clone()),
                "src" | "href" => doc.urls.push((k.clone(), decode(v))),
                _ => {}
            }
        }
        let attr = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        if name == "svg" {
            let id = attr("id").expect("every plot has an id");
            doc.svgs.insert(id.clone(), Svg::default());
            svg = Some(id);
        }
        if let Some(s) = svg.as_ref().and_then(|id| doc.svgs.get_mut(id)) {
            if let Some(c) = attr("data-count") {
                s.counts.push(c.parse().expect("count"));
            }
            if let Some(t) = attr("data-target-ms") {
                s.target = Some(t.parse().expect("target"));
            }
            if let Some(v) = attr("data-score") {
                s.scores.push(v.parse().expect("score"));
            }
        }
        let in_main = stack.iter().any(|e| e == "main");
        if in_main && matches!(name.as_str(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
            heading = Some(String::new());
        }
        doc.elements.push(name.clone());
        if name == "style" {
            rest = &rest[rest.find("</style>").expect("style closed") + "</style>".len()..];
            continue;
        }
        if !self_closing && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    doc
}

fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag
        .split_once(char::is_whitespace)
        .map_or("", |(_, r)| r)
        .trim();
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start();
        let value = if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            let quote = r.chars().next().expect("value");
            assert!(quote == '"' || quote == '\'', "unquoted attribute {name}");
            let close = r[1..].find(quote).expect("quote closed") + 1;
            let v = r[1..close].to_owned();
            rest = r[close + 1..].trim_start();
            v
        } else {
            String::new()
        };
        out.push((name, value));
    }
    out
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}
