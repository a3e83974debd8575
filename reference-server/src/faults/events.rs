//! The stream faults, as an [`EventSink`] between the conversation and the session hub:
//!
//! * `silent-switch`: `provider_switched` is never published;
//! * `slow-events`: a transcript (and so the insight after it) waits 250 ms;
//! * `drop-events`: every 5th transcript of a session consumes its seq but is never stored nor
//!   delivered (clients see a gap);
//! * `bad-event-schema`: an insight's `confidence` is a string;
//! * `seq-disorder`: an insight reuses the seq of the transcript before it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::Faults;
use crate::events::{EventSink, SessionEvent, publish_direct};
use crate::store::StoreError;
use crate::ws::hub::SessionHub;

/// The stream faults that are on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFaults {
    silent_switch: bool,
    slow_events: bool,
    drop_events: bool,
    bad_event_schema: bool,
    seq_disorder: bool,
}

impl From<&Faults> for EventFaults {
    fn from(f: &Faults) -> Self {
        EventFaults {
            silent_switch: f.silent_switch,
            slow_events: f.slow_events,
            drop_events: f.drop_events,
            bad_event_schema: f.bad_event_schema,
            seq_disorder: f.seq_disorder,
        }
    }
}

impl EventFaults {
    /// Whether any stream fault is on.
    pub fn any(&self) -> bool {
        *self != EventFaults::default()
    }

    async fn publish(&self, hub: &SessionHub, event: SessionEvent) -> Result<(), StoreError> {
        match &event {
            SessionEvent::ProviderSwitched(_) if self.silent_switch => return Ok(()),
            SessionEvent::Transcript(_) => {
                if self.slow_events {
                    // A deliberate delay for auditors to measure, not a synchronisation.
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                if self.drop_events && hub.is_fifth_transcript() {
                    hub.skip_seq().await;
                    return Ok(());
                }
            }
            SessionEvent::Insight(insight) if self.bad_event_schema || self.seq_disorder => {
                let mut fields = event.fields();
                if self.bad_event_schema {
                    fields.insert(
                        "confidence".into(),
                        Value::from(insight.confidence.to_string()),
                    );
                }
                let published = if self.seq_disorder {
                    hub.publish_reusing_seq(event.kind(), fields).await
                } else {
                    hub.publish(event.kind(), fields).await
                };
                return published.map(|_| ());
            }
            _ => {}
        }
        publish_direct(hub, event).await
    }
}

impl EventSink for EventFaults {
    fn publish<'a>(
        &'a self,
        hub: &'a SessionHub,
        event: SessionEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(EventFaults::publish(self, hub, event))
    }
}
