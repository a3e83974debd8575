//! The storage suite, sessions half: sessions, conversation, switch history, stream events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use uuid::Uuid;
use voice_reference_server::ProviderName;
use voice_reference_server::store::{
    Context, ContextMessage, InsightRecord, SessionFilter, SessionRow, Store, StoreError,
    SwitchRecord, now,
};

use super::{at, session, stored_user};

on_every_engine!(sessions, conversation, switch_history, events);

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
        status: status.map(|s| s.parse().unwrap()),
        provider: provider.map(|p| p.parse().unwrap()),
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
    ended.status = voice_reference_server::SessionStatus::Ended;
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
        provider: ProviderName::Gemini,
        message_id: (n % 2 == 0).then(|| format!("m-{n}")),
        at: at(1_000 + n * 1_001),
    };
    let insight = InsightRecord {
        insight_type: "sentiment".into(),
        content: "neutral".into(),
        confidence: 0.5 + n as f64 / 100.0,
        provider: ProviderName::Gemini,
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

    // The refused write left no transaction open: the next one lands whole.
    let (message, insight) = utterance(5);
    let context = Context {
        message_count: 6,
        sentiment: Some("mood-5".into()),
    };
    store
        .append_utterance(s.id, 5, &message, &insight, &context)
        .await
        .unwrap();
    assert_eq!(store.messages(s.id).await.unwrap().len(), 6);
    let row = store.session(s.id).await.unwrap().unwrap();
    assert_eq!(row.context.message_count, 6);
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
        from_provider: from.parse().unwrap(),
        to_provider: to.parse().unwrap(),
        context_preserved: kept,
        success: true,
        error_message: None,
        reason: reason.map(Into::into),
        switched_at: at(ms),
    };
    s.provider = ProviderName::OpenAi;
    s.updated_at = at(10);
    let first = switch("gemini", "openai", 1, Some("latency"), 10);
    store.record_switch(&s, &first, false).await.unwrap();
    assert_eq!(store.messages(s.id).await.unwrap().len(), 1, "kept");

    s.provider = ProviderName::Deepgram;
    s.context = Context::default();
    s.updated_at = now();
    let mut second = switch("openai", "deepgram", 0, None, 20);
    second.success = false;
    second.error_message = Some("provider down".into());
    store.record_switch(&s, &second, true).await.unwrap();
    assert!(store.messages(s.id).await.unwrap().is_empty(), "reset");

    let row = store.session(s.id).await.unwrap().unwrap();
    assert_eq!(row.provider.as_str(), "deepgram");
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
