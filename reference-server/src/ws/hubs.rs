//! Every session hub of this instance, and the instance's inbox on the event bus: events of
//! other instances go to the hub of their session (only when it exists here — an instance
//! keeps no state for sessions none of its sockets watch), revocations to the local sockets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

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
    all: Arc<Mutex<HashMap<Uuid, Arc<SessionHub>>>>,
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

    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<SessionHub>>> {
        self.all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The hub of a session.
    pub fn get(&self, session_id: Uuid) -> Arc<SessionHub> {
        self.map()
            .entry(session_id)
            .or_insert_with(|| {
                Arc::new(SessionHub::new(
                    session_id,
                    self.capacity,
                    self.store.clone(),
                    self.bus.clone(),
                ))
            })
            .clone()
    }

    /// The hub of a session, if this instance has one.
    pub fn existing(&self, session_id: Uuid) -> Option<Arc<SessionHub>> {
        self.map().get(&session_id).cloned()
    }

    fn watched(&self) -> Vec<Arc<SessionHub>> {
        self.map()
            .values()
            .filter(|hub| hub.has_subscribers())
            .cloned()
            .collect()
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
