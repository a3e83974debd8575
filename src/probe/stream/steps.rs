//! The steps on one connection: heartbeat, text → transcript latency, malformed frames and
//! throughput, every frame rendered from the binding's templates.

use super::{
    MalformedResult, PINGS, PROBE_MALFORMED, PROBE_THROUGHPUT, PingResult, Run, THROUGHPUT_WAIT,
    ThroughputResult, bounded, epoch_millis, malformed_frames,
};
use crate::binding::envelope::EventKind;
use crate::probe::ws::{Next, WsConn};
use crate::probe::{ping_vars, text_vars};
use std::time::{Duration, Instant};

impl Run<'_> {
    /// Sends each malformed frame, waits for an `error` event, then checks the connection is
    /// still usable; a connection the server closed is replaced for the next frame.
    pub(super) async fn malformed(&mut self) {
        let wait = self.wait;
        let mut conn: Option<WsConn> = None;
        let frames = malformed_frames(&self.ctx.http.binding().envelope);
        for (index, (label, frame)) in frames.into_iter().enumerate() {
            let mut result = MalformedResult {
                label: label.to_string(),
                frame: frame.clone().unwrap_or_default(),
                error_event: None,
                alive_after: false,
                closed: false,
                close_code: None,
                send_error: None,
            };
            let frame = match frame {
                Ok(f) => f,
                Err(reason) => {
                    result.send_error = Some(reason);
                    self.obs.malformed.push(result);
                    continue;
                }
            };
            if conn.as_ref().is_none_or(WsConn::is_closed) {
                if let Some(old) = conn.take() {
                    self.close(old).await;
                }
                match self.open(PROBE_MALFORMED).await {
                    Ok(fresh) => conn = Some(fresh),
                    Err(reason) => {
                        result.send_error = Some(reason);
                        self.obs.malformed.push(result);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let sent_at = Instant::now();
            if let Err(e) = bounded(wait, c.send_text(&frame)).await {
                result.send_error = Some(e);
                result.closed = c.is_closed();
                self.obs.malformed.push(result);
                continue;
            }
            loop {
                match c.next(sent_at + wait).await {
                    Next::Message(m) if m.is(EventKind::Error) => {
                        result.error_event = m.value;
                        break;
                    }
                    Next::Message(_) => continue,
                    Next::Closed { .. } | Next::Timeout | Next::Failed(_) => break,
                }
            }
            if !c.is_closed() {
                result.alive_after = alive(c, index, wait).await;
            }
            result.closed = c.is_closed();
            result.close_code = c.record.close_code;
            self.obs.malformed.push(result);
        }
        if let Some(c) = conn {
            self.close(c).await;
        }
    }

    /// Sends `throughput_messages` texts back to back, then counts the events they cause.
    pub(super) async fn throughput(&mut self) {
        let n = self.ctx.settings.throughput_messages;
        let mut c = match self.open(PROBE_THROUGHPUT).await {
            Ok(c) => c,
            Err(reason) => {
                self.obs.skip("throughput", &reason);
                return;
            }
        };
        let wait = THROUGHPUT_WAIT.max(self.ctx.settings.timeout);
        let first = Instant::now();
        let mut sent = 0;
        let mut send_error = None;
        for i in 0..n {
            let text = text_vars(&format!("Throughput message {i}"), &format!("tp-{i}"));
            match bounded(self.wait, c.send_frame("text", &text)).await {
                Ok(()) => sent += 1,
                Err(e) => {
                    send_error = Some(e);
                    break;
                }
            }
        }
        let expected = 2 * sent;
        let deadline = first + wait;
        let mut received = 0;
        let mut last = None;
        while received < expected {
            match c.next(deadline).await {
                Next::Message(m) => {
                    if m.kind().is_some_and(EventKind::is_session_event) {
                        received += 1;
                        last = Some(m.at);
                    }
                }
                _ => break,
            }
        }
        self.close(c).await;
        self.obs.throughput = Some(ThroughputResult {
            texts_sent: sent,
            events_expected: expected,
            events_received: received,
            elapsed: last.map_or(wait, |at| at.saturating_duration_since(first)),
            send_error,
        });
    }
}

/// Pings with distinct, increasing timestamps and records each pong (the next pong received).
pub(super) async fn heartbeat(conn: &mut WsConn, wait: Duration) -> Vec<PingResult> {
    let mut pings = Vec::with_capacity(PINGS);
    let mut previous = 0;
    for _ in 0..PINGS {
        let timestamp = epoch_millis().max(previous + 1);
        previous = timestamp;
        let sent_at = Instant::now();
        let mut result = PingResult {
            sent_timestamp: timestamp,
            pong: None,
            rtt: None,
        };
        if bounded(wait, conn.send_frame("ping", &ping_vars(timestamp)))
            .await
            .is_ok()
            && let Some(pong) = conn
                .wait_for(sent_at + wait, |m| m.is(EventKind::Pong))
                .await
        {
            result.rtt = Some(pong.at.saturating_duration_since(sent_at));
            result.pong = pong.event.payload;
        }
        pings.push(result);
    }
    pings
}

/// Sends texts one at a time and times each to its transcript (matched by `message_id`).
pub(super) async fn latencies(
    conn: &mut WsConn,
    samples: usize,
    wait: Duration,
) -> Vec<Option<Duration>> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = format!("lat-{i}");
        let text = text_vars(&format!("Latency sample {i}, all good"), &id);
        let sent_at = Instant::now();
        let mut took = None;
        if bounded(wait, conn.send_frame("text", &text)).await.is_ok() {
            took = conn
                .wait_for(sent_at + wait, |m| m.is_transcript_of(&id))
                .await
                .map(|m| m.at.saturating_duration_since(sent_at));
        }
        out.push(took);
    }
    out
}

/// Whether a connection still answers: a ping and a text are sent together and either the pong
/// or the text's transcript counts, so a server that ignores pings is not also failed here.
pub(crate) async fn alive(conn: &mut WsConn, index: usize, wait: Duration) -> bool {
    let id = format!("alive-{index}");
    let sent_at = Instant::now();
    let ping = ping_vars(epoch_millis());
    let text = text_vars("Are you still there?", &id);
    let ping_sent = bounded(wait, conn.send_frame("ping", &ping)).await.is_ok();
    let text_sent = bounded(wait, conn.send_frame("text", &text)).await.is_ok();
    if !ping_sent && !text_sent {
        return false;
    }
    conn.wait_for(sent_at + wait, |m| {
        m.is(EventKind::Pong) || m.is_transcript_of(&id)
    })
    .await
    .is_some()
}
