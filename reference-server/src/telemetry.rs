//! Log setup for the binary: JSON lines or human-readable, filtered by `RUST_LOG`, written to
//! stdout by a background thread.
//!
//! Why a background writer: the server logs a line per request, and a synchronous write to
//! stdout is a system call (and a lock shared by every worker) on the request path, which cost
//! more than serving `GET /health` itself. Here the request path only formats its line and
//! hands it to a bounded queue; one thread drains the queue into a buffer and writes it out in
//! large chunks, flushing whenever the queue runs dry, so a quiet server's lines still appear
//! at once. When the writer falls behind by [`QUEUE_LINES`] lines, new lines are dropped rather
//! than slowing requests down, and the number dropped is logged as soon as there is room.
//! The [`LogGuard`] that [`init`] returns flushes everything still queued when it is dropped
//! (at the end of `main`).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::LogFormat;

/// Lines the queue holds before new ones are dropped (a few MB at most).
pub const QUEUE_LINES: usize = 16 * 1024;

/// Flushes the queued log lines when dropped; keep it alive for as long as the server runs.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    sender: Option<SyncSender<Vec<u8>>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // The subscriber keeps a sender too, so the writer cannot see the channel close:
        // an empty line asks it to stop once everything before it is written.
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Vec::new());
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Hands each formatted line to the writer thread; never blocks.
#[derive(Clone)]
struct QueueWriter {
    sender: SyncSender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

/// One line being formatted; sent when the formatter is done with it.
struct Line<'a> {
    queue: &'a QueueWriter,
    bytes: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if self.bytes.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.bytes);
        match self.queue.sender.try_send(bytes) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.queue.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The writer has stopped (the server is exiting): nothing left to write to.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            queue: self,
            bytes: Vec::with_capacity(256),
        }
    }
}

/// The writer thread: blocks for a line, then writes whatever else is queued before flushing.
fn drain(lines: Receiver<Vec<u8>>, dropped: Arc<AtomicU64>, json: bool, mut out: impl Write) {
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(line) = next.take() {
            if line.is_empty() {
                let _ = out.flush();
                return;
            }
            // A closed or full stdout cannot be reported anywhere; the line is lost.
            let _ = out.write_all(&line);
            next = lines.try_recv().ok();
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let message = format!("log writer fell behind; {lost} lines dropped");
            let _ = if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"level": "WARN", "message": message})
                )
            } else {
                writeln!(out, "WARN {message}")
            };
        }
        let _ = out.flush();
    }
}

/// Installs the global subscriber writing through a background thread. A second call installs
/// nothing (the first subscriber stays) and its guard has nothing to flush.
pub fn init(format: LogFormat) -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let json = format == LogFormat::Json;
    let (sender, lines) = sync_channel(QUEUE_LINES);
    let dropped = Arc::new(AtomicU64::new(0));
    let queue = QueueWriter {
        sender: sender.clone(),
        dropped: dropped.clone(),
    };
    let writer = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let out = std::io::BufWriter::new(std::io::stdout());
            drain(lines, dropped, json, out);
        })
        .ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(queue);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    LogGuard {
        sender: Some(sender),
        writer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_lines_are_written_in_order_and_flushed_on_stop() {
        let (sender, lines) = sync_channel(8);
        let dropped = Arc::new(AtomicU64::new(0));
        let queue = QueueWriter {
            sender: sender.clone(),
            dropped: dropped.clone(),
        };
        for text in ["one\n", "two\n"] {
            let mut line = queue.make_writer();
            line.write_all(text.as_bytes()).expect("write to memory");
        }
        sender.send(Vec::new()).expect("stop marker");
        let mut out = Vec::new();
        drain(lines, dropped, true, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "one\ntwo\n");
    }

    #[test]
    fn a_full_queue_drops_lines_and_says_how_many() {
        let (sender, lines) = sync_channel(1);
        let dropped = Arc::new(AtomicU64::new(0));
        let queue = QueueWriter {
            sender: sender.clone(),
            dropped: dropped.clone(),
        };
        for text in ["kept\n", "lost\n", "lost too\n"] {
            let mut line = queue.make_writer();
            line.write_all(text.as_bytes()).expect("write to memory");
        }
        assert_eq!(dropped.load(Ordering::Relaxed), 2);
        drop(queue);
        drop(sender);
        let mut out = Vec::new();
        drain(lines, dropped, true, &mut out);
        let written = String::from_utf8_lossy(&out);
        assert!(written.starts_with("kept\n"), "{written}");
        assert!(written.contains("2 lines dropped"), "{written}");
        assert!(!written.contains("lost"), "{written}");
    }
}
