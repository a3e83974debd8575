//! Per-session event hub: numbers session events (`seq` from 1, no gaps), writes each one to
//! the durable event log, fans it out to every connection of the session and keeps a bounded
//! in-memory buffer so that most `resume`s never touch the database.
//!
//! Durability: the database first, then the fan-out. A client therefore never sees an event
//! that a restart could lose, and `resume` can always fall back to the store when the buffer no
//! longer holds what was asked for (after a restart, or after eviction). Per-session
//! publications are serialised by `write`, an async mutex held across the one INSERT, and seq
//! allocation happens under it; the `(session_id, seq)` primary key is the last guard: a
//! refused seq reloads the highest stored one and numbers again. Before its first publish,
//! subscribe or replay, a hub loads the session's last stored seq, so after a restart
//! numbering continues at `last_event_seq + 1`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};
use tokio::sync::{OnceCell, broadcast};
use uuid::Uuid;

use crate::conversation::LiveSession;
use crate::store::{Store, StoreError};

/// Events read from the store per query when `resume` falls back to it.
const REPLAY_PAGE: u32 = 500;

/// The most events one `resume` replays from the store; beyond, `resume_unavailable`.
const MAX_STORED_REPLAY: usize = 50_000;

/// How often a publication renumbers after its seq was refused by the store.
const MAX_SEQ_RETRIES: u32 = 3;

/// One published session event.
#[derive(Debug)]
pub struct HubEvent {
    /// Internal publication order (always strictly increasing; used for de-duplication).
    pub ord: u64,
    /// The wire `seq`.
    pub seq: u64,
    /// The serialized JSON frame.
    pub text: String,
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

/// The requested events are no longer buffered.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("events no longer buffered")]
pub struct Evicted;

/// Why a `resume` cannot be served.
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
    last_ord: u64,
    /// `ord` of the newest event evicted from `buffer` (0 when none): every event only in
    /// the store is at most this recent.
    evicted_ord: u64,
    buffer: VecDeque<Arc<HubEvent>>,
}

/// The hub of one session.
#[derive(Debug)]
pub struct SessionHub {
    session_id: Uuid,
    capacity: usize,
    store: Store,
    /// Set once the last stored seq has been loaded.
    loaded: OnceCell<()>,
    /// Serialises publications (seq allocation, INSERT, fan-out) and store-backed replays.
    write: tokio::sync::Mutex<()>,
    inner: Mutex<Inner>,
    tx: broadcast::Sender<HubMessage>,
    /// Serializes changes to the session (text processing, switches, end) and guards the
    /// write-through copy of its small mutable state (`None` until first loaded from the
    /// database, which stays the source of truth).
    pub ops: tokio::sync::Mutex<Option<LiveSession>>,
    switching: AtomicBool,
    /// Transcripts counted under the `drop-events` fault.
    dropped_transcripts: AtomicU64,
}

/// A connection's starting point.
#[derive(Debug)]
pub struct Subscription {
    /// Live messages.
    pub rx: broadcast::Receiver<HubMessage>,
    /// The last event published before subscribing.
    pub last_ord: u64,
    /// Its seq.
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
    fn new(session_id: Uuid, capacity: usize, store: Store) -> SessionHub {
        let (tx, _) = broadcast::channel(capacity.max(16));
        SessionHub {
            session_id,
            capacity,
            store,
            loaded: OnceCell::new(),
            write: tokio::sync::Mutex::new(()),
            inner: Mutex::new(Inner::default()),
            tx,
            ops: tokio::sync::Mutex::new(None),
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
            last_ord: inner.last_ord,
            last_seq: inner.last_seq,
        }
    }

