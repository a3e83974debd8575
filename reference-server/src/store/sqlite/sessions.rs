//! SQLite: sessions, their append-only conversation and their switch history.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, json_col, to_json, uuid_col};
use crate::store::traits::{ConversationStore, SessionStore, StoreFuture, SwitchStore};
use crate::store::{
    Context, ContextMessage, InsightRecord, SessionFilter, SessionRow, StoreError, SwitchRecord,
};

/// `SELECT` of the columns of a [`SessionRow`] (never the retired `context` document),
/// followed by `$rest`; a macro so that the SQL stays a static string.
macro_rules! select_sessions {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, provider, status, metadata, config, message_count, sentiment, \
             created_at, updated_at, ended_at FROM sessions ",
            $rest
        )
    };
}

fn session_from_row(row: &SqliteRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: uuid_col(row, "id")?,
        user_id: uuid_col(row, "user_id")?,
        provider: row.try_get("provider")?,
        status: row.try_get("status")?,
        metadata: json_col(row, "metadata")?,
        config: json_col(row, "config")?,
        context: Context {
            message_count: row.try_get("message_count")?,
            sentiment: row.try_get("sentiment")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

fn switch_from_row(row: &SqliteRow) -> Result<SwitchRecord, StoreError> {
    Ok(SwitchRecord {
        session_id: uuid_col(row, "session_id")?,
        from_provider: row.try_get("from_provider")?,
        to_provider: row.try_get("to_provider")?,
        context_preserved: row.try_get("context_preserved")?,
        success: row.try_get("success")?,
        error_message: row.try_get("error_message")?,
        reason: row.try_get("reason")?,
        switched_at: row.try_get("switched_at")?,
    })
}

impl SessionStore for SqliteStore {
    fn insert_session<'a>(&'a self, s: &'a SessionRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, provider, status, metadata, config, context, message_count, sentiment, created_at, updated_at, ended_at) \
                 VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, ?, ?)",
            )
            .bind(s.id.to_string())
            .bind(s.user_id.to_string())
            .bind(&s.provider)
            .bind(&s.status)
            .bind(to_json(&s.metadata)?)
            .bind(to_json(&s.config)?)
            .bind(s.context.message_count)
            .bind(&s.context.sentiment)
            .bind(s.created_at)
            .bind(s.updated_at)
            .bind(s.ended_at)
            .execute(&self.writer)
            .await
            .map_err(crate::store::map_unique)?;
            Ok(())
        })
    }

    fn session(&self, id: Uuid) -> StoreFuture<'_, Option<SessionRow>> {
        Box::pin(async move {
            let row = sqlx::query(select_sessions!("WHERE id = ?"))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(session_from_row).transpose()
        })
    }

    fn session_of_other_user(&self, user_id: Uuid) -> StoreFuture<'_, Option<SessionRow>> {
        Box::pin(async move {
            let row = sqlx::query(select_sessions!(
                "WHERE user_id <> ? ORDER BY rowid DESC LIMIT 1"
            ))
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(session_from_row).transpose()
        })
    }

    fn list_sessions<'a>(
        &'a self,
        user_id: Uuid,
        filter: &'a SessionFilter,
    ) -> StoreFuture<'a, (Vec<SessionRow>, i64)> {
        Box::pin(async move {
            let rows = sqlx::query(select_sessions!(
                "WHERE user_id = ?1 AND (?2 IS NULL OR status = ?2) \
                 AND (?3 IS NULL OR provider = ?3) ORDER BY rowid DESC LIMIT ?4 OFFSET ?5"
            ))
            .bind(user_id.to_string())
            .bind(&filter.status)
            .bind(&filter.provider)
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR status = ?2) \
                 AND (?3 IS NULL OR provider = ?3)",
            )
            .bind(user_id.to_string())
            .bind(&filter.status)
            .bind(&filter.provider)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
            let items = rows
                .iter()
                .map(session_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, total))
        })
    }

    fn update_session<'a>(&'a self, s: &'a SessionRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "UPDATE sessions SET provider = ?, status = ?, metadata = ?, message_count = ?, \
                 sentiment = ?, updated_at = ?, ended_at = ? WHERE id = ?",
            )
            .bind(&s.provider)
            .bind(&s.status)
            .bind(to_json(&s.metadata)?)
            .bind(s.context.message_count)
            .bind(&s.context.sentiment)
            .bind(s.updated_at)
            .bind(s.ended_at)
            .bind(s.id.to_string())
            .execute(&self.writer)
            .await?;
            Ok(())
        })
    }
}

