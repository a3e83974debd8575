//! One storage suite for every engine: each case is written once as an async fn taking a
//! [`Store`] and run against SQLite (a temp file) and PostgreSQL (a database of its own), so
//! the two implementations cannot drift apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;
use voice_reference_server::store::{
    Context, ContextMessage, InsightRecord, SessionFilter, SessionRow, Store, StoreError,
    SwitchRecord, UserRow, now,
};

use crate::pg::PgDatabase;

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("suite.db").display()
    );
    let store = Store::connect(&url).await.expect("SQLite store");
    assert_eq!(store.engine(), "sqlite");
    case(store.clone()).await;
    store.close().await;
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let store = Store::connect(&db.url).await.expect("PostgreSQL store");
    assert_eq!(store.engine(), "postgres");
    case(store.clone()).await;
    store.close().await;
    drop(db);
}

/// Runs the case `$name` once per engine, as `$name::sqlite` and `$name::postgres`.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::on_sqlite(super::$name).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::on_postgres(super::$name).await;
            }
        }
    )*};
}

on_every_engine!(
    users,
    refresh_tokens,
    revoked_jtis_and_cutoffs,
    sessions,
    conversation,
    switch_history,
    events,
);

/// A time at millisecond precision, `offset_ms` after a fixed instant.
fn at(offset_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_760_000_000_000 + offset_ms).expect("valid instant")
}

fn user(email: &str) -> UserRow {
    UserRow {
        id: Uuid::new_v4(),
        email: email.into(),
        display_name: format!("name of {email}"),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
        role: "user".into(),
        created_at: at(0),
    }
}

async fn stored_user(store: &Store, email: &str) -> UserRow {
    let u = user(email);
    store.insert_user(&u).await.expect("insert user");
    u
}

fn session(user_id: Uuid, provider: &str, offset_ms: i64) -> SessionRow {
    SessionRow {
        id: Uuid::new_v4(),
        user_id,
        provider: provider.into(),
        status: "active".into(),
        metadata: json!({"customer": "c-1", "tags": ["a", "b"], "score": 0.25}),
        config: json!({"language": "en"}),
        context: Context::default(),
        created_at: at(offset_ms),
        updated_at: at(offset_ms),
        ended_at: None,
    }
}

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

async fn sessions(store: Store) {
    let a = stored_user(&store, "a@example.com").await;
    let b = stored_user(&store, "b@example.com").await;
    let mut mine = Vec::new();
    for (n, provider) in ["gemini", "openai", "gemini", "deepgram"]
        .iter()
        .enumerate()
    {
        let s = session(a.id, provider, n as i64);
        store.insert_session(&s).await.unwrap();
        mine.push(s);
    }
    let theirs = session(b.id, "openai", 10);
    store.insert_session(&theirs).await.unwrap();

    let got = store.session(mine[1].id).await.unwrap().expect("session");
    assert_eq!((got.user_id, got.provider.as_str()), (a.id, "openai"));
    assert_eq!(
        (&got.metadata, &got.config),
        (&mine[1].metadata, &mine[1].config)
    );
    assert_eq!((got.created_at, got.ended_at), (at(1), None));
    assert!(store.session(Uuid::new_v4()).await.unwrap().is_none());

    let page = |status: Option<&str>, provider: Option<&str>, limit, offset| SessionFilter {
        status: status.map(Into::into),
        provider: provider.map(Into::into),
        limit,
        offset,
    };
    let ids = |rows: &[SessionRow]| rows.iter().map(|s| s.id).collect::<Vec<_>>();
    let (rows, total) = store
        .list_sessions(a.id, &page(None, None, 2, 0))
        .await
        .unwrap();
    assert_eq!(
        (ids(&rows), total),
        (vec![mine[3].id, mine[2].id], 4),
        "newest first"
    );
    let (rows, _) = store
        .list_sessions(a.id, &page(None, None, 2, 2))
        .await
        .unwrap();
    assert_eq!(ids(&rows), vec![mine[1].id, mine[0].id]);
    let (rows, total) = store
        .list_sessions(a.id, &page(None, Some("gemini"), 10, 0))
        .await
        .unwrap();
    assert_eq!((ids(&rows), total), (vec![mine[2].id, mine[0].id], 2));

    let mut ended = mine[0].clone();
    ended.status = "ended".into();
    ended.ended_at = Some(at(500));
    ended.updated_at = at(500);
    ended.metadata = json!({"outcome": "resolved"});
    store.update_session(&ended).await.unwrap();
    let (rows, total) = store
        .list_sessions(a.id, &page(Some("ended"), None, 10, 0))
        .await
        .unwrap();
    assert_eq!((ids(&rows), total), (vec![ended.id], 1));
    let back = &rows[0];
    assert_eq!((back.ended_at, back.updated_at), (Some(at(500)), at(500)));
    assert_eq!(back.metadata, json!({"outcome": "resolved"}));
    let (_, total) = store
        .list_sessions(a.id, &page(Some("active"), Some("gemini"), 10, 0))
        .await
        .unwrap();
    assert_eq!(total, 1);

    let other = store
        .session_of_other_user(a.id)
        .await
        .unwrap()
        .expect("b's");
    assert_eq!(other.id, theirs.id);
    let other = store
        .session_of_other_user(b.id)
        .await
        .unwrap()
        .expect("a's");
    assert_eq!(other.id, mine[3].id, "the most recent one");
}

