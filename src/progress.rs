//! Progress of a run on stderr: a redrawn status line at a terminal, plain lines elsewhere.
//!
//! An audit spends tens of seconds in a few long phases (the contract walk, the switch
//! scenario); a person at a terminal wants to see it move, a CI log wants one line per phase
//! and no control characters. A progress crate would be more than this needs: one line with a
//! spinner, the phase, a bar when the phase reports `n/m`, and the elapsed time, redrawn by a
//! small thread. `NO_COLOR` turns the colour off; the line itself stays.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::report::colour_enabled;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH: usize = 20;
const TICK: Duration = Duration::from_millis(120);

/// Where progress goes; build with [`Progress::new`], report with [`Progress::step`].
pub struct Progress {
    mode: Mode,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Quiet,
    Lines,
    Live { colour: bool },
}

struct State {
    started: Instant,
    phase: usize,
    message: String,
    frame: usize,
}

impl Progress {
    /// Live at a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        {
            Mode::Live {
                colour: colour_enabled(true),
            }
        } else {
            Mode::Lines
        };
        let state = Arc::new(Mutex::new(State {
            started: Instant::now(),
            phase: 0,
            message: String::new(),
            frame: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = match mode {
            Mode::Live { colour } => {
                let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
                // No thread, no animation: the line is still drawn at every step.
                std::thread::Builder::new()
                    .name("voice-audit-progress".into())
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(TICK);
                            if let Ok(mut s) = state.lock() {
                                s.frame += 1;
                                draw(&s, colour);
                            }
                        }
                    })
                    .ok()
            }
            _ => None,
        };
        Progress {
            mode,
            state,
            stop,
            ticker,
        }
    }

    /// A new phase, or news of the current one (`walk: 12/40 operations` draws a bar).
    pub fn step(&self, message: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("voice-audit: {message}…"),
            Mode::Live { colour } => {
                if let Ok(mut s) = self.state.lock() {
                    // `n/m` news belongs to the phase that announced it.
                    if fraction(message).is_none() {
                        s.phase += 1;
                    }
                    s.message = message.to_owned();
                    draw(&s, colour);
                }
            }
        }
    }

    /// Stops the redraw and clears the line, so the summary starts on a clean line.
    pub fn finish(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if matches!(self.mode, Mode::Live { .. }) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.ticker.is_some() {
            self.shutdown();
        }
    }
}

fn draw(s: &State, colour: bool) {
    let line = render_line(s, colour);
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{line}");
    let _ = err.flush();
}

fn render_line(s: &State, colour: bool) -> String {
    let spinner = SPINNER[s.frame % SPINNER.len()];
    let spinner = if colour {
        format!("\x1b[36m{spinner}\x1b[0m")
    } else {
        spinner.to_string()
    };
    let bar = fraction(&s.message)
        .map(|(n, m)| format!(" {}", bar(n, m)))
        .unwrap_or_default();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(100)
        .saturating_sub(BAR_WIDTH + 24)
        .max(20);
    let message: String = s.message.chars().take(width).collect();
    format!(
        "{spinner} [phase {}] {message}{bar} {:.1} s",
        s.phase,
        s.started.elapsed().as_secs_f64()
    )
}

/// `▕██████░░░░▏` for `n` of `m`.
fn bar(n: u64, m: u64) -> String {
    let filled = ((n.min(m) as f64 / m.max(1) as f64) * BAR_WIDTH as f64).round() as usize;
    format!("▕{}{}▏", "█".repeat(filled), "░".repeat(BAR_WIDTH - filled))
}

/// The first `n/m` (both numbers, `m > 0`) in a progress message.
fn fraction(message: &str) -> Option<(u64, u64)> {
    message.split_whitespace().find_map(|word| {
        let (n, m) = word
            .trim_matches(|c: char| !c.is_ascii_digit())
            .split_once('/')?;
        let (n, m) = (n.parse().ok()?, m.parse().ok()?);
        (m > 0).then_some((n, m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_read_from_messages() {
        assert_eq!(fraction("walk: 12/40 operations (1.2 s)"), Some((12, 40)));
        assert_eq!(fraction("signing in"), None);
        assert_eq!(fraction("a 3/0 split"), None);
        assert_eq!(
            bar(5, 10).chars().filter(|c| *c == '█').count(),
            BAR_WIDTH / 2
        );
        assert_eq!(bar(50, 10).chars().filter(|c| *c == '█').count(), BAR_WIDTH);
    }

    #[test]
    fn the_line_has_no_colour_without_colour() {
        let s = State {
            started: Instant::now(),
            phase: 3,
            message: "walk: 2/4 operations".into(),
            frame: 1,
        };
        let plain = render_line(&s, false);
        assert!(!plain.contains('\x1b'), "{plain:?}");
        assert!(
            plain.contains("[phase 3] walk: 2/4 operations ▕"),
            "{plain}"
        );
        assert!(render_line(&s, true).contains("\x1b[36m"));
    }
}