impl ConversationStore for SqliteStore {
    fn append_utterance<'a>(
        &'a self,
        session_id: Uuid,
        position: i64,
        message: &'a ContextMessage,
        insight: &'a InsightRecord,
        context: &'a Context,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let id = session_id.to_string();
            // One round trip to the writer's thread for the whole transaction.
            let query = sqlx::query(
                "BEGIN IMMEDIATE; \
                 INSERT INTO session_messages (session_id, position, speaker, text, provider, message_id, at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?); \
                 INSERT INTO session_insights (session_id, position, insight_type, content, confidence, provider) \
                 VALUES (?, ?, ?, ?, ?, ?); \
                 UPDATE sessions SET message_count = ?, sentiment = ?, updated_at = ? WHERE id = ?; \
                 COMMIT",
            )
            .bind(&id)
            .bind(position)
            .bind(&message.speaker)
            .bind(&message.text)
            .bind(&message.provider)
            .bind(&message.message_id)
            .bind(message.at)
            .bind(&id)
            .bind(position)
            .bind(&insight.insight_type)
            .bind(&insight.content)
            .bind(insight.confidence)
            .bind(&insight.provider)
            .bind(context.message_count)
            .bind(&context.sentiment)
            .bind(message.at)
            .bind(&id);
            self.atomically(query)
                .await
                .map_err(crate::store::map_unique)?;
            Ok(())
        })
    }

    fn messages(&self, session_id: Uuid) -> StoreFuture<'_, Vec<ContextMessage>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT speaker, text, provider, message_id, at FROM session_messages \
                 WHERE session_id = ? ORDER BY position ASC",
            )
            .bind(session_id.to_string())
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(ContextMessage {
                        speaker: row.try_get("speaker")?,
                        text: row.try_get("text")?,
                        provider: row.try_get("provider")?,
                        message_id: row.try_get("message_id")?,
                        at: row.try_get("at")?,
                    })
                })
                .collect()
        })
    }
}

impl SwitchStore for SqliteStore {
    fn record_switch<'a>(
        &'a self,
        s: &'a SessionRow,
        switch: &'a SwitchRecord,
        reset_context: bool,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let id = s.id.to_string();
            // One round trip to the writer's thread for the whole transaction.
            let sql = if reset_context {
                "BEGIN IMMEDIATE; \
                 DELETE FROM session_messages WHERE session_id = ?; \
                 DELETE FROM session_insights WHERE session_id = ?; \
                 UPDATE sessions SET provider = ?, message_count = ?, sentiment = ?, updated_at = ? WHERE id = ?; \
                 INSERT INTO switch_history (session_id, from_provider, to_provider, context_preserved, success, error_message, reason, switched_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?); \
                 COMMIT"
            } else {
                "BEGIN IMMEDIATE; \
                 UPDATE sessions SET provider = ?, message_count = ?, sentiment = ?, updated_at = ? WHERE id = ?; \
                 INSERT INTO switch_history (session_id, from_provider, to_provider, context_preserved, success, error_message, reason, switched_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?); \
                 COMMIT"
            };
            let mut query = sqlx::query(sql);
            if reset_context {
                query = query.bind(&id).bind(&id);
            }
            let query = query
                .bind(&s.provider)
                .bind(s.context.message_count)
                .bind(&s.context.sentiment)
                .bind(s.updated_at)
                .bind(&id)
                .bind(switch.session_id.to_string())
                .bind(&switch.from_provider)
                .bind(&switch.to_provider)
                .bind(switch.context_preserved)
                .bind(switch.success)
                .bind(&switch.error_message)
                .bind(&switch.reason)
                .bind(switch.switched_at);
            self.atomically(query).await?;
            Ok(())
        })
    }

    fn switch_history(&self, session_id: Uuid) -> StoreFuture<'_, Vec<SwitchRecord>> {
        Box::pin(async move {
            let rows =
                sqlx::query("SELECT * FROM switch_history WHERE session_id = ? ORDER BY id ASC")
                    .bind(session_id.to_string())
                    .fetch_all(&self.pool)
                    .await?;
            rows.iter().map(switch_from_row).collect()
        })
    }
}
