//! The Redis event bus: pub/sub on one channel, `<prefix>bus`, shared by every instance.
//!
//! Why pub/sub and not streams: the durable event log in the database already is the
//! ordered, replayable record of every stream event (it allocates `seq` and serves
//! `resume`), and revocations live in the database and the cache tier. A Redis stream would
//! be a second log to trim and to keep consistent with the first, for a guarantee the first
//! already gives. What the bus must add is latency — a switch on A reaches B's sockets within
//! a Redis round trip — and pub/sub does that with one connection per instance and nothing to
//! clean up. Its weakness (messages published while a subscriber is disconnected are lost) is
//! covered by the receivers: a socket fills `seq` gaps from the store, and after every
//! (re)subscription [`Inbox::resync`] makes each hub catch up from the store and each socket
//! re-check its token.
//!
//! Messages carry the publishing instance's id; an instance ignores its own (it delivered
//! them to its sockets directly). Publishing uses a [`ConnectionManager`] with a short
//! deadline, and after a failure publications are skipped for a moment instead of each
//! waiting for that deadline. A publisher that failed or skipped anything sends
//! [`BusMessage::Resync`] before its next message, so the others also repair what it lost when
//! only its own path to Redis was broken.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::{BusError, BusMessage, EventBus, Inbox};

/// Deadline of one publish (local Redis answers in well under a millisecond).
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long publications are skipped after a failed one.
const PUBLISH_BACKOFF: Duration = Duration::from_millis(500);
/// Pause before subscribing again after the subscription connection was lost: a retry
/// back-off against a Redis that is down, not a synchronisation.
const RESUBSCRIBE_BACKOFF: Duration = Duration::from_millis(250);
/// How long start-up waits for the first subscription before serving without it.
const FIRST_SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A message on the wire, with its publisher.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<M> {
    origin: Uuid,
    message: M,
}

/// Pub/sub over Redis.
pub struct RedisBus {
    client: redis::Client,
    channel: String,
    instance: Uuid,
    /// Publications go through one ordered queue to a background publisher, so that the
    /// publishing hub does not wait a Redis round trip under its per-session write lock
    /// (one FIFO queue keeps each session's events in order).
    queue: mpsc::UnboundedSender<BusMessage>,
}

/// The sending half: one connection, the publisher's failure memory.
struct Publisher {
    conn: ConnectionManager,
    channel: String,
    instance: Uuid,
    health: Mutex<PublishHealth>,
}

/// What the publisher remembers about its own failures.
#[derive(Debug, Default)]
struct PublishHealth {
    /// Publications are skipped until then.
    down_until: Option<Instant>,
    /// Something was not published since the last success: send a resync first.
    lost: bool,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("channel", &self.channel)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> BusError {
    BusError(e.to_string())
}

impl RedisBus {
    /// A publisher connected lazily to `url`; fails only on a malformed URL. Nothing is
    /// received until [`RedisBus::listen`].
    pub fn open(url: &str, prefix: &str) -> Result<RedisBus, BusError> {
        let (client, conn) = crate::cache::lazy_connection(url).map_err(failed)?;
        let channel = format!("{prefix}bus");
        let instance = Uuid::new_v4();
        let publisher = Publisher {
            conn,
            channel: channel.clone(),
            instance,
            health: Mutex::new(PublishHealth::default()),
        };
        let (queue, mut rx) = mpsc::unbounded_channel::<BusMessage>();
        // Ends when the bus (the queue's only sender) is dropped.
        tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                if let Err(e) = publisher.publish_now(&message).await {
                    tracing::warn!(bus = "redis", error = %e, "event bus publish failed; other instances repair from the store");
                }
            }
        });
        Ok(RedisBus {
            client,
            channel,
            instance,
            queue,
        })
    }

    /// Starts the subscriber, which hands messages of other instances to `inbox` until `stop`
    /// changes. Waits (at most a moment) for the first subscription, so that a server that
    /// has started hears every later publication; a Redis that is down at start does not
    /// prevent starting.
    pub async fn listen(&self, inbox: Arc<dyn Inbox>, stop: watch::Receiver<bool>) {
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(subscribe_loop(
            self.client.clone(),
            self.channel.clone(),
            self.instance,
            inbox,
            stop,
            ready_tx,
        ));
        if tokio::time::timeout(FIRST_SUBSCRIBE_TIMEOUT, ready_rx)
            .await
            .is_err()
        {
            tracing::warn!(channel = %self.channel, "event bus not subscribed at start; other instances' events arrive once Redis is reachable");
        }
    }
}

