//! The AI providers (`gemini`, `openai`, `deepgram`), simulated in-process behind one trait.
//!
//! Output is derived deterministically from the input text so that tests and auditors can
//! predict it; latency, error rate and health are configurable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use rand::Rng;
use uuid::Uuid;

pub use crate::domain::ProviderName;
use crate::settings::{ProviderConfig, ProviderSettings};
use crate::store::Context;

/// What a provider made of one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderOutput {
    /// The provider that answered (events and stored rows are labelled with it).
    pub provider: ProviderName,
    /// The recognised text.
    pub transcript: String,
    /// `customer` or `agent`.
    pub speaker: String,
    /// `sentiment`, `intent` or `suggestion`.
    pub insight_type: String,
    /// The insight, e.g. `positive`.
    pub insight: String,
    /// In [0, 1].
    pub confidence: f64,
}

/// A provider failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("provider {provider} failed: {message}")]
pub struct ProviderError {
    /// The provider.
    pub provider: ProviderName,
    /// What happened.
    pub message: String,
}

/// Health of a provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProviderHealth {
    /// Usable at all.
    pub healthy: bool,
    /// Higher is better, in [0, 1].
    pub score: f64,
}

/// One AI provider.
pub trait VoiceProvider: Send + Sync {
    /// Which provider this is.
    fn name(&self) -> ProviderName;
    /// Processes one utterance of `session_id` in the conversation context.
    fn process_text<'a>(
        &'a self,
        session_id: Uuid,
        context: &'a Context,
        text: &'a str,
    ) -> BoxFuture<'a, Result<ProviderOutput, ProviderError>>;
    /// Current health.
    fn health(&self) -> ProviderHealth;
    /// Marks the provider healthy or not (simulation control).
    fn set_healthy(&self, healthy: bool);
}

const POSITIVE: [&str; 10] = [
    "good",
    "great",
    "thanks",
    "thank",
    "happy",
    "love",
    "excellent",
    "perfect",
    "awesome",
    "nice",
];
const NEGATIVE: [&str; 10] = [
    "bad", "terrible", "angry", "hate", "awful", "broken", "refund", "cancel", "problem", "worst",
];

/// Sentiment of a text from a small word list, with a confidence in [0, 1].
pub fn sentiment(text: &str) -> (&'static str, f64) {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let pos = words
        .iter()
        .filter(|w| POSITIVE.contains(&w.as_str()))
        .count();
    let neg = words
        .iter()
        .filter(|w| NEGATIVE.contains(&w.as_str()))
        .count();
    let hits = (pos + neg) as f64;
    if pos > neg {
        ("positive", (0.6 + 0.1 * hits).min(0.99))
    } else if neg > pos {
        ("negative", (0.6 + 0.1 * hits).min(0.99))
    } else {
        ("neutral", 0.5)
    }
}

/// A simulated provider.
#[derive(Debug)]
pub struct SimulatedProvider {
    name: ProviderName,
    config: ProviderConfig,
    healthy: AtomicBool,
}

impl SimulatedProvider {
    /// A provider named `name` behaving as `config` says.
    pub fn new(name: ProviderName, config: ProviderConfig) -> Self {
        SimulatedProvider {
            name,
            config,
            healthy: AtomicBool::new(config.healthy),
        }
    }
}

impl VoiceProvider for SimulatedProvider {
    fn name(&self) -> ProviderName {
        self.name.clone()
    }

    fn process_text<'a>(
        &'a self,
        _session_id: Uuid,
        _context: &'a Context,
        text: &'a str,
    ) -> BoxFuture<'a, Result<ProviderOutput, ProviderError>> {
        Box::pin(async move {
            if self.config.latency > Duration::ZERO {
                tokio::time::sleep(self.config.latency).await;
            }
            let error_rate = self.config.error_rate.clamp(0.0, 1.0);
            if error_rate > 0.0 && rand::thread_rng().gen_bool(error_rate) {
                return Err(ProviderError {
                    provider: self.name(),
                    message: "simulated failure".into(),
                });
            }
            let (label, confidence) = sentiment(text);
            Ok(ProviderOutput {
                provider: self.name(),
                transcript: text.trim().to_owned(),
                speaker: "customer".into(),
                insight_type: "sentiment".into(),
                insight: label.into(),
                confidence,
            })
        })
    }

    fn health(&self) -> ProviderHealth {
        let healthy = self.healthy.load(Ordering::Relaxed);
        let latency_penalty = (self.config.latency.as_secs_f64() / 10.0).min(0.5);
        let score = if healthy {
            (1.0 - self.config.error_rate.clamp(0.0, 1.0) - latency_penalty).max(0.0)
        } else {
            0.0
        };
        ProviderHealth { healthy, score }
    }

    fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }
}

/// The registry of providers; a clone (one per request, with the state) is one reference
/// count, not a new vector.
#[derive(Clone)]
pub struct Providers {
    all: Arc<[Arc<dyn VoiceProvider>]>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.all.iter().map(|p| p.name()))
            .finish()
    }
}

impl Providers {
    /// The three simulated providers.
    pub fn simulated(settings: &ProviderSettings) -> Providers {
        Providers {
            all: Arc::new([
                Arc::new(SimulatedProvider::new(
                    ProviderName::Gemini,
                    settings.gemini,
                )) as Arc<dyn VoiceProvider>,
                Arc::new(SimulatedProvider::new(
                    ProviderName::OpenAi,
                    settings.openai,
                )),
                Arc::new(SimulatedProvider::new(
                    ProviderName::Deepgram,
                    settings.deepgram,
                )),
            ]),
        }
    }

    /// The same registry with every provider wrapped by `wrap` (a decorator such as a fault).
    pub fn wrapped(
        &self,
        mut wrap: impl FnMut(Arc<dyn VoiceProvider>) -> Arc<dyn VoiceProvider>,
    ) -> Providers {
        Providers {
            all: self.all.iter().cloned().map(&mut wrap).collect(),
        }
    }

    /// The provider called `name`.
    pub fn get(&self, name: &ProviderName) -> Option<Arc<dyn VoiceProvider>> {
        self.all.iter().find(|p| p.name() == *name).cloned()
    }

    /// The healthiest healthy provider other than `current` (ties: preference order).
    pub fn healthiest_other(&self, current: &ProviderName) -> Option<Arc<dyn VoiceProvider>> {
        let mut best: Option<(f64, Arc<dyn VoiceProvider>)> = None;
        for provider in self.all.iter() {
            let health = provider.health();
            if provider.name() == *current || !health.healthy {
                continue;
            }
            if best.as_ref().is_none_or(|(score, _)| health.score > *score) {
                best = Some((health.score, provider.clone()));
            }
        }
        best.map(|(_, p)| p)
    }
}
