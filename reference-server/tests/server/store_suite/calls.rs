//! The storage suite, calls half: the call-state table (seed 000 §6.1) on every engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use uuid::Uuid;
use voice_reference_server::store::{CallRow, Store, StoreError};
use voice_reference_server::telephony::{CallStatus, Carrier, Direction};

use super::{at, stored_user};

on_every_engine!(
    calls_round_trip,
    status_changes_are_conditional,
    active_calls
);

fn call(id: &str, user_id: Uuid, session_id: Option<Uuid>, offset_ms: i64) -> CallRow {
    CallRow {
        call_id: id.into(),
        user_id,
        session_id,
        provider: Carrier::Telnyx,
        direction: Direction::Outbound,
        status: CallStatus::Initiated,
        from_number: Some("+14155550100".into()),
        to_number: Some("+442071838750".into()),
        metadata: json!({"campaign": "c-1", "attempt": 2}),
        created_at: at(offset_ms),
        updated_at: at(offset_ms),
        ended_at: None,
    }
}

async fn calls_round_trip(store: Store) {
    let u = stored_user(&store, "calls@example.com").await;
    let session = Uuid::new_v4();
    let c = call("v3:round-trip", u.id, Some(session), 0);
    store.insert_call(&c).await.unwrap();
    assert_eq!(store.call("v3:round-trip").await.unwrap(), Some(c.clone()));
    assert!(store.call("v3:nobody").await.unwrap().is_none());
    assert!(matches!(
        store.insert_call(&c).await,
        Err(StoreError::Duplicate)
    ));
    let mut bare = call("CAbare", u.id, None, 5);
    bare.from_number = None;
    bare.metadata = json!({});
    store.insert_call(&bare).await.unwrap();
    assert_eq!(store.call("CAbare").await.unwrap(), Some(bare));
}

async fn status_changes_are_conditional(store: Store) {
    let u = stored_user(&store, "status@example.com").await;
    let mut c = call("CAstatus", u.id, None, 0);
    store.insert_call(&c).await.unwrap();
    c.status = CallStatus::Ringing;
    c.updated_at = at(10);
    assert!(
        store
            .update_call_status(&c, CallStatus::Initiated)
            .await
            .unwrap()
    );
    // A second change from the old status loses: the stored status is no longer `initiated`.
    let mut stale = c.clone();
    stale.status = CallStatus::Failed;
    assert!(
        !store
            .update_call_status(&stale, CallStatus::Initiated)
            .await
            .unwrap()
    );
    c.status = CallStatus::Failed;
    c.ended_at = Some(at(20));
    c.updated_at = at(20);
    c.metadata = json!({"reason": "busy"});
    assert!(
        store
            .update_call_status(&c, CallStatus::Ringing)
            .await
            .unwrap()
    );
    assert_eq!(store.call("CAstatus").await.unwrap(), Some(c));
}

async fn active_calls(store: Store) {
    let u = stored_user(&store, "active@example.com").await;
    let other = stored_user(&store, "other@example.com").await;
    let session = Uuid::new_v4();
    store
        .insert_call(&call("CA2", u.id, Some(session), 20))
        .await
        .unwrap();
    store
        .insert_call(&call("CA1", u.id, None, 10))
        .await
        .unwrap();
    store
        .insert_call(&call("CAo", other.id, None, 0))
        .await
        .unwrap();
    let mut ended = call("CAend", u.id, None, 30);
    store.insert_call(&ended).await.unwrap();
    ended.status = CallStatus::Failed;
    ended.ended_at = Some(at(31));
    assert!(
        store
            .update_call_status(&ended, CallStatus::Initiated)
            .await
            .unwrap()
    );

    let mine: Vec<String> = store
        .active_calls_of(u.id, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.call_id)
        .collect();
    assert_eq!(mine, ["CA1", "CA2"]);
    assert_eq!(store.active_calls_of(u.id, 1).await.unwrap().len(), 1);
    let mut all = store.all_active_calls().await.unwrap();
    all.sort();
    assert_eq!(
        all,
        vec![
            ("CA1".to_owned(), None),
            ("CA2".to_owned(), Some(session)),
            ("CAo".to_owned(), None)
        ]
    );
}
