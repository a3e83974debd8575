//! `results.json`: the report itself, pretty-printed.
//!
//! It is the versioned results schema that `--baseline` reads back, so it is the derived
//! `Serialize` of `AuditReport` and nothing else: no field is renamed or assembled by hand here.

use crate::model::AuditReport;

use super::ReportError;

pub fn render(report: &AuditReport) -> Result<String, ReportError> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fixture;
    use super::*;
    use serde_json::Value;

    #[test]
    fn json_round_trips_into_the_report() {
        for report in [
            fixture::all_pass(),
            fixture::mixed(),
            fixture::empty_metrics(),
        ] {
            let text = render(&report).unwrap();
            let back: AuditReport = serde_json::from_str(&text).unwrap();
            // Serialising again gives the same document, so no field was lost or changed.
            // (Floats are compared with a tolerance: serde_json parses them to the nearest
            // value only with its `float_roundtrip` feature.)
            assert_same(
                &serde_json::to_value(&report).unwrap(),
                &serde_json::to_value(&back).unwrap(),
                "$",
            );
            assert_eq!(back.score.total, report.score.total);
        }
    }

    fn assert_same(a: &Value, b: &Value, at: &str) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                assert_eq!(
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>(),
                    "{at}"
                );
                for (k, v) in x {
                    assert_same(v, &y[k], &format!("{at}.{k}"));
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{at}");
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    assert_same(v, w, &format!("{at}[{i}]"));
                }
            }
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{at}: {x} != {y}");
            }
            _ => assert_eq!(a, b, "{at}"),
        }
    }

    #[test]
    fn statuses_use_the_schema_spelling() {
        let text = render(&fixture::mixed()).unwrap();
        assert!(text.contains("\"status\": \"not_assessed\""));
        assert!(text.contains(&format!(
            "\"schema_version\": \"{}\"",
            crate::model::SCHEMA_VERSION
        )));
    }
}
