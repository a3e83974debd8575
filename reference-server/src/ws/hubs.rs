//! Every session hub of this instance, and the instance's inbox on the event bus: events of
//! other instances go to the hub of their session (only when it exists here — an instance
//! keeps no state for sessions none of its sockets watch), revocations to the local sockets.
//!
//! Hubs are evicted when idle: a hub holds a replay window of events in memory, and a server
//! that kept one for every session it ever served would grow without bound. Nothing is lost by
//! evicting one: every event is in the store and a new hub starts from the last stored seq.
//! A hub is only evicted while nothing but the map holds it (no socket, no request in flight)
//! and nothing has used it for [`IDLE_AFTER`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use uuid::Uuid;

use super::hub::SessionHub;
use crate::auth::{Revocation, Revocations};
use crate::bus::{BusMessage, EventBus, Inbox};
use crate::store::Store;

/// Every session hub, created on first use.
#[derive(Clone)]
pub struct Hubs {
    capacity: usize,
    store: Store,
    bus: Arc<dyn EventBus>,
    all: Arc<Mutex<HashMap<Uuid, Entry>>>,
}

/// How long a hub nobody holds stays before it is evicted.
pub const IDLE_AFTER: Duration = Duration::from_secs(60);

/// A hub and when it was last handed out.
struct Entry {
    hub: Arc<SessionHub>,
    used: Instant,
}

impl std::fmt::Debug for Hubs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hubs")
            .field("capacity", &self.capacity)
            .field("bus", &self.bus.kind())
            .finish_non_exhaustive()
    }
}

impl Hubs {
    /// Hubs keeping `capacity` events each in memory, every event also in `store`, every
    /// publication also on `bus`.
    pub fn new(capacity: usize, store: Store, bus: Arc<dyn EventBus>) -> Hubs {
        Hubs {
            capacity,
            store,
            bus,
            all: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The hub of a session.
    pub fn get(&self, session_id: Uuid) -> Arc<SessionHub> {
        let now = Instant::now();
        let mut map = self.map();
        let entry = map.entry(session_id).or_insert_with(|| Entry {
            hub: Arc::new(SessionHub::new(
                session_id,
                self.capacity,
                self.store.clone(),
                self.bus.clone(),
            )),
            used: now,
        });
        entry.used = now;
        entry.hub.clone()
    }

    /// The hub of a session, if this instance has one.
    pub fn existing(&self, session_id: Uuid) -> Option<Arc<SessionHub>> {
        let mut map = self.map();
        let entry = map.get_mut(&session_id)?;
        entry.used = Instant::now();
        Some(entry.hub.clone())
    }

    fn watched(&self) -> Vec<Arc<SessionHub>> {
        self.map()
            .values()
            .filter(|entry| entry.hub.has_subscribers())
            .map(|entry| entry.hub.clone())
            .collect()
    }

    /// Hubs in memory.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// No hub in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evicts the hubs that nothing but the map holds and that were not used for `idle`;
    /// returns how many. Under the map's lock nobody can take a new reference, so a hub
    /// counted as unheld here cannot be in use.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, entry| {
            Arc::strong_count(&entry.hub) > 1
                || entry.hub.has_subscribers()
                || now.duration_since(entry.used) < idle
        });
        before - map.len()
    }

    /// Evicts idle hubs every [`IDLE_AFTER`] until `shutdown` turns true.
    pub fn spawn_sweeper(&self, mut shutdown: watch::Receiver<bool>) {
        let hubs = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE_AFTER);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let evicted = hubs.evict_idle(IDLE_AFTER);
                        if evicted > 0 {
                            tracing::debug!(evicted, kept = hubs.len(), "idle session hubs evicted");
                        }
                    }
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// This instance's receiving end of the bus.
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// Where session events go.
    pub hubs: Hubs,
    /// Where revocations go.
    pub revocations: Revocations,
}

impl Inbox for Dispatch {
    fn deliver(&self, message: BusMessage) {
        match message {
            BusMessage::Event(event) => {
                if let Some(hub) = self.hubs.existing(event.session_id) {
                    hub.deliver_remote(event);
                }
            }
            BusMessage::Revocation { revocation } => self.revocations.push_local(revocation),
            BusMessage::Resync => self.resync(),
        }
    }

    fn resync(&self) {
        self.revocations.push_local(Revocation::Recheck);
        for hub in self.hubs.watched() {
            tokio::spawn(async move {
                if let Err(e) = hub.resync().await {
                    tracing::warn!(error = %e, "cannot catch up a session after the bus reconnected");
                }
            });
        }
    }
}