impl Publisher {
    fn health(&self) -> MutexGuard<'_, PublishHealth> {
        // Two plain fields: a panic elsewhere cannot leave them inconsistent.
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One PUBLISH within the deadline.
    async fn send(&self, message: &BusMessage) -> Result<(), BusError> {
        let payload = serde_json::to_string(&Envelope {
            origin: self.instance,
            message,
        })
        .map_err(failed)?;
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&self.channel).arg(payload);
        let publish = cmd.query_async::<i64>(&mut conn);
        match tokio::time::timeout(CALL_TIMEOUT, publish).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(failed(e)),
            Err(_) => Err(BusError("redis did not answer in time".into())),
        }
    }

    async fn publish_now(&self, message: &BusMessage) -> Result<(), BusError> {
        let resync_first = {
            let mut health = self.health();
            if health
                .down_until
                .is_some_and(|until| Instant::now() < until)
            {
                health.lost = true;
                return Err(BusError("redis failed a moment ago; skipped".into()));
            }
            health.lost
        };
        let sent = if resync_first {
            match self.send(&BusMessage::Resync).await {
                Ok(()) => self.send(message).await,
                Err(e) => Err(e),
            }
        } else {
            self.send(message).await
        };
        let mut health = self.health();
        match &sent {
            Ok(()) => *health = PublishHealth::default(),
            Err(_) => {
                health.down_until = Some(Instant::now() + PUBLISH_BACKOFF);
                health.lost = true;
            }
        }
        sent
    }
}

impl EventBus for RedisBus {
    fn publish<'a>(&'a self, message: &'a BusMessage) -> BoxFuture<'a, Result<(), BusError>> {
        let queued = self
            .queue
            .send(message.clone())
            .map_err(|_| BusError("the bus publisher has stopped".into()));
        Box::pin(async move { queued })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

/// Subscribes, forwards, and subscribes again after a lost connection, until `stop`.
async fn subscribe_loop(
    client: redis::Client,
    channel: String,
    instance: Uuid,
    inbox: Arc<dyn Inbox>,
    mut stop: watch::Receiver<bool>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut warned = false;
    loop {
        let session = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let subscribed = tokio::select! {
            _ = stop.changed() => return,
            s = session => s,
        };
        match subscribed {
            Ok(mut pubsub) => {
                if warned {
                    tracing::info!(%channel, "event bus subscribed again");
                }
                warned = false;
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                // Whatever was published while unsubscribed is repaired from the store.
                inbox.resync();
                let mut messages = pubsub.on_message();
                loop {
                    let message = tokio::select! {
                        _ = stop.changed() => return,
                        m = messages.next() => m,
                    };
                    let Some(message) = message else { break };
                    let Ok(payload) = message.get_payload::<String>() else {
                        continue;
                    };
                    match serde_json::from_str::<Envelope<BusMessage>>(&payload) {
                        Ok(envelope) if envelope.origin == instance => {}
                        Ok(envelope) => inbox.deliver(envelope.message),
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable event bus message ignored")
                        }
                    }
                }
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(%channel, error = %e, "event bus cannot subscribe; retrying");
                    warned = true;
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(RESUBSCRIBE_BACKOFF) => {}
        }
    }
}
