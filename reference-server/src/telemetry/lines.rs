//! The log line format: one JSON object per line (or one human-readable line), carrying the
//! correlation id and path of the request being served.
//!
//! Why not tracing-subscriber's own JSON format with a request span: a span per request cost
//! more than the rest of `GET /health` (a slab slot, its fields formatted to a JSON string at
//! creation and parsed back on every event, and the span repeated in each line). The request's
//! identity already lives in a task-local ([`crate::request_context`]) for problem documents,
//! so this formatter reads it from there: any line logged while a request is served names it,
//! without a span. The access line itself is logged after the request (outside the task-local)
//! and passes the same fields explicitly. The date part of the timestamp is formatted once a
//! second per thread.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::request_context;

/// JSON lines (`json`) or human-readable lines.
#[derive(Debug, Clone, Copy)]
pub struct Lines {
    /// One JSON object per line.
    pub json: bool,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            if self.json {
                json_line(&mut line, event);
            } else {
                human_line(&mut line, event);
            }
            writer.write_str(&line)
        })
    }
}

thread_local! {
    /// The line being built (reused: no allocation per line once warm).
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
    /// The second last formatted and its `YYYY-MM-DDTHH:MM:SS`.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-12-01T06:08:42.162746Z`.
fn timestamp(out: &mut String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        if date.0 != secs {
            let text = i64::try_from(secs)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default();
            *date = (secs, text);
        }
        out.push_str(&date.1);
    });
    let _ = write!(out, ".{:06}Z", now.subsec_micros());
}

fn json_line(out: &mut String, event: &Event<'_>) {
    let meta = event.metadata();
    out.push_str("{\"timestamp\":\"");
    timestamp(out);
    out.push_str("\",\"level\":\"");
    out.push_str(meta.level().as_str());
    out.push_str("\",\"target\":");
    escaped(out, meta.target());
    let mut fields = JsonFields {
        out,
        correlation_id: false,
    };
    event.record(&mut fields);
    let has_id = fields.correlation_id;
    if !has_id {
        request_context::with_current(|ctx| {
            out.push_str(",\"correlation_id\":");
            escaped(out, &ctx.correlation_id);
            out.push_str(",\"path\":");
            escaped(out, &ctx.path);
        });
    }
    out.push_str("}\n");
}

fn human_line(out: &mut String, event: &Event<'_>) {
    let meta = event.metadata();
    timestamp(out);
    let _ = write!(out, " {:>5} {}:", meta.level().as_str(), meta.target());
    let mut fields = HumanFields { out };
    event.record(&mut fields);
    request_context::with_current(|ctx| {
        let _ = write!(
            out,
            " correlation_id={} path={}",
            ctx.correlation_id, ctx.path
        );
    });
    out.push('\n');
}

/// Writes each field as `,"name":value`.
struct JsonFields<'a> {
    out: &'a mut String,
    correlation_id: bool,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        if field.name() == "correlation_id" {
            self.correlation_id = true;
        }
        self.out.push(',');
        escaped(self.out, field.name());
        self.out.push(':');
    }
}

impl Visit for JsonFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            self.out.push_str("null");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        escaped(self.out, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        // `message` arrives as format arguments; anything else as its Debug text.
        self.out.push('"');
        let _ = write!(Escaping(self.out), "{value:?}");
        self.out.push('"');
    }
}

/// Writes the message, then each other field as ` name=value`.
struct HumanFields<'a> {
    out: &'a mut String,
}

impl Visit for HumanFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.out, " {value}");
        } else {
            let _ = write!(self.out, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.out, " {value:?}");
        } else {
            let _ = write!(self.out, " {}={value:?}", field.name());
        }
    }
}

/// Bytes that must be escaped inside a JSON string: controls, `"` and `\\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// `value` as a JSON string, quotes included.
fn escaped(out: &mut String, value: &str) {
    out.push('"');
    escape_into(out, value);
    out.push('"');
}

/// Appends `value` escaped for a JSON string. Scans bytes: every byte of a multi-byte UTF-8
/// character is >= 0x80, so only ASCII quotes, backslashes and controls need escaping, and the
/// runs between them are copied whole.
fn escape_into(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[usize::from(b)] {
            continue;
        }
        // `i` is an ASCII byte's index: a character boundary on both sides.
        out.push_str(&value[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
}

/// Formats straight into the line, escaped (no string of its own per value).
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json() {
        let mut out = String::new();
        escaped(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&out).expect("valid JSON string");
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    /// Formats what `log` logs with [`Lines`] and returns the text.
    fn capture(json: bool, log: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if let Ok(mut bytes) = self.0.lock() {
                    bytes.extend_from_slice(buf);
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = Capture(bytes.clone());
        let subscriber = tracing_subscriber::fmt()
            .event_format(Lines { json })
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = bytes.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&text).into_owned()
    }

    #[test]
    fn a_line_logged_while_serving_a_request_names_it() {
        let context = request_context::RequestContext {
            correlation_id: "abc-123".into(),
            path: "/api/v1/sessions".into(),
        };
        let text = capture(true, || {
            request_context::sync_scope(context, || {
                tracing::warn!(
                    attempts = 3_u64,
                    ok = false,
                    detail = "a \"quoted\" word",
                    "retrying"
                );
            });
            tracing::info!(ratio = 0.5, "outside any request");
        });
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["message"], "retrying");
        assert_eq!(lines[0]["attempts"], 3);
        assert_eq!(lines[0]["ok"], false);
        assert_eq!(lines[0]["detail"], "a \"quoted\" word");
        assert_eq!(lines[0]["correlation_id"], "abc-123");
        assert_eq!(lines[0]["path"], "/api/v1/sessions");
        assert_eq!(lines[1]["ratio"], 0.5);
        assert!(lines[1].get("correlation_id").is_none(), "{text}");
        assert!(
            lines[1]["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
    }

    #[test]
    fn an_explicit_correlation_id_is_not_written_twice() {
        let context = request_context::RequestContext {
            correlation_id: "from-context".into(),
            path: "/health".into(),
        };
        let text = capture(true, || {
            request_context::sync_scope(context, || {
                tracing::info!(correlation_id = "explicit", "request served");
            });
        });
        assert_eq!(text.matches("correlation_id").count(), 1, "{text}");
        assert!(text.contains("\"explicit\""), "{text}");
    }

    #[test]
    fn human_lines_carry_the_message_fields_and_request() {
        let context = request_context::RequestContext {
            correlation_id: "abc-123".into(),
            path: "/health".into(),
        };
        let text = capture(false, || {
            request_context::sync_scope(context, || tracing::info!(status = 200_u64, "served"));
        });
        assert!(text.contains(" INFO "), "{text}");
        assert!(
            text.contains(" served status=200 correlation_id=abc-123 path=/health"),
            "{text}"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc_with_microseconds() {
        let mut out = String::new();
        timestamp(&mut out);
        assert_eq!(out.len(), "2026-12-01T06:08:42.162746Z".len(), "{out}");
        assert!(chrono::DateTime::parse_from_rfc3339(&out).is_ok(), "{out}");
    }
}
