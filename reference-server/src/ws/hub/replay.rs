//! Reading back what a hub published: `resume` from the buffer when it holds every event asked
//! for, otherwise from the durable event log, which also fills a socket's `seq` gaps.

use std::sync::Arc;

use super::{HubEvent, Inner, ReplayError, SessionHub};

/// Events read from the store per query when `resume` or a gap fill falls back to it.
const REPLAY_PAGE: u32 = 500;

/// The most events one `resume` replays from the store; beyond, `resume_unavailable`.
const MAX_STORED_REPLAY: usize = 50_000;

impl SessionHub {
    /// The buffered events with `seq > last_seq` when they are exactly `last_seq + 1 ..=
    /// last` without a hole, else `None` (the store must answer).
    fn replay_from_buffer(inner: &Inner, last_seq: u64) -> Option<Vec<Arc<HubEvent>>> {
        let events: Vec<_> = inner
            .buffer
            .iter()
            .filter(|e| e.seq > last_seq)
            .cloned()
            .collect();
        let mut expected = last_seq;
        for event in &events {
            if event.seq != expected + 1 && !(event.reused && event.seq == expected) {
                return None;
            }
            expected = event.seq;
        }
        (expected == inner.last_seq).then_some(events)
    }

    /// Events with `seq > last_seq`, in order: from the buffer when it holds all of them,
    /// otherwise from the store.
    pub async fn replay_after_seq(&self, last_seq: u64) -> Result<Vec<Arc<HubEvent>>, ReplayError> {
        self.load().await?;
        if last_seq > self.lock().last_seq {
            // Perhaps published by another instance whose bus message has not arrived.
            self.catch_up_with_store().await?;
        }
        {
            let inner = self.lock();
            if last_seq > inner.last_seq {
                return Err(ReplayError::Unknown(last_seq));
            }
            if let Some(events) = Self::replay_from_buffer(&inner, last_seq) {
                return Ok(events);
            }
        }
        self.stored_between(last_seq, None).await
    }

    /// Stored events with `after < seq < before` (no upper bound when `before` is `None`).
    pub async fn stored_between(
        &self,
        after: u64,
        before: Option<u64>,
    ) -> Result<Vec<Arc<HubEvent>>, ReplayError> {
        let mut events = Vec::new();
        let mut from = after;
        loop {
            let page = self
                .store
                .events_after(self.session_id, from, REPLAY_PAGE)
                .await?;
            let last_page = page.len() < REPLAY_PAGE as usize;
            for stored in page {
                if before.is_some_and(|b| stored.seq >= b) {
                    return Ok(events);
                }
                from = stored.seq;
                events.push(Arc::new(HubEvent {
                    seq: stored.seq,
                    text: stored.frame,
                    reused: false,
                }));
                if events.len() > MAX_STORED_REPLAY {
                    return Err(ReplayError::TooMany);
                }
            }
            if last_page {
                return Ok(events);
            }
        }
    }
}
