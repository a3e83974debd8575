//! SQLite: users, refresh tokens, revoked token ids and per-user revocation cut-offs.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, uuid_col};
use crate::store::traits::{CredentialStore, StoreFuture, UserStore};
use crate::store::{RefreshTokenRow, StoreError, UserRow, map_unique};

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

impl UserStore for SqliteStore {
    fn insert_user<'a>(&'a self, user: &'a UserRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
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
            .execute(&self.writer)
            .await
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<UserRow>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM users WHERE email = ?")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    fn user_by_id(&self, id: Uuid) -> StoreFuture<'_, Option<UserRow>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM users WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }
}

impl CredentialStore for SqliteStore {
    fn insert_refresh_token<'a>(
        &'a self,
        hash: &'a str,
        user_id: Uuid,
        family: &'a str,
        created_at_ms: i64,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, user_id, family, used, revoked, created_at_ms, expires_at) \
                 VALUES (?, ?, ?, 0, 0, ?, ?)",
            )
            .bind(hash)
            .bind(user_id.to_string())
            .bind(family)
            .bind(created_at_ms)
            .bind(expires_at)
            .execute(&self.writer)
            .await
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn refresh_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<RefreshTokenRow>> {
        Box::pin(async move {
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
        })
    }

    fn consume_refresh_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done =
                sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE token_hash = ? AND used = 0")
                    .bind(hash)
                    .execute(&self.writer)
                    .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ?")
                .bind(user_id.to_string())
                .execute(&self.writer)
                .await?;
            Ok(())
        })
    }

    fn insert_revoked_jti<'a>(
        &'a self,
        jti: &'a str,
        user_id: Uuid,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT OR IGNORE INTO revoked_tokens (jti, user_id, expires_at) VALUES (?, ?, ?)",
            )
            .bind(jti)
            .bind(user_id.to_string())
            .bind(expires_at)
            .execute(&self.writer)
            .await?;
            Ok(())
        })
    }

    fn is_jti_revoked<'a>(&'a self, jti: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = ?")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.is_some())
        })
    }

    fn set_user_cutoff(&self, user_id: Uuid, cutoff_ms: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO user_revocations (user_id, revoked_before_ms) VALUES (?, ?) \
                 ON CONFLICT(user_id) DO UPDATE SET revoked_before_ms = MAX(revoked_before_ms, excluded.revoked_before_ms)",
            )
            .bind(user_id.to_string())
            .bind(cutoff_ms)
            .execute(&self.writer)
            .await?;
            Ok(())
        })
    }

    fn user_cutoff(&self, user_id: Uuid) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async move {
            let row =
                sqlx::query("SELECT revoked_before_ms FROM user_revocations WHERE user_id = ?")
                    .bind(user_id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.map(|r| r.try_get("revoked_before_ms")).transpose()?)
        })
    }

    fn live_revoked_jtis(&self, now: i64) -> StoreFuture<'_, Vec<(String, i64)>> {
        Box::pin(async move {
            let rows =
                sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= ?")
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("jti")?, r.try_get("expires_at")?)))
                .collect()
        })
    }

    fn user_cutoffs_since(&self, since_ms: i64) -> StoreFuture<'_, Vec<(Uuid, i64)>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT user_id, revoked_before_ms FROM user_revocations WHERE revoked_before_ms >= ?",
            )
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| Ok((uuid_col(r, "user_id")?, r.try_get("revoked_before_ms")?)))
                .collect()
        })
    }
}
