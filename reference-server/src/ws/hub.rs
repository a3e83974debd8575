//! Per-session event hub: numbers session events, writes each one to the durable event log,
//! fans it out to every local connection of the session, tells the other instances through
//! the event bus, and keeps a bounded in-memory buffer so that most `resume`s never touch the
//! database.
//!
//! Durability: the database first, then the fan-out. A client therefore never sees an event
//! that a restart could lose, and `resume` can always fall back to the store when the buffer
//! does not hold what was asked for (after a restart, after eviction, or on an instance that
//! missed bus messages).
//!
//! One sequence space across instances: the store allocates. Publications of one instance are
//! serialised by `write` (an async mutex held across the one INSERT); the `(session_id, seq)`
//! primary key arbitrates between instances: a refused seq reloads the highest stored one
//! and numbers again. Events of other instances arrive from the bus ([`SessionHub::deliver_remote`])
//! and raise `last_seq` too, so refusals stay rare. Delivery order is repaired per socket
//! (see `connection`): a socket drops `seq <= last` and fills `seq > last + 1` from the store.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};
use tokio::sync::{OnceCell, broadcast};
use uuid::Uuid;

mod replay;

pub use super::hubs::Hubs;
use crate::bus::{BusMessage, EventBus, StreamEvent, publish_or_warn};
use crate::conversation::LiveSession;
use crate::store::{Store, StoreError};

/// How often a publication renumbers after its seq was refused by the store.
const MAX_SEQ_RETRIES: u32 = 32;

/// One published session event.
#[derive(Debug)]
pub struct HubEvent {
    /// The wire `seq`.
    pub seq: u64,
    /// The serialized JSON frame.
    pub text: String,
    /// Sent with a reused seq (only under the `seq-disorder` fault): never stored, never
    /// dropped as a duplicate.
    pub reused: bool,
}

/// What connections receive from the hub.
#[derive(Debug, Clone)]
pub enum HubMessage {
    /// A session event to forward.
    Event(Arc<HubEvent>),
    /// Close every connection with this code.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: &'static str,
    },
}

/// Why a `resume` (or a gap fill) cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The seq asked for was never published.
    #[error("seq {0} was never published")]
    Unknown(u64),
    /// Too many events to replay.
    #[error("too many events to replay")]
    TooMany,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default)]
struct Inner {
    last_seq: u64,
    /// Ordered by seq (equal seqs only under the `seq-disorder` fault).
    buffer: VecDeque<Arc<HubEvent>>,
}

/// The hub of one session.
pub struct SessionHub {
    session_id: Uuid,
    capacity: usize,
    store: Store,
    bus: Arc<dyn EventBus>,
    /// Set once the last stored seq has been loaded.
    loaded: OnceCell<()>,
    /// Serialises this instance's publications (seq allocation, INSERT, fan-out).
    write: tokio::sync::Mutex<()>,
    inner: Mutex<Inner>,
    tx: broadcast::Sender<HubMessage>,
    /// Serializes changes to the session (text processing, switches, end) and guards the
    /// write-through copy of its small mutable state (`None` until first loaded from the
    /// database, which stays the source of truth).
    pub ops: tokio::sync::Mutex<Option<LiveSession>>,
    /// Another instance changed the session (switch, end): `ops` must be reloaded.
    live_stale: AtomicBool,
    switching: AtomicBool,
    /// Transcripts counted under the `drop-events` fault.
    dropped_transcripts: AtomicU64,
}

impl std::fmt::Debug for SessionHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHub")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// A connection's starting point.
#[derive(Debug)]
pub struct Subscription {
    /// Live messages.
    pub rx: broadcast::Receiver<HubMessage>,
    /// The last seq published before subscribing.
    pub last_seq: u64,
}

