//! PostgreSQL: sessions, their append-only conversation and their switch history.

use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::PgStore;
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

fn session_from_row(row: &PgRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        provider: row.try_get("provider")?,
        status: row.try_get("status")?,
        metadata: row.try_get("metadata")?,
        config: row.try_get("config")?,
        context: Context {
            message_count: row.try_get("message_count")?,
            sentiment: row.try_get("sentiment")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

fn switch_from_row(row: &PgRow) -> Result<SwitchRecord, StoreError> {
    Ok(SwitchRecord {
        session_id: row.try_get("session_id")?,
        from_provider: row.try_get("from_provider")?,
        to_provider: row.try_get("to_provider")?,
        context_preserved: row.try_get("context_preserved")?,
        success: row.try_get("success")?,
        error_message: row.try_get("error_message")?,
        reason: row.try_get("reason")?,
        switched_at: row.try_get("switched_at")?,
    })
}

impl SessionStore for PgStore {
    fn insert_session<'a>(&'a self, s: &'a SessionRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, provider, status, metadata, config, message_count, sentiment, created_at, updated_at, ended_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(s.id)
            .bind(s.user_id)
            .bind(&s.provider)
            .bind(&s.status)
            .bind(&s.metadata)
            .bind(&s.config)
            .bind(s.context.message_count)
            .bind(&s.context.sentiment)
            .bind(s.created_at)
            .bind(s.updated_at)
            .bind(s.ended_at)
            .execute(&self.pool)
            .await
            .map_err(crate::store::map_unique)?;
            Ok(())
        })
    }

    fn session(&self, id: Uuid) -> StoreFuture<'_, Option<SessionRow>> {
        Box::pin(async move {
            let row = sqlx::query(select_sessions!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(session_from_row).transpose()
        })
    }

    fn session_of_other_user(&self, user_id: Uuid) -> StoreFuture<'_, Option<SessionRow>> {
        Box::pin(async move {
            let row = sqlx::query(select_sessions!(
                "WHERE user_id <> $1 ORDER BY ord DESC LIMIT 1"
            ))
            .bind(user_id)
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
                "WHERE user_id = $1 AND ($2::text IS NULL OR status = $2) \
                 AND ($3::text IS NULL OR provider = $3) ORDER BY ord DESC LIMIT $4 OFFSET $5"
            ))
            .bind(user_id)
            .bind(&filter.status)
            .bind(&filter.provider)
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND ($2::text IS NULL OR status = $2) \
                 AND ($3::text IS NULL OR provider = $3)",
            )
            .bind(user_id)
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
                "UPDATE sessions SET provider = $1, status = $2, metadata = $3, message_count = $4, \
                 sentiment = $5, updated_at = $6, ended_at = $7 WHERE id = $8",
            )
            .bind(&s.provider)
            .bind(&s.status)
            .bind(&s.metadata)
            .bind(s.context.message_count)
            .bind(&s.context.sentiment)
            .bind(s.updated_at)
            .bind(s.ended_at)
            .bind(s.id)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }
}

impl ConversationStore for PgStore {
    fn append_utterance<'a>(
        &'a self,
        session_id: Uuid,
        position: i64,
        message: &'a ContextMessage,
        insight: &'a InsightRecord,
        context: &'a Context,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // One statement (atomic on its own) instead of a transaction of three: one round
            // trip per utterance on the stream path's pool (asynchronous commit, see the module
            // header of `postgres`).
            sqlx::query(
                "WITH m AS (INSERT INTO session_messages \
                   (session_id, position, speaker, text, provider, message_id, at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)), \
                 i AS (INSERT INTO session_insights \
                   (session_id, position, insight_type, content, confidence, provider) \
                   VALUES ($1, $2, $8, $9, $10, $11)) \
                 UPDATE sessions SET message_count = $12, sentiment = $13, updated_at = $7 \
                 WHERE id = $1",
            )
            .bind(session_id)
            .bind(position)
            .bind(&message.speaker)
            .bind(&message.text)
            .bind(&message.provider)
            .bind(&message.message_id)
            .bind(message.at)
            .bind(&insight.insight_type)
            .bind(&insight.content)
            .bind(insight.confidence)
            .bind(&insight.provider)
            .bind(context.message_count)
            .bind(&context.sentiment)
            .execute(&self.events)
            .await
            .map_err(crate::store::map_unique)?;
            Ok(())
        })
    }

    fn messages(&self, session_id: Uuid) -> StoreFuture<'_, Vec<ContextMessage>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT speaker, text, provider, message_id, at FROM session_messages \
                 WHERE session_id = $1 ORDER BY position ASC",
            )
            .bind(session_id)
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

impl SwitchStore for PgStore {
    fn record_switch<'a>(
        &'a self,
        s: &'a SessionRow,
        switch: &'a SwitchRecord,
        reset_context: bool,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let id = s.id;
            let mut tx = self.pool.begin().await?;
            if reset_context {
                for sql in [
                    "DELETE FROM session_messages WHERE session_id = $1",
                    "DELETE FROM session_insights WHERE session_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
            }
            sqlx::query(
                "UPDATE sessions SET provider = $1, message_count = $2, sentiment = $3, updated_at = $4 \
                 WHERE id = $5",
            )
            .bind(&s.provider)
            .bind(s.context.message_count)
            .bind(&s.context.sentiment)
            .bind(s.updated_at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO switch_history (session_id, from_provider, to_provider, context_preserved, success, error_message, reason, switched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(switch.session_id)
            .bind(&switch.from_provider)
            .bind(&switch.to_provider)
            .bind(switch.context_preserved)
            .bind(switch.success)
            .bind(&switch.error_message)
            .bind(&switch.reason)
            .bind(switch.switched_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn switch_history(&self, session_id: Uuid) -> StoreFuture<'_, Vec<SwitchRecord>> {
        Box::pin(async move {
            let rows =
                sqlx::query("SELECT * FROM switch_history WHERE session_id = $1 ORDER BY id ASC")
                    .bind(session_id)
                    .fetch_all(&self.pool)
                    .await?;
            rows.iter().map(switch_from_row).collect()
        })
    }
}