    async fn push(
        &self,
        kind: &str,
        fields: Map<String, Value>,
        advance: bool,
    ) -> Result<Arc<HubEvent>, StoreError> {
        let _write = self.write.lock().await;
        self.load().await?;
        let mut frame = envelope(kind, 0, self.session_id, fields);
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
            if let Some(obj) = frame.as_object_mut() {
                obj.insert("seq".into(), Value::from(seq));
            }
            let text = frame.to_string();
            // A reused seq (the `seq-disorder` fault) is delivered but never stored.
            if fresh && let Err(e) = self.store.append_event(self.session_id, seq, &text).await {
                if !matches!(e, StoreError::Duplicate) || retries == MAX_SEQ_RETRIES {
                    return Err(e);
                }
                retries += 1;
                self.catch_up_with_store().await?;
                continue;
            }
            return Ok(self.deliver(seq, text));
        }
    }

    /// Buffers and fans out an event already stored (called with `write` held).
    fn deliver(&self, seq: u64, text: String) -> Arc<HubEvent> {
        let mut inner = self.lock();
        inner.last_seq = inner.last_seq.max(seq);
        inner.last_ord += 1;
        let event = Arc::new(HubEvent {
            ord: inner.last_ord,
            seq,
            text,
        });
        inner.buffer.push_back(event.clone());
        while inner.buffer.len() > self.capacity {
            if let Some(old) = inner.buffer.pop_front() {
                inner.evicted_ord = old.ord;
            }
        }
        let _ = self.tx.send(HubMessage::Event(event.clone()));
        event
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

    /// The buffered events with `seq > last_seq`, or `None` when the buffer no longer
    /// reaches back that far.
    fn replay_from_buffer(&self, last_seq: u64) -> Result<Option<Vec<Arc<HubEvent>>>, ReplayError> {
        let inner = self.lock();
        if last_seq > inner.last_seq {
            return Err(ReplayError::Unknown(last_seq));
        }
        let covered = last_seq == inner.last_seq
            || inner
                .buffer
                .front()
                .is_some_and(|oldest| oldest.seq <= last_seq + 1);
        Ok(covered.then(|| {
            inner
                .buffer
                .iter()
                .filter(|e| e.seq > last_seq)
                .cloned()
                .collect()
        }))
    }

    /// Events with `seq > last_seq`, in order: from the buffer when it reaches back that far,
    /// otherwise from the store followed by the buffer.
    pub async fn replay_after_seq(&self, last_seq: u64) -> Result<Vec<Arc<HubEvent>>, ReplayError> {
        self.load().await?;
        if let Some(events) = self.replay_from_buffer(last_seq)? {
            return Ok(events);
        }
        // Nothing is published (or evicted) while the store and the buffer are stitched.
        let _write = self.write.lock().await;
        if let Some(events) = self.replay_from_buffer(last_seq)? {
            return Ok(events);
        }
        let (oldest_buffered, evicted_ord) = {
            let inner = self.lock();
            (inner.buffer.front().map(|e| e.seq), inner.evicted_ord)
        };
        let mut events = Vec::new();
        let mut after = last_seq;
        'pages: loop {
            let page = self
                .store
                .events_after(self.session_id, after, REPLAY_PAGE)
                .await?;
            let last_page = page.len() < REPLAY_PAGE as usize;
            for stored in page {
                if oldest_buffered.is_some_and(|oldest| stored.seq >= oldest) {
                    break 'pages;
                }
                after = stored.seq;
                // Older than everything buffered: at most as recent as the last eviction,
                // so a connection skips these if they also come in live.
                events.push(Arc::new(HubEvent {
                    ord: evicted_ord,
                    seq: stored.seq,
                    text: stored.frame,
                }));
                if events.len() > MAX_STORED_REPLAY {
                    return Err(ReplayError::TooMany);
                }
            }
            if last_page {
                break;
            }
        }
        let inner = self.lock();
        events.extend(inner.buffer.iter().filter(|e| e.seq > after).cloned());
        Ok(events)
    }

    /// Events with `ord > last_ord` (catch-up after a lagging receiver).
    pub fn events_after_ord(&self, last_ord: u64) -> Result<Vec<Arc<HubEvent>>, Evicted> {
        let inner = self.lock();
        if last_ord < inner.last_ord {
            let oldest = inner.buffer.front().map(|e| e.ord).ok_or(Evicted)?;
            if oldest > last_ord + 1 {
                return Err(Evicted);
            }
        }
        Ok(inner
            .buffer
            .iter()
            .filter(|e| e.ord > last_ord)
            .cloned()
            .collect())
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

/// Every session hub, created on first use.
#[derive(Debug, Clone)]
pub struct Hubs {
    capacity: usize,
    store: Store,
    all: Arc<Mutex<HashMap<Uuid, Arc<SessionHub>>>>,
}

impl Hubs {
    /// Hubs keeping `capacity` events each in memory, every event also in `store`.
    pub fn new(capacity: usize, store: Store) -> Hubs {
        Hubs {
            capacity,
            store,
            all: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The hub of a session.
    pub fn get(&self, session_id: Uuid) -> Arc<SessionHub> {
        let mut all = self
            .all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.entry(session_id)
            .or_insert_with(|| {
                Arc::new(SessionHub::new(
                    session_id,
                    self.capacity,
                    self.store.clone(),
                ))
            })
            .clone()
    }
}
