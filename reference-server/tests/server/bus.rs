//! The receiving end of the event bus, driven directly: what an instance does with messages
//! of the others, without a second instance.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use voice_reference_server::auth::Revocation;
use voice_reference_server::bus::{BusMessage, Inbox, StreamEvent};
use voice_reference_server::ws::hub::HubMessage;
use voice_reference_server::ws::hubs::Dispatch;

use crate::common::TestApp;

fn inbox(app: &TestApp) -> Dispatch {
    Dispatch {
        hubs: app.state.hubs.clone(),
        revocations: app.state.revocations.clone(),
    }
}

async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<HubMessage>) -> (u64, String) {
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Ok(HubMessage::Event(event))) => (event.seq, event.text.clone()),
        other => panic!("expected an event, got {other:?}"),
    }
}

/// A publisher that lost messages sends `Resync`: the hub catches up from the store.
#[tokio::test]
async fn a_resync_delivers_what_the_store_holds_and_the_hub_has_not_seen() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let hub = app.state.hubs.get(id);
    let mut subscription = hub.subscribe().await;
    let mut revocations = app.state.revocations.subscribe();
    let frame = r#"{"type":"provider_switched","seq":1}"#;
    app.state.store.append_event(id, 1, frame).await.unwrap();

    inbox(&app).deliver(BusMessage::Resync);
    assert_eq!(
        next_event(&mut subscription.rx).await,
        (1, frame.to_owned())
    );
    assert_eq!(revocations.recv().await.unwrap(), Revocation::Recheck);
}

/// Events of other instances reach only sessions this instance has a hub for, once each.
#[tokio::test]
async fn remote_events_are_delivered_once_and_only_to_known_sessions() {
    let app = TestApp::new().await;
    let watched = uuid::Uuid::new_v4();
    let unknown = uuid::Uuid::new_v4();
    let mut subscription = app.state.hubs.get(watched).subscribe().await;
    let event = |session_id, seq| {
        BusMessage::Event(StreamEvent {
            session_id,
            seq,
            kind: "transcript".into(),
            frame: format!(r#"{{"type":"transcript","seq":{seq}}}"#),
        })
    };
    let inbox = inbox(&app);
    inbox.deliver(event(unknown, 1));
    inbox.deliver(event(watched, 1));
    inbox.deliver(event(watched, 1));
    inbox.deliver(event(watched, 2));
    assert_eq!(next_event(&mut subscription.rx).await.0, 1);
    assert_eq!(next_event(&mut subscription.rx).await.0, 2);
    assert!(
        subscription.rx.try_recv().is_err(),
        "a duplicate was delivered"
    );
    assert!(
        app.state.hubs.existing(unknown).is_none(),
        "no hub created for a session nobody here watches"
    );
}
