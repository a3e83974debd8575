//! The SQLite implementation of the store (sqlx, runtime-bound queries, embedded migrations).
//!
//! The conversation is append-only (`session_messages`, `session_insights`): recording an
//! utterance is one short transaction whose cost does not depend on how long the conversation
//! already is, and reading a session never reads its messages.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use uuid::Uuid;

use super::{
    Context, ContextMessage, InsightRecord, RefreshTokenRow, SessionRow, StoreError, SwitchRecord,
    UserRow,
};

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

fn uuid_col(row: &SqliteRow, col: &str) -> Result<Uuid, StoreError> {
    let raw: String = row.try_get(col)?;
    Uuid::parse_str(&raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn json_col(row: &SqliteRow, col: &str) -> Result<serde_json::Value, StoreError> {
    let raw: String = row.try_get(col)?;
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn user_from_row(row: &SqliteRow) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: uuid_col(row, "id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        created_at: row.try_get("created_at")?,
    })
}

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

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Filter and page of a session listing.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

impl Store {
    /// Connects (creating the file when the URL says `mode=rwc`) and runs the migrations.
    pub async fn connect(database_url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL syncs at checkpoints instead of every commit: a commit survives a
            // crash of the process; only a power loss can drop the last few. FULL would cost an
            // fsync per utterance on the stream's hot path.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ----- users -----

    /// Inserts a user; [`StoreError::Duplicate`] when the email exists.
    pub async fn insert_user(&self, user: &UserRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, role, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Duplicate
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// The user with this (lower-cased) email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    // ----- refresh tokens -----

    /// Stores a refresh token by hash.
    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        user_id: Uuid,
        family: &str,
        created_at_ms: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family, used, revoked, created_at_ms, expires_at) \
             VALUES (?, ?, ?, 0, 0, ?, ?)",
        )
        .bind(hash)
        .bind(user_id.to_string())
        .bind(family)
        .bind(created_at_ms)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The refresh token with this hash.
    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshTokenRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(RefreshTokenRow {
                user_id: uuid_col(&row, "user_id")?,
                family: row.try_get("family")?,
                used: row.try_get("used")?,
                revoked: row.try_get("revoked")?,
                created_at_ms: row.try_get("created_at_ms")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Marks the token used; `false` when it already was (atomic, so two racing exchanges
    /// cannot both succeed).
    pub async fn consume_refresh_token(&self, hash: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE token_hash = ? AND used = 0")
                .bind(hash)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes every refresh token of a user.
    pub async fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ?")
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- revocation -----

    /// Records a revoked access-token id.
    pub async fn insert_revoked_jti(
        &self,
        jti: &str,
        user_id: Uuid,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR IGNORE INTO revoked_tokens (jti, user_id, expires_at) VALUES (?, ?, ?)",
        )
        .bind(jti)
        .bind(user_id.to_string())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether the access-token id is revoked.
    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Raises the user's revocation cut-off (Unix ms) to at least `cutoff_ms`.
    pub async fn set_user_cutoff(&self, user_id: Uuid, cutoff_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_revocations (user_id, revoked_before_ms) VALUES (?, ?) \
             ON CONFLICT(user_id) DO UPDATE SET revoked_before_ms = MAX(revoked_before_ms, excluded.revoked_before_ms)",
        )
        .bind(user_id.to_string())
        .bind(cutoff_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's revocation cut-off (Unix ms), if any.
    pub async fn user_cutoff(&self, user_id: Uuid) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT revoked_before_ms FROM user_revocations WHERE user_id = ?")
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("revoked_before_ms")).transpose()?)
    }

    /// Every revoked access-token id that has not expired at `now` (Unix seconds), with its
    /// expiry: what a cache must hold to answer "not revoked" on its own.
    pub async fn live_revoked_jtis(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= ?")
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("jti")?, r.try_get("expires_at")?)))
            .collect()
    }

    /// Every user cut-off at or after `since_ms` (older ones only cover expired tokens).
    pub async fn user_cutoffs_since(&self, since_ms: i64) -> Result<Vec<(Uuid, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, revoked_before_ms FROM user_revocations WHERE revoked_before_ms >= ?",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((uuid_col(r, "user_id")?, r.try_get("revoked_before_ms")?)))
            .collect()
    }

    // ----- sessions -----

    /// Inserts a session.
    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session with this id, whoever owns it.
    pub async fn session(&self, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(select_sessions!("WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Any session of another user (for the `cross-user-leak` fault).
    pub async fn session_of_other_user(
        &self,
        user_id: Uuid,
    ) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(select_sessions!(
            "WHERE user_id <> ? ORDER BY rowid DESC LIMIT 1"
        ))
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// One page of a user's sessions, newest first, and the total matching.
    pub async fn list_sessions(
        &self,
        user_id: Uuid,
        filter: &SessionFilter,
    ) -> Result<(Vec<SessionRow>, i64), StoreError> {
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
    }

    /// Writes provider, status, metadata, counters and timestamps back (never the messages).
    pub async fn update_session(&self, s: &SessionRow) -> Result<(), StoreError> {
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends one utterance at `position` (its message and its insight) and moves the
    /// session's counters on to `context`, atomically: the counter never disagrees with the
    /// rows. Constant work whatever the length of the conversation.
    pub async fn append_utterance(
        &self,
        session_id: Uuid,
        position: i64,
        message: &ContextMessage,
        insight: &InsightRecord,
        context: &Context,
    ) -> Result<(), StoreError> {
        let id = session_id.to_string();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO session_messages (session_id, position, speaker, text, provider, message_id, at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(position)
        .bind(&message.speaker)
        .bind(&message.text)
        .bind(&message.provider)
        .bind(&message.message_id)
        .bind(message.at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO session_insights (session_id, position, insight_type, content, confidence, provider) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(position)
        .bind(&insight.insight_type)
        .bind(&insight.content)
        .bind(insight.confidence)
        .bind(&insight.provider)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sessions SET message_count = ?, sentiment = ?, updated_at = ? WHERE id = ?",
        )
        .bind(context.message_count)
        .bind(&context.sentiment)
        .bind(message.at)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The messages of a session, oldest first (never needed to process an utterance).
    pub async fn messages(&self, session_id: Uuid) -> Result<Vec<ContextMessage>, StoreError> {
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
    }

    /// Updates the session and appends the switch, atomically; with `reset_context` the
    /// session's messages and insights are deleted too (the counters in `s` say zero).
    pub async fn record_switch(
        &self,
        s: &SessionRow,
        switch: &SwitchRecord,
        reset_context: bool,
    ) -> Result<(), StoreError> {
        let id = s.id.to_string();
        let mut tx = self.pool.begin().await?;
        if reset_context {
            for sql in [
                "DELETE FROM session_messages WHERE session_id = ?",
                "DELETE FROM session_insights WHERE session_id = ?",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
            }
        }
        sqlx::query(
            "UPDATE sessions SET provider = ?, message_count = ?, sentiment = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(&s.provider)
        .bind(s.context.message_count)
        .bind(&s.context.sentiment)
        .bind(s.updated_at)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO switch_history (session_id, from_provider, to_provider, context_preserved, success, error_message, reason, switched_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(switch.session_id.to_string())
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
    }

    /// Every switch of a session, oldest first.
    pub async fn switch_history(&self, session_id: Uuid) -> Result<Vec<SwitchRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM switch_history WHERE session_id = ? ORDER BY id ASC")
            .bind(session_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(switch_from_row).collect()
    }
}

/// `DateTime<Utc>` now, at millisecond precision (what the API shows).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
