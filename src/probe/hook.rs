//! Hooks: how the audit acts on the deployment's environment (restart it, take its cache down
//! and up). The probes only need "do it and tell me what happened", so a hook is a small trait
//! with two implementations: a shell command the operator gives (`--restart-cmd`, run with
//! `sh -c`, its output kept as evidence) and an in-process callback (the demo restarts its own
//! server). A hook that fails or hangs is reported with its reason; it never hangs the audit.

use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What running a hook produced: how long it took and what it printed (for evidence).
#[derive(Debug, Clone, Default)]
pub struct HookRun {
    pub took: Duration,
    pub output: String,
}

/// Why a hook did not do its job.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HookError {
    #[error("`{label}` could not be started: {reason}")]
    Spawn { label: String, reason: String },
    #[error("`{label}` exited with {status}: {output}")]
    Exit {
        label: String,
        status: String,
        output: String,
    },
    #[error("`{label}` did not finish within {secs} s (killed)")]
    Timeout { label: String, secs: u64 },
    #[error("{label}: {reason}")]
    Callback { label: String, reason: String },
}

/// An action on the deployment's environment.
pub trait Hook: Send + Sync {
    /// A printable name (the command line, or the in-process action).
    fn label(&self) -> String;
    /// Does it, within `limit`.
    fn run(&self, limit: Duration) -> BoxFuture<'_, Result<HookRun, HookError>>;
}

/// A shared hook, as the run configuration carries it.
pub type SharedHook = Arc<dyn Hook>;

/// `sh -c CMD`: stdout and stderr captured, a non-zero exit an error, killed at the limit.
#[derive(Debug, Clone)]
pub struct ShellHook {
    pub command: String,
}

impl ShellHook {
    pub fn shared(command: &str) -> SharedHook {
        Arc::new(ShellHook {
            command: command.to_string(),
        })
    }
}

/// Keeps the end of a long output: the cause of a failure is usually printed last.
fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

impl Hook for ShellHook {
    fn label(&self) -> String {
        self.command.clone()
    }

    fn run(&self, limit: Duration) -> BoxFuture<'_, Result<HookRun, HookError>> {
        Box::pin(async move {
            let label = self.label();
            let started = Instant::now();
            let child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&self.command)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| HookError::Spawn {
                    label: label.clone(),
                    reason: e.to_string(),
                })?;
            let out = match tokio::time::timeout(limit, child.wait_with_output()).await {
                Err(_) => {
                    return Err(HookError::Timeout {
                        label,
                        secs: limit.as_secs(),
                    });
                }
                Ok(Err(e)) => {
                    return Err(HookError::Spawn {
                        label,
                        reason: e.to_string(),
                    });
                }
                Ok(Ok(out)) => out,
            };
            let output = tail(
                &format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                2000,
            );
            if !out.status.success() {
                return Err(HookError::Exit {
                    label,
                    status: out.status.to_string(),
                    output,
                });
            }
            Ok(HookRun {
                took: started.elapsed(),
                output,
            })
        })
    }
}

/// The future an in-process hook returns; `Err` is its reason.
pub type CallbackFuture = BoxFuture<'static, Result<(), String>>;

/// An in-process action (the demo's restart and cache switch).
pub struct CallbackHook {
    label: String,
    action: Box<dyn Fn() -> CallbackFuture + Send + Sync>,
}

impl CallbackHook {
    pub fn shared(
        label: &str,
        action: impl Fn() -> CallbackFuture + Send + Sync + 'static,
    ) -> SharedHook {
        Arc::new(CallbackHook {
            label: label.to_string(),
            action: Box::new(action),
        })
    }
}

impl Hook for CallbackHook {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn run(&self, limit: Duration) -> BoxFuture<'_, Result<HookRun, HookError>> {
        Box::pin(async move {
            let started = Instant::now();
            match tokio::time::timeout(limit, (self.action)()).await {
                Err(_) => Err(HookError::Timeout {
                    label: self.label(),
                    secs: limit.as_secs(),
                }),
                Ok(Err(reason)) => Err(HookError::Callback {
                    label: self.label(),
                    reason,
                }),
                Ok(Ok(())) => Ok(HookRun {
                    took: started.elapsed(),
                    output: String::new(),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shell_hooks_report_output_exit_and_timeout() {
        let ok = ShellHook::shared("echo restarted")
            .run(Duration::from_secs(5))
            .await;
        assert_eq!(ok.map(|r| r.output).ok().as_deref(), Some("restarted"));
        let failed = ShellHook::shared("echo boom >&2; exit 3")
            .run(Duration::from_secs(5))
            .await;
        let text = failed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("boom") && text.contains('3'), "{text}");
        let slow = ShellHook::shared("sleep 5")
            .run(Duration::from_millis(200))
            .await;
        assert!(matches!(slow, Err(HookError::Timeout { .. })));
    }
}
