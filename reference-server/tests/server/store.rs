//! The conversation is stored append-only: processing an utterance must not read anything that
//! grows with the conversation (so its cost stays flat), and the 0002 migration must carry
//! conversations stored by the old JSON `context` over.

use sqlx::Row;
use sqlx::sqlite::SqlitePoolOptions;
use voice_reference_server::conversation::process_text;
use voice_reference_server::store::Store;

use crate::common::TestApp;

/// Proves flatness without timing: once the hub knows the session, every stored message and
/// the session row itself are made undecodable, and 300 more utterances still go through.
/// A text path that re-read the session or its messages (the old O(n) JSON rewrite) fails.
#[tokio::test]
async fn processing_a_text_reads_neither_the_session_row_nor_the_messages() {
    let app = TestApp::new().await;
    let token = app.user("a@example.com").await;
    let id = app.session(&token, "gemini").await;
    let sid = uuid::Uuid::parse_str(&id).unwrap();
    process_text(&app.state, sid, "hello", Some("m-0".into()))
        .await
        .unwrap();

    let side = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE session_messages SET at = 'not a timestamp' WHERE session_id = ?")
        .bind(&id)
        .execute(&side)
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET metadata = 'not json', config = 'not json' WHERE id = ?")
        .bind(&id)
        .execute(&side)
        .await
        .unwrap();
    assert!(app.state.store.session(sid).await.is_err());
    assert!(app.state.store.messages(sid).await.is_err());

    for n in 1..=300 {
        process_text(&app.state, sid, &format!("this is great {n}"), None)
            .await
            .unwrap();
    }

    let row = sqlx::query(
        "SELECT (SELECT message_count FROM sessions WHERE id = ?1) AS counted, \
                (SELECT sentiment FROM sessions WHERE id = ?1) AS sentiment, \
                (SELECT COUNT(*) FROM session_messages WHERE session_id = ?1) AS messages, \
                (SELECT MAX(position) FROM session_messages WHERE session_id = ?1) AS last, \
                (SELECT COUNT(*) FROM session_insights WHERE session_id = ?1) AS insights",
    )
    .bind(&id)
    .fetch_one(&side)
    .await
    .unwrap();
    assert_eq!(row.get::<i64, _>("counted"), 301);
    assert_eq!(row.get::<i64, _>("messages"), 301);
    assert_eq!(row.get::<i64, _>("last"), 300);
    assert_eq!(row.get::<i64, _>("insights"), 301);
    assert_eq!(row.get::<String, _>("sentiment"), "positive");
}

/// A database migrated by 0001 only, with a conversation in `sessions.context`, is upgraded
/// by `Store::connect`: messages, insights, counter and sentiment move to the new schema.
#[tokio::test]
async fn migration_moves_the_json_context_into_the_new_tables() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        manifest.join("migrations/sqlite/0001_initial.sql"),
        old.join("0001_initial.sql"),
    )
    .unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let user = uuid::Uuid::new_v4();
    let session = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO users VALUES (?, 'a@example.com', 'A', 'x', 'user', '2024-01-01T00:00:00Z')",
    )
    .bind(user.to_string())
    .execute(&pool)
    .await
    .unwrap();
    let context = serde_json::json!({
        "messages": [
            {"speaker": "customer", "text": "hello", "provider": "gemini", "message_id": "m-1",
             "at": "2024-01-01T00:00:01.000Z"},
            {"speaker": "customer", "text": "this is bad", "provider": "openai",
             "at": "2024-01-01T00:00:02.500Z"},
        ],
        "sentiment": "negative",
        "insights": [
            {"insight_type": "sentiment", "content": "neutral", "confidence": 0.5, "provider": "gemini"},
            {"insight_type": "sentiment", "content": "negative", "confidence": 0.7, "provider": "openai"},
        ],
    });
    sqlx::query(
        "INSERT INTO sessions (id, user_id, provider, status, metadata, config, context, \
         message_count, created_at, updated_at) \
         VALUES (?, ?, 'openai', 'active', '{}', '{}', ?, 2, '2024-01-01T00:00:00Z', '2024-01-01T00:00:02Z')",
    )
    .bind(session.to_string())
    .bind(user.to_string())
    .bind(context.to_string())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::connect(&url).await.unwrap();
    let row = store.session(session).await.unwrap().unwrap();
    assert_eq!(row.context.message_count, 2);
    assert_eq!(row.context.sentiment.as_deref(), Some("negative"));
    let messages = store.messages(session).await.unwrap();
    let texts: Vec<_> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello", "this is bad"]);
    assert_eq!(messages[0].message_id.as_deref(), Some("m-1"));
    assert_eq!(messages[1].message_id, None);
    assert_eq!(messages[1].at.timestamp_millis() % 1000, 500);
    store.close().await;
}

/// The closed vocabularies are checked where rows are read: a provider or status the API
/// cannot produce (written behind the server's back) makes the read fail instead of reaching
/// a handler as a string nobody validated.
#[tokio::test]
async fn a_row_outside_the_vocabulary_is_refused_at_the_storage_edge() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.db").display());
    let store = Store::connect(&url).await.unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let user = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO users VALUES (?, 'a@example.com', 'A', 'x', 'user', '2024-01-01T00:00:00Z')",
    )
    .bind(user.to_string())
    .execute(&pool)
    .await
    .unwrap();
    let insert = |provider: &'static str, status: &'static str| {
        let id = uuid::Uuid::new_v4();
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, provider, status, metadata, config, context, \
                 message_count, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, '{}', '{}', '{}', 0, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
            )
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(provider)
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
            id
        }
    };
    let sound = insert("deepgram", "ended").await;
    let row = store.session(sound).await.unwrap().unwrap();
    assert_eq!(
        (row.provider.as_str(), row.status.as_str()),
        ("deepgram", "ended")
    );
    let user_row = store.user_by_id(user).await.unwrap().unwrap();
    assert_eq!(user_row.role, voice_reference_server::Role::User);

    let stranger = insert("skynet", "active").await;
    assert!(store.session(stranger).await.is_err());
    let paused = insert("gemini", "paused").await;
    assert!(store.session(paused).await.is_err());
    pool.close().await;
    store.close().await;
}
