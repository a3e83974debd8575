//! Strings that match a schema's `pattern`, for valid requests.
//!
//! Why: a backend that constrains a field with a pattern (an E.164 phone number, an id format)
//! rejects the walk's generic `audit-…` string, and the audit would then blame the backend for
//! refusing a request that was never valid. So a string for a patterned schema is built from
//! the pattern itself: the regex is parsed (`regex-syntax`), and the smallest match is written
//! out by walking it — literals as they are, a class as one member of it (a letter or digit
//! when it has one), a repetition at its minimum (at least once), the first branch of an
//! alternation. The result is checked with the `regex` crate (JSON Schema patterns are not
//! anchored: a string containing a match is valid). When the pattern cannot be parsed or the
//! walk finds no match (lookarounds, for instance), `None`: the caller falls back to the
//! schema's example or its generic string.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Longest string this builds; past it a pattern is considered unsatisfiable here.
const MAX_LEN: usize = 4096;

/// A string matching `pattern`, within `max_len` characters when given.
pub fn matching(pattern: &str, max_len: Option<usize>) -> Option<String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let mut out = String::new();
    write(&hir, &mut out)?;
    let fits = max_len.is_none_or(|max| out.chars().count() <= max);
    let re = regex::Regex::new(pattern).ok()?;
    (fits && re.is_match(&out)).then_some(out)
}

fn write(hir: &Hir, out: &mut String) -> Option<()> {
    if out.len() > MAX_LEN {
        return None;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(()),
        HirKind::Literal(lit) => {
            out.push_str(std::str::from_utf8(&lit.0).ok()?);
            Some(())
        }
        HirKind::Class(class) => {
            out.push(member(class)?);
            Some(())
        }
        HirKind::Repetition(rep) => {
            // At least once, so optional parts show up; never past the maximum.
            let times = rep.min.max(1).min(rep.max.unwrap_or(u32::MAX));
            for _ in 0..times {
                write(&rep.sub, out)?;
            }
            Some(())
        }
        HirKind::Capture(cap) => write(&cap.sub, out),
        HirKind::Concat(parts) => parts.iter().try_for_each(|p| write(p, out)),
        HirKind::Alternation(branches) => write(branches.first()?, out),
    }
}

/// One member of the class: a lower-case letter, a digit or an upper-case letter when the
/// class has one (readable, and safe in paths and JSON), else its first member.
fn member(class: &Class) -> Option<char> {
    match class {
        Class::Unicode(set) => {
            let ranges = set.ranges();
            for wanted in ['a', '1', 'A'] {
                if ranges
                    .iter()
                    .any(|r| r.start() <= wanted && wanted <= r.end())
                {
                    return Some(wanted);
                }
            }
            ranges.first().map(|r| r.start())
        }
        Class::Bytes(set) => {
            let first = set.ranges().first()?.start();
            first.is_ascii().then_some(char::from(first))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_patterns_get_a_matching_string() {
        for pattern in [
            r"^\+[1-9][0-9]{1,14}$",
            r"^[A-Z]{2}-\d{4}$",
            r"^(CA|PA)[0-9a-f]{32}$",
            r"^[a-z0-9_-]{3,16}$",
            r"^\d+(\.\d{1,2})?$",
            r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
            "call",
        ] {
            let s = matching(pattern, None);
            let re = regex::Regex::new(pattern).expect("test pattern");
            assert!(
                s.as_deref().is_some_and(|s| re.is_match(s)),
                "{pattern}: {s:?}"
            );
        }
        assert_eq!(
            matching(r"^\+[1-9][0-9]{1,14}$", None).as_deref(),
            Some("+11")
        );
    }

    #[test]
    fn a_pattern_that_cannot_be_met_within_bounds_or_parsed_gives_none() {
        assert_eq!(matching(r"^[0-9]{10}$", Some(5)), None);
        assert_eq!(matching(r"(unclosed", None), None);
        assert_eq!(matching(r"^a{5000}$", None), None);
    }
}
