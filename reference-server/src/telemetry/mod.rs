//! Log setup for the binary: JSON lines or human-readable, filtered by `RUST_LOG`, written to
//! stdout by a background thread.
//!
//! Why a background writer, and why not a channel: the server logs a line per request. A
//! synchronous write to stdout is a system call (and a lock shared by every worker) on the
//! request path, which cost more than serving `GET /health` itself. A channel to a writer
//! thread moved the write off the request path but not the system calls: every line woke the
//! sleeping writer (a futex wake on the worker, a context switch on the writer), and the
//! profile of `GET /health` under wrk showed a quarter of the CPU in those wake-ups. So the
//! request path only formats its line and appends it to a shared buffer under a short lock;
//! the writer wakes on its own every [`FLUSH_EVERY`] (or at once when the buffer passes
//! [`WAKE_BYTES`]), swaps the buffer for an empty one and writes it out in one go. A line
//! therefore reaches stdout at most [`FLUSH_EVERY`] after it was logged. When the writer falls
//! behind by [`MAX_BYTES`], new lines are dropped rather than slowing requests down, and the
//! number dropped is logged with the next write. The [`LogGuard`] that [`init`] returns
//! writes everything still buffered when it is dropped (at the end of `main`).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::LogFormat;

mod lines;

pub use lines::Lines;

/// How long a logged line may wait in the buffer before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this full wakes the writer before its next tick.
pub const WAKE_BYTES: usize = 256 * 1024;
/// A buffer this full drops new lines (the writer is stuck on a full or slow stdout).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Flushes the buffered log lines when dropped; keep it alive for as long as the server runs.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    shared: Option<Arc<Shared>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.stop();
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// What the request path and the writer share.
#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// Lines not yet written.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    dropped: u64,
    stopping: bool,
}

impl Shared {
    /// Appends one whole line; never blocks on I/O.
    fn push(&self, line: &[u8]) {
        // A poisoned lock means a thread panicked while appending: the buffer itself is bytes
        // and still usable.
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.bytes.len() + line.len() > MAX_BYTES {
            pending.dropped += 1;
            return;
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(line);
        // Wake the writer once, as the buffer crosses the mark, not on every later line.
        let crossed = before < WAKE_BYTES && pending.bytes.len() >= WAKE_BYTES;
        drop(pending);
        if crossed {
            self.wake.notify_one();
        }
    }

    /// Asks the writer to write what is left and return.
    fn stop(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stopping = true;
        self.wake.notify_one();
    }
}

/// Hands each formatted line to the shared buffer.
#[derive(Clone)]
struct BufferWriter {
    shared: Arc<Shared>,
}

/// One line being formatted; appended when the formatter is done with it.
struct Line<'a> {
    shared: &'a Shared,
    bytes: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A whole line in one write (what `lines::Lines` does) goes straight to the buffer,
        // without a copy of its own.
        if self.bytes.is_empty() && buf.ends_with(b"\n") {
            self.shared.push(buf);
        } else {
            self.bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.shared.push(&self.bytes);
        }
    }
}

impl<'a> MakeWriter<'a> for BufferWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: &self.shared,
            bytes: Vec::new(),
        }
    }
}

/// The writer thread: every tick (or when woken), takes the whole buffer and writes it.
fn drain(shared: &Shared, json: bool, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let (stopping, dropped) = {
            let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.bytes.is_empty() && !pending.stopping {
                pending = shared
                    .wake
                    .wait_timeout(pending, FLUSH_EVERY)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            std::mem::swap(&mut pending.bytes, &mut spare);
            (pending.stopping, std::mem::take(&mut pending.dropped))
        };
        // A closed or full stdout cannot be reported anywhere; the lines are lost.
        let _ = out.write_all(&spare);
        if dropped > 0 {
            let message = format!("log writer fell behind; {dropped} lines dropped");
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
        // Keep the allocation for the next swap, unless a burst made it huge.
        spare.clear();
        if spare.capacity() > 4 * WAKE_BYTES {
            spare = Vec::new();
        }
        if stopping {
            return;
        }
    }
}

/// Installs the global subscriber writing through a background thread. A second call installs
/// nothing (the first subscriber stays) and its guard has nothing to flush.
pub fn init(format: LogFormat) -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = format == LogFormat::Json;
    let shared = Arc::new(Shared::default());
    let writer = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
                drain(&shared, json, out);
            })
            .ok()
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(Lines { json })
        .with_writer(BufferWriter {
            shared: shared.clone(),
        })
        .try_init();
    LogGuard {
        shared: Some(shared),
        writer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(writer: &BufferWriter, text: &str) {
        let mut line = writer.make_writer();
        line.write_all(text.as_bytes()).expect("write to memory");
    }

    #[test]
    fn buffered_lines_are_written_in_order_and_flushed_on_stop() {
        let writer = BufferWriter {
            shared: Arc::new(Shared::default()),
        };
        log(&writer, "one\n");
        log(&writer, "two\n");
        writer.shared.stop();
        let mut out = Vec::new();
        drain(&writer.shared, true, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "one\ntwo\n");
    }

    #[test]
    fn a_full_buffer_drops_lines_and_says_how_many() {
        let writer = BufferWriter {
            shared: Arc::new(Shared::default()),
        };
        let big = "k".repeat(MAX_BYTES - 10) + "\n";
        log(&writer, &big);
        log(&writer, "lost: does not fit\n");
        log(&writer, "lost too: does not fit either\n");
        log(&writer, "fits\n");
        writer.shared.stop();
        let mut out = Vec::new();
        drain(&writer.shared, true, &mut out);
        let written = String::from_utf8_lossy(&out);
        assert!(written.starts_with("kkk"), "the first line is kept");
        assert!(written.contains("fits\n"), "a line that fits is kept");
        assert!(
            written.contains("2 lines dropped"),
            "{}",
            &written[written.len() - 100..]
        );
        assert!(!written.contains("lost"), "dropped lines are not written");
    }

    #[test]
    fn a_quiet_writer_still_writes_within_its_tick() {
        let shared = Arc::new(Shared::default());
        let writer = BufferWriter {
            shared: shared.clone(),
        };
        let (sender, written) = std::sync::mpsc::channel();
        struct Forward(std::sync::mpsc::Sender<Vec<u8>>);
        impl Write for Forward {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if !buf.is_empty() {
                    let _ = self.0.send(buf.to_vec());
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let thread = {
            let shared = shared.clone();
            std::thread::spawn(move || drain(&shared, true, Forward(sender)))
        };
        log(&writer, "alone\n");
        // Nothing wakes the writer for one small line: it must find it on its own tick.
        let got = written.recv_timeout(Duration::from_secs(10));
        shared.stop();
        let _ = thread.join();
        assert_eq!(got.ok().as_deref(), Some(&b"alone\n"[..]));
    }
}
