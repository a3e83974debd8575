//! The storage suite, accounts half: users, refresh tokens, revoked token ids, cut-offs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use uuid::Uuid;
use voice_reference_server::store::{Store, StoreError};

use super::{at, stored_user, user};

on_every_engine!(users, refresh_tokens, revoked_jtis_and_cutoffs);

async fn users(store: Store) {
    let a = stored_user(&store, "a@example.com").await;
    let by_email = store.user_by_email("a@example.com").await.unwrap();
    let by_id = store.user_by_id(a.id).await.unwrap();
    for found in [by_email, by_id] {
        let found = found.expect("user found");
        assert_eq!(
            (
                found.id,
                &found.email,
                &found.display_name,
                &found.password_hash
            ),
            (a.id, &a.email, &a.display_name, &a.password_hash)
        );
        assert_eq!((found.role.as_str(), found.created_at), ("user", at(0)));
    }
    let mut twin = user("a@example.com");
    twin.display_name = "another".into();
    assert!(matches!(
        store.insert_user(&twin).await,
        Err(StoreError::Duplicate)
    ));
    assert!(
        store
            .user_by_email("b@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.user_by_id(Uuid::new_v4()).await.unwrap().is_none());
}

async fn refresh_tokens(store: Store) {
    let a = stored_user(&store, "a@example.com").await;
    store
        .insert_refresh_token("hash-1", a.id, "fam-1", 1_000, 2_000)
        .await
        .unwrap();
    store
        .insert_refresh_token("hash-2", a.id, "fam-1", 1_500, 2_500)
        .await
        .unwrap();
    let row = store.refresh_token("hash-1").await.unwrap().expect("token");
    assert_eq!(
        (row.user_id, row.family.as_str(), row.used, row.revoked),
        (a.id, "fam-1", false, false)
    );
    assert_eq!((row.created_at_ms, row.expires_at), (1_000, 2_000));

    assert!(store.consume_refresh_token("hash-1").await.unwrap());
    assert!(!store.consume_refresh_token("hash-1").await.unwrap());
    assert!(!store.consume_refresh_token("no-such-hash").await.unwrap());
    assert!(store.refresh_token("hash-1").await.unwrap().unwrap().used);

    store.revoke_user_refresh_tokens(a.id).await.unwrap();
    for hash in ["hash-1", "hash-2"] {
        assert!(store.refresh_token(hash).await.unwrap().unwrap().revoked);
    }
    assert!(store.refresh_token("no-such-hash").await.unwrap().is_none());
}

async fn revoked_jtis_and_cutoffs(store: Store) {
    let a = Uuid::new_v4();
    assert!(!store.is_jti_revoked("jti-1").await.unwrap());
    store.insert_revoked_jti("jti-1", a, 9_999).await.unwrap();
    // Revoking twice is not an error.
    store.insert_revoked_jti("jti-1", a, 9_999).await.unwrap();
    assert!(store.is_jti_revoked("jti-1").await.unwrap());
    assert!(!store.is_jti_revoked("jti-2").await.unwrap());

    assert_eq!(store.user_cutoff(a).await.unwrap(), None);
    store.set_user_cutoff(a, 100).await.unwrap();
    store.set_user_cutoff(a, 50).await.unwrap();
    assert_eq!(
        store.user_cutoff(a).await.unwrap(),
        Some(100),
        "never lowered"
    );
    store.set_user_cutoff(a, 200).await.unwrap();
    assert_eq!(store.user_cutoff(a).await.unwrap(), Some(200));
    assert_eq!(store.user_cutoff(Uuid::new_v4()).await.unwrap(), None);

    // What a cache warm-up loads: live token ids and recent cut-offs only.
    store.insert_revoked_jti("jti-old", a, 10).await.unwrap();
    assert_eq!(
        store.live_revoked_jtis(1_000).await.unwrap(),
        vec![("jti-1".to_owned(), 9_999)]
    );
    let b = Uuid::new_v4();
    store.set_user_cutoff(b, 5).await.unwrap();
    assert_eq!(store.user_cutoffs_since(150).await.unwrap(), vec![(a, 200)]);
    assert_eq!(store.user_cutoffs_since(0).await.unwrap().len(), 2);
}
