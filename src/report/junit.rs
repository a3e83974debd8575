//! `junit.xml`: one test case per check, so CI dashboards show the audit like a test run.
//!
//! Built in Rust rather than with a template because every piece of text (summaries, details,
//! reasons) comes from the target's answers and must be escaped, including characters XML 1.0
//! cannot carry at all. Categories become test suites; fail and partial are `<failure>`s, not
//! assessed is `<skipped>` with its reason.

use std::fmt::Write as _;

use crate::model::{AuditReport, CheckResult, Status};

use super::context::num;

pub fn render(report: &AuditReport) -> String {
    // Suites in the scorecard's order, then any category only the checks mention.
    let mut suites: Vec<(String, String)> = report
        .score
        .categories
        .iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    for c in &report.checks {
        if !suites.iter().any(|(id, _)| *id == c.category) {
            suites.push((c.category.clone(), c.category.clone()));
        }
    }

    let totals = Counts::of(report.checks.iter());
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        attr(&format!("{} {}", report.tool.name, report.audit_id)),
        totals.tests,
        totals.failures,
        totals.skipped,
        seconds(report.duration_ms),
        report.started_at.format("%Y-%m-%dT%H:%M:%S"),
    );
    for (id, title) in &suites {
        let checks: Vec<&CheckResult> =
            report.checks.iter().filter(|c| c.category == *id).collect();
        let counts = Counts::of(checks.iter().copied());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"0.000\">",
            attr(id),
            counts.tests,
            counts.failures,
            counts.skipped,
        );
        if let Some(score) = report.score.categories.iter().find(|c| c.id == *id) {
            out.push_str("    <properties>\n");
            property(&mut out, "title", title);
            property(
                &mut out,
                "score",
                &format!("{}/{}", num(score.score), num(score.max)),
            );
            property(&mut out, "template_max", &num(score.template_max));
            out.push_str("    </properties>\n");
        }
        for check in checks {
            testcase(&mut out, check);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn testcase(out: &mut String, c: &CheckResult) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0.000\"",
        attr(&c.category),
        attr(&format!("{}: {}", c.id, c.title)),
    );
    let measured = c
        .measured
        .as_ref()
        .map(|m| m.display.as_str())
        .unwrap_or("no measurement");
    match c.status {
        Status::Pass => {
            let _ = writeln!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                text(&format!(
                    "measured {measured} (target {}); {}/{} points",
                    c.target,
                    num(c.points_earned),
                    num(c.points_max)
                ))
            );
        }
        Status::Fail | Status::Partial => {
            let mut body = format!(
                "{}\nmeasured: {measured}\ntarget: {}\npoints: {}/{}\nseverity: {}",
                c.summary,
                c.target,
                num(c.points_earned),
                num(c.points_max),
                c.severity
            );
            for d in &c.details {
                body.push_str("\n- ");
                body.push_str(d);
            }
            if !c.evidence.is_empty() {
                body.push_str("\nevidence: ");
                body.push_str(&c.evidence.join(", "));
            }
            if !c.remediation.is_empty() {
                body.push_str("\nremediation: ");
                body.push_str(&c.remediation);
            }
            let kind = if c.status == Status::Fail {
                "fail"
            } else {
                "partial"
            };
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>",
                attr(&c.summary),
                text(&body)
            );
        }
        Status::NotAssessed => {
            let reason = c
                .not_assessed_reason
                .as_deref()
                .unwrap_or("the check did not run");
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                attr(&format!("not assessed: {reason}"))
            );
        }
    }
}

fn property(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "      <property name=\"{}\" value=\"{}\"/>",
        attr(name),
        attr(value)
    );
}

struct Counts {
    tests: usize,
    failures: usize,
    skipped: usize,
}