fn utterance(n: i64) -> (ContextMessage, InsightRecord) {
    let message = ContextMessage {
        speaker: "customer".into(),
        text: format!("utterance {n}"),
        provider: "gemini".into(),
        message_id: (n % 2 == 0).then(|| format!("m-{n}")),
        at: at(1_000 + n * 1_001),
    };
    let insight = InsightRecord {
        insight_type: "sentiment".into(),
        content: "neutral".into(),
        confidence: 0.5 + n as f64 / 100.0,
        provider: "gemini".into(),
    };
    (message, insight)
}

async fn conversation(store: Store) {
    let a = stored_user(&store, "a@example.com").await;
    let s = session(a.id, "gemini", 0);
    store.insert_session(&s).await.unwrap();
    let mut expected = Vec::new();
    for n in 0..5 {
        let (message, insight) = utterance(n);
        let context = Context {
            message_count: n + 1,
            sentiment: Some(format!("mood-{n}")),
        };
        store
            .append_utterance(s.id, n, &message, &insight, &context)
            .await
            .unwrap();
        expected.push(message);
    }
    assert_eq!(
        store.messages(s.id).await.unwrap(),
        expected,
        "oldest first"
    );
    let row = store.session(s.id).await.unwrap().unwrap();
    assert_eq!(row.context.message_count, 5);
    assert_eq!(row.context.sentiment.as_deref(), Some("mood-4"));
    assert_eq!(row.updated_at, expected[4].at);

    // A position already taken is refused and changes nothing.
    let (message, insight) = utterance(9);
    let context = Context {
        message_count: 99,
        sentiment: None,
    };
    let again = store
        .append_utterance(s.id, 2, &message, &insight, &context)
        .await;
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
    assert_eq!(store.messages(s.id).await.unwrap().len(), 5);
    assert_eq!(
        store
            .session(s.id)
            .await
            .unwrap()
            .unwrap()
            .context
            .message_count,
        5
    );
    assert!(store.messages(Uuid::new_v4()).await.unwrap().is_empty());
}

async fn switch_history(store: Store) {
    let a = stored_user(&store, "a@example.com").await;
    let mut s = session(a.id, "gemini", 0);
    store.insert_session(&s).await.unwrap();
    let (message, insight) = utterance(0);
    s.context = Context {
        message_count: 1,
        sentiment: Some("neutral".into()),
    };
    store
        .append_utterance(s.id, 0, &message, &insight, &s.context)
        .await
        .unwrap();

    let switch = |from: &str, to: &str, kept, reason: Option<&str>, ms| SwitchRecord {
        session_id: s.id,
        from_provider: from.into(),
        to_provider: to.into(),
        context_preserved: kept,
        success: true,
        error_message: None,
        reason: reason.map(Into::into),
        switched_at: at(ms),
    };
    s.provider = "openai".into();
    s.updated_at = at(10);
    let first = switch("gemini", "openai", 1, Some("latency"), 10);
    store.record_switch(&s, &first, false).await.unwrap();
    assert_eq!(store.messages(s.id).await.unwrap().len(), 1, "kept");

    s.provider = "deepgram".into();
    s.context = Context::default();
    s.updated_at = now();
    let mut second = switch("openai", "deepgram", 0, None, 20);
    second.success = false;
    second.error_message = Some("provider down".into());
    store.record_switch(&s, &second, true).await.unwrap();
    assert!(store.messages(s.id).await.unwrap().is_empty(), "reset");

    let row = store.session(s.id).await.unwrap().unwrap();
    assert_eq!(row.provider, "deepgram");
    assert_eq!(row.context, Context::default());
    let history = store.switch_history(s.id).await.unwrap();
    let seen: Vec<_> = history
        .iter()
        .map(|h| {
            (
                h.from_provider.as_str(),
                h.to_provider.as_str(),
                h.context_preserved,
                h.success,
                h.error_message.as_deref(),
                h.reason.as_deref(),
                h.switched_at,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("gemini", "openai", 1, true, None, Some("latency"), at(10)),
            (
                "openai",
                "deepgram",
                0,
                false,
                Some("provider down"),
                None,
                at(20)
            ),
        ]
    );
    assert!(history.iter().all(|h| h.session_id == s.id));
    assert!(
        store
            .switch_history(Uuid::new_v4())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn events(store: Store) {
    let (s, other) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(store.last_event_seq(s).await.unwrap(), 0);
    assert!(store.events_after(s, 0, 10).await.unwrap().is_empty());
    // Frames come back byte for byte: key order, spacing-free numbers, unicode.
    let frame = |seq: u64| {
        format!(
            r#"{{"type":"transcript","seq":{seq},"timestamp":"2026-01-01T00:00:00.000Z","text":"héllo {seq}","confidence":0.8500000000000001,"a":1}}"#
        )
    };
    for seq in 1..=5 {
        store.append_event(s, seq, &frame(seq)).await.unwrap();
    }
    store.append_event(other, 1, &frame(1)).await.unwrap();
    let all = store.events_after(s, 0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(all.iter().all(|e| e.frame == frame(e.seq)), "{all:?}");
    let page = store.events_after(s, 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    assert!(store.events_after(s, 5, 10).await.unwrap().is_empty());
    assert_eq!(store.last_event_seq(s).await.unwrap(), 5);
    assert_eq!(store.last_event_seq(other).await.unwrap(), 1);

    let taken = store.append_event(s, 3, &frame(33)).await;
    assert!(matches!(taken, Err(StoreError::Duplicate)), "{taken:?}");
    assert_eq!(
        store.events_after(s, 2, 1).await.unwrap()[0].frame,
        frame(3)
    );
}
