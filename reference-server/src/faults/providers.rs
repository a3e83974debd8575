//! `stale-provider` as a decorator around the provider trait: after a switch, an utterance is
//! still answered by the provider the session switched away from. The conversation labels
//! events and rows with the provider that answered ([`crate::providers::ProviderOutput`]), so
//! transcripts and insights name the old provider while REST state, history and the
//! `provider_switched` event stay right.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::providers::{
    ProviderError, ProviderHealth, ProviderName, ProviderOutput, Providers, VoiceProvider,
};
use crate::store::{Context, Store};

/// `providers` with each provider answering as the one its session switched away from.
pub fn stale(providers: &Providers, store: &Store) -> Providers {
    let previous = providers.clone();
    providers.wrapped(|inner| {
        Arc::new(StaleProvider {
            inner,
            previous: previous.clone(),
            store: store.clone(),
        })
    })
}

/// One provider that hands utterances to the previous provider of their session.
struct StaleProvider {
    inner: Arc<dyn VoiceProvider>,
    /// The undecorated registry, to find the previous provider in.
    previous: Providers,
    store: Store,
}

impl StaleProvider {
    async fn answering(&self, session_id: Uuid) -> Result<Arc<dyn VoiceProvider>, ProviderError> {
        let history = self
            .store
            .switch_history(session_id)
            .await
            .map_err(|e| ProviderError {
                provider: self.inner.name(),
                message: e.to_string(),
            })?;
        Ok(history
            .last()
            .and_then(|last| self.previous.get(&last.from_provider))
            .unwrap_or_else(|| self.inner.clone()))
    }
}

impl VoiceProvider for StaleProvider {
    fn name(&self) -> ProviderName {
        self.inner.name()
    }

    fn process_text<'a>(
        &'a self,
        session_id: Uuid,
        context: &'a Context,
        text: &'a str,
    ) -> BoxFuture<'a, Result<ProviderOutput, ProviderError>> {
        Box::pin(async move {
            let provider = self.answering(session_id).await?;
            provider.process_text(session_id, context, text).await
        })
    }

    fn health(&self) -> ProviderHealth {
        self.inner.health()
    }

    fn set_healthy(&self, healthy: bool) {
        self.inner.set_healthy(healthy);
    }
}