impl Counts {
    fn of<'a>(checks: impl Iterator<Item = &'a CheckResult>) -> Self {
        let mut counts = Counts {
            tests: 0,
            failures: 0,
            skipped: 0,
        };
        for c in checks {
            counts.tests += 1;
            match c.status {
                Status::Fail | Status::Partial => counts.failures += 1,
                Status::NotAssessed => counts.skipped += 1,
                Status::Pass => {}
            }
        }
        counts
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes element text.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value; line breaks become character references so they survive
/// attribute-value normalisation.
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' | '\r' => out.push(ch),
            // Not allowed in XML 1.0 at all, not even as a reference.
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// One element of a parsed document: name, attributes, text, children.
    #[derive(Debug, Default)]
    struct Element {
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
        children: Vec<Element>,
    }

    impl Element {
        fn attr(&self, name: &str) -> &str {
            self.attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("<{}> has no {name}", self.name))
        }
        fn all(&self, name: &str) -> Vec<&Element> {
            self.children.iter().filter(|c| c.name == name).collect()
        }
    }

    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let end = rest[i..].find(';').expect("unterminated entity") + i;
            let entity = &rest[i + 1..end];
            out.push(match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
                e => panic!("unknown entity &{e};"),
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// A strict parser for the subset of XML the renderer writes: panics on anything
    /// malformed (unbalanced tags, unquoted attributes, raw `<` or bad entities in text).
    fn parse(xml: &str) -> Element {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .expect("XML declaration");
        let mut stack = vec![Element::default()];
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(tag) = rest.strip_prefix('<') {
                let end = tag.find('>').expect("unterminated tag");
                let inner = &tag[..end];
                rest = &tag[end + 1..];
                if let Some(name) = inner.strip_prefix('/') {
                    let done = stack.pop().unwrap();
                    assert_eq!(done.name, name, "mismatched end tag");
                    stack.last_mut().unwrap().children.push(done);
                    continue;
                }
                let self_closing = inner.ends_with('/');
                let inner = inner.trim_end_matches('/');
                let (name, mut attrs_text) = inner.split_once(' ').unwrap_or((inner, ""));
                let mut el = Element {
                    name: name.to_owned(),
                    ..Element::default()
                };
                loop {
                    attrs_text = attrs_text.trim_start();
                    if attrs_text.is_empty() {
                        break;
                    }
                    let (key, after) = attrs_text.split_once("=\"").expect("attribute");
                    let close = after.find('"').expect("unterminated attribute");
                    let raw = &after[..close];
                    assert!(!raw.contains('<'), "raw < in attribute");
                    el.attrs.push((key.to_owned(), unescape(raw)));
                    attrs_text = &after[close + 1..];
                }
                if self_closing {
                    stack.last_mut().unwrap().children.push(el);
                } else {
                    stack.push(el);
                }
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let text = unescape(&rest[..end]);
                stack.last_mut().unwrap().text.push_str(&text);
                rest = &rest[end..];
            }
        }
        assert_eq!(stack.len(), 1, "unclosed elements");
        let mut doc = stack.pop().unwrap();
        assert_eq!(doc.children.len(), 1, "one root element");
        doc.children.pop().unwrap()
    }

    #[test]
    fn junit_is_well_formed_with_correct_counts() {
        for report in [
            fixture::all_pass(),
            fixture::mixed(),
            fixture::empty_metrics(),
        ] {
            let root = parse(&render(&report));
            assert_eq!(root.name, "testsuites");
            let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
            let failures = count(Status::Fail) + count(Status::Partial);
            let skipped = count(Status::NotAssessed);
            assert_eq!(root.attr("tests"), report.checks.len().to_string());
            assert_eq!(root.attr("failures"), failures.to_string());
            assert_eq!(root.attr("skipped"), skipped.to_string());
            assert_eq!(root.attr("time"), "42.350");

            let suites = root.all("testsuite");
            assert_eq!(suites.len(), report.score.categories.len());
            let mut cases = 0;
            for suite in suites {
                let tcs = suite.all("testcase");
                assert_eq!(suite.attr("tests"), tcs.len().to_string());
                let f = tcs.iter().filter(|t| !t.all("failure").is_empty()).count();
                let s = tcs.iter().filter(|t| !t.all("skipped").is_empty()).count();
                assert_eq!(suite.attr("failures"), f.to_string());
                assert_eq!(suite.attr("skipped"), s.to_string());
                for tc in tcs {
                    assert_eq!(tc.attr("classname"), suite.attr("name"));
                    let check = report
                        .checks
                        .iter()
                        .find(|c| tc.attr("name") == format!("{}: {}", c.id, c.title))
                        .unwrap();
                    assert_eq!(check.category, suite.attr("name"));
                    cases += 1;
                }
            }
            assert_eq!(cases, report.checks.len());
        }
    }

    #[test]
    fn failures_carry_summary_and_details_and_skips_their_reason() {
        let report = fixture::mixed();
        let root = parse(&render(&report));
        let case = |id: &str| {
            root.all("testsuite")
                .into_iter()
                .flat_map(|s| s.all("testcase"))
                .find(|t| t.attr("name").starts_with(&format!("{id}: ")))
                .unwrap()
        };
        let failure = &case("auth.revocation_rest").all("failure")[0];
        assert_eq!(failure.attr("type"), "fail");
        assert_eq!(
            failure.attr("message"),
            "A revoked token was still accepted for 6.2 s."
        );
        assert!(
            failure
                .text
                .contains("answered 200 <after> revocation & logout")
        );
        let partial = &case("contract.response_schema").all("failure")[0];
        assert_eq!(partial.attr("type"), "partial");
        assert!(partial.text.contains("missing content type\nsecond line"));
        let skipped = &case("ws.throughput").all("skipped")[0];
        assert_eq!(
            skipped.attr("message"),
            "not assessed: The throughput burst was skipped in a read-only run."
        );
    }

    #[test]
    fn text_xml_cannot_carry_is_replaced() {
        assert_eq!(
            attr("a\u{1}b\n\"<&'"),
            "a\u{FFFD}b&#10;&quot;&lt;&amp;&apos;"
        );
        assert_eq!(text("x\ty\n<z>"), "x\ty\n&lt;z&gt;");
    }

    #[test]
    fn snapshot_of_the_mixed_report() {
        insta::assert_snapshot!("junit_xml_mixed", render(&fixture::mixed()));
    }
}