/// Builds a server frame: `type`, `seq`, `timestamp`, `session_id`, then `fields`.
pub fn envelope(kind: &str, seq: u64, session_id: Uuid, fields: Map<String, Value>) -> Value {
    let mut obj = Map::new();
    obj.insert("type".into(), Value::from(kind));
    obj.insert("seq".into(), Value::from(seq));
    obj.insert(
        "timestamp".into(),
        Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    obj.insert("session_id".into(), Value::from(session_id.to_string()));
    obj.extend(fields);
    Value::Object(obj)
}

impl SessionHub {
    pub(super) fn new(
        session_id: Uuid,
        capacity: usize,
        store: Store,
        bus: Arc<dyn EventBus>,
    ) -> SessionHub {
        let (tx, _) = broadcast::channel(capacity.max(16));
        SessionHub {
            session_id,
            capacity,
            store,
            bus,
            loaded: OnceCell::new(),
            write: tokio::sync::Mutex::new(()),
            inner: Mutex::new(Inner::default()),
            tx,
            ops: tokio::sync::Mutex::new(None),
            live_stale: AtomicBool::new(false),
            switching: AtomicBool::new(false),
            dropped_transcripts: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` half-updated in a harmful way.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Raises the last seq to what the store holds.
    async fn catch_up_with_store(&self) -> Result<(), StoreError> {
        let last = self.store.last_event_seq(self.session_id).await?;
        let mut inner = self.lock();
        inner.last_seq = inner.last_seq.max(last);
        Ok(())
    }

    /// Loads the last stored seq once (retried on the next call if it fails).
    async fn load(&self) -> Result<(), StoreError> {
        self.loaded
            .get_or_try_init(|| self.catch_up_with_store())
            .await
            .map(|_| ())
    }

    /// Subscribes a connection.
    pub async fn subscribe(&self) -> Subscription {
        if let Err(e) = self.load().await {
            tracing::warn!(session_id = %self.session_id, error = %e, "cannot load the last event seq");
        }
        let inner = self.lock();
        Subscription {
            rx: self.tx.subscribe(),
            last_seq: inner.last_seq,
        }
    }

    /// Whether any connection of this instance listens.
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    async fn push(
        &self,
        kind: &str,
        fields: Map<String, Value>,
        advance: bool,
    ) -> Result<Arc<HubEvent>, StoreError> {
        let _write = self.write.lock().await;
        self.load().await?;
        let mut frame = Value::Null;
        let mut fields = Some(fields);
        let mut retries = 0;
        loop {
            let (seq, fresh) = {
                let inner = self.lock();
                if advance || inner.last_seq == 0 {
                    (inner.last_seq + 1, true)
                } else {
                    (inner.last_seq, false)
                }
            };
            match (fields.take(), frame.as_object_mut()) {
                (Some(fields), _) => frame = envelope(kind, seq, self.session_id, fields),
                (None, Some(obj)) => {
                    obj.insert("seq".into(), Value::from(seq));
                }
                (None, None) => {}
            }
            let text = frame.to_string();
            if !fresh {
                // A reused seq (the `seq-disorder` fault) is delivered here only, never stored.
                return Ok(self.deliver(seq, text, true));
            }
            match self.store.append_event(self.session_id, seq, &text).await {
                Err(StoreError::Duplicate) if retries < MAX_SEQ_RETRIES => {
                    // Taken by another instance (or writer): renumber after the stored one.
                    retries += 1;
                    self.catch_up_with_store().await?;
                    continue;
                }
                other => other?,
            }
            let event = self.deliver(seq, text.clone(), false);
            let message = BusMessage::Event(StreamEvent {
                session_id: self.session_id,
                seq,
                kind: kind.to_owned(),
                frame: text,
            });
            // Still under `write`, so other instances receive this session's events in order.
            publish_or_warn(&self.bus, &message).await;
            return Ok(event);
        }
    }

    /// Buffers (ordered by seq) and fans out an event already stored; an event whose seq is
    /// already buffered is not delivered twice (unless `reused`).
    fn deliver(&self, seq: u64, text: String, reused: bool) -> Arc<HubEvent> {
        let mut inner = self.lock();
        inner.last_seq = inner.last_seq.max(seq);
        let event = Arc::new(HubEvent { seq, text, reused });
        let at = inner.buffer.partition_point(|e| e.seq <= seq);
        let known = at > 0 && inner.buffer.get(at - 1).is_some_and(|e| e.seq == seq);
        if known && !reused {
            return event;
        }
        let older_than_all = at == 0 && inner.buffer.len() >= self.capacity;
        if !older_than_all {
            inner.buffer.insert(at, event.clone());
            while inner.buffer.len() > self.capacity {
                inner.buffer.pop_front();
            }
        }
        let _ = self.tx.send(HubMessage::Event(event.clone()));
        event
    }

    /// An event another instance published (from the bus).
    pub fn deliver_remote(&self, event: StreamEvent) {
        if matches!(event.kind.as_str(), "provider_switched" | "call_status") {
            self.live_stale.store(true, Ordering::SeqCst);
        }
        // A session's end is the `call_status` whose call id is the session itself; a call's
        // own status changes (telephony) leave the stream open.
        let ended = event.kind == "call_status"
            && serde_json::from_str::<Value>(&event.frame).is_ok_and(|frame| {
                frame.get("call_id").and_then(Value::as_str)
                    == Some(self.session_id.to_string().as_str())
            });
        self.deliver(event.seq, event.frame, false);
        if ended {
            self.close_all(1000, "session ended");
        }
    }

    /// After the bus reconnected: delivers every stored event this hub has not seen.
    pub async fn resync(&self) -> Result<(), ReplayError> {
        let last = self.lock().last_seq;
        self.live_stale.store(true, Ordering::SeqCst);
        for event in self.stored_between(last, None).await? {
            let kind = serde_json::from_str::<Value>(&event.text)
                .ok()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            self.deliver_remote(StreamEvent {
                session_id: self.session_id,
                seq: event.seq,
                kind,
                frame: event.text.clone(),
            });
        }
        Ok(())
    }

    /// Takes the "changed elsewhere" mark: the caller reloads the session state.
    pub fn take_live_stale(&self) -> bool {
        self.live_stale.swap(false, Ordering::SeqCst)
    }

    /// Publishes a session event with the next seq: stored first, then delivered. When the
    /// store fails nothing is delivered and the seq is not consumed.
    pub async fn publish(
        &self,
        kind: &str,
        fields: Map<String, Value>,
    ) -> Result<Arc<HubEvent>, StoreError> {
        self.push(kind, fields, true).await
    }

    /// Publishes reusing the last seq (only for the `seq-disorder` fault).
    pub async fn publish_reusing_seq(
        &self,
        kind: &str,
        fields: Map<String, Value>,
    ) -> Result<Arc<HubEvent>, StoreError> {
        self.push(kind, fields, false).await
    }

    /// Consumes the next seq without delivering or storing anything (only for the
    /// `drop-events` fault).
    pub async fn skip_seq(&self) {
        let _write = self.write.lock().await;
        if let Err(e) = self.load().await {
            tracing::warn!(session_id = %self.session_id, error = %e, "cannot load the last event seq");
        }
        self.lock().last_seq += 1;
    }

    /// Counts a transcript and tells whether it is a 5th one of the session (only for the
    /// `drop-events` fault).
    pub fn is_fifth_transcript(&self) -> bool {
        self.dropped_transcripts.fetch_add(1, Ordering::Relaxed) % 5 == 4
    }

    /// Tells every connection to close.
    pub fn close_all(&self, code: u16, reason: &'static str) {
        let _guard = self.lock();
        let _ = self.tx.send(HubMessage::Close { code, reason });
    }

    /// Whether a switch is in progress.
    pub fn is_switching(&self) -> bool {
        self.switching.load(Ordering::Relaxed)
    }

    /// Marks a switch in progress or finished.
    pub fn set_switching(&self, on: bool) {
        self.switching.store(on, Ordering::Relaxed);
    }
}
