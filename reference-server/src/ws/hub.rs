//! Per-session event hub: numbers session events (`seq` from 1, no gaps), fans them out to
//! every connection of the session and keeps a bounded replay buffer for `resume`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::conversation::LiveSession;

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

#[derive(Debug, Default)]
struct Inner {
    last_seq: u64,
    last_ord: u64,
    buffer: VecDeque<Arc<HubEvent>>,
}

/// The hub of one session.
#[derive(Debug)]
pub struct SessionHub {
    session_id: Uuid,
    capacity: usize,
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
    fn new(session_id: Uuid, capacity: usize) -> SessionHub {
        let (tx, _) = broadcast::channel(capacity.max(16));
        SessionHub {
            session_id,
            capacity,
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

    /// Subscribes a connection.
    pub fn subscribe(&self) -> Subscription {
        let inner = self.lock();
        Subscription {
            rx: self.tx.subscribe(),
            last_ord: inner.last_ord,
            last_seq: inner.last_seq,
        }
    }

    fn push(&self, kind: &str, fields: Map<String, Value>, advance: bool) -> Arc<HubEvent> {
        let mut inner = self.lock();
        if advance || inner.last_seq == 0 {
            inner.last_seq += 1;
        }
        inner.last_ord += 1;
        let frame = envelope(kind, inner.last_seq, self.session_id, fields);
        let event = Arc::new(HubEvent {
            ord: inner.last_ord,
            seq: inner.last_seq,
            text: frame.to_string(),
        });
        inner.buffer.push_back(event.clone());
        while inner.buffer.len() > self.capacity {
            inner.buffer.pop_front();
        }
        let _ = self.tx.send(HubMessage::Event(event.clone()));
        event
    }

    /// Publishes a session event with the next seq.
    pub fn publish(&self, kind: &str, fields: Map<String, Value>) -> Arc<HubEvent> {
        self.push(kind, fields, true)
    }

    /// Publishes reusing the last seq (only for the `seq-disorder` fault).
    pub fn publish_reusing_seq(&self, kind: &str, fields: Map<String, Value>) -> Arc<HubEvent> {
        self.push(kind, fields, false)
    }

    /// Consumes the next seq without delivering or buffering anything (only for the
    /// `drop-events` fault).
    pub fn skip_seq(&self) {
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

    /// Events with `seq > last_seq`, in order.
    pub fn replay_after_seq(&self, last_seq: u64) -> Result<Vec<Arc<HubEvent>>, Evicted> {
        let inner = self.lock();
        if last_seq > inner.last_seq {
            return Err(Evicted);
        }
        if last_seq < inner.last_seq {
            let oldest = inner.buffer.front().map(|e| e.seq).ok_or(Evicted)?;
            if oldest > last_seq + 1 {
                return Err(Evicted);
            }
        }
        Ok(inner
            .buffer
            .iter()
            .filter(|e| e.seq > last_seq)
            .cloned()
            .collect())
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
    all: Arc<Mutex<HashMap<Uuid, Arc<SessionHub>>>>,
}

impl Hubs {
    /// Hubs keeping `capacity` events each for replay.
    pub fn new(capacity: usize) -> Hubs {
        Hubs {
            capacity,
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
            .or_insert_with(|| Arc::new(SessionHub::new(session_id, self.capacity)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_starts_at_one_and_replay_detects_eviction() {
        let hubs = Hubs::new(2);
        let hub = hubs.get(Uuid::new_v4());
        for _ in 0..3 {
            hub.publish("transcript", Map::new());
        }
        assert!(hub.replay_after_seq(0).is_err());
        let replay = hub.replay_after_seq(1).unwrap_or_default();
        assert_eq!(replay.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert!(hub.replay_after_seq(3).is_ok_and(|v| v.is_empty()));
        assert!(hub.replay_after_seq(9).is_err());
    }
}
