//! PostgreSQL: users, refresh tokens, revoked token ids and per-user revocation cut-offs.

use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::PgStore;
use crate::store::traits::{CredentialStore, StoreFuture, UserStore};
use crate::store::{RefreshTokenRow, StoreError, UserRow, map_unique};

fn user_from_row(row: &PgRow) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        created_at: row.try_get("created_at")?,
    })
}

impl UserStore for PgStore {
    fn insert_user<'a>(&'a self, user: &'a UserRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO users (id, email, display_name, password_hash, role, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user.id)
            .bind(&user.email)
            .bind(&user.display_name)
            .bind(&user.password_hash)
            .bind(&user.role)
            .bind(user.created_at)
            .execute(&self.pool)
            .await
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<UserRow>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    fn user_by_id(&self, id: Uuid) -> StoreFuture<'_, Option<UserRow>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }
}

impl CredentialStore for PgStore {
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
                 VALUES ($1, $2, $3, FALSE, FALSE, $4, $5)",
            )
            .bind(hash)
            .bind(user_id)
            .bind(family)
            .bind(created_at_ms)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn refresh_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<RefreshTokenRow>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|row| {
                Ok(RefreshTokenRow {
                    user_id: row.try_get("user_id")?,
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
            let done = sqlx::query(
                "UPDATE refresh_tokens SET used = TRUE WHERE token_hash = $1 AND NOT used",
            )
            .bind(hash)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("UPDATE refresh_tokens SET revoked = TRUE WHERE user_id = $1")
                .bind(user_id)
                .execute(&self.pool)
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
                "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(user_id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn is_jti_revoked<'a>(&'a self, jti: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.is_some())
        })
    }

    fn set_user_cutoff(&self, user_id: Uuid, cutoff_ms: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO user_revocations (user_id, revoked_before_ms) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO UPDATE SET revoked_before_ms = GREATEST(user_revocations.revoked_before_ms, excluded.revoked_before_ms)",
            )
            .bind(user_id)
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn user_cutoff(&self, user_id: Uuid) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async move {
            let row =
                sqlx::query("SELECT revoked_before_ms FROM user_revocations WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.map(|r| r.try_get("revoked_before_ms")).transpose()?)
        })
    }

    fn live_revoked_jtis(&self, now: i64) -> StoreFuture<'_, Vec<(String, i64)>> {
        Box::pin(async move {
            let rows =
                sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= $1")
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
                "SELECT user_id, revoked_before_ms FROM user_revocations WHERE revoked_before_ms >= $1",
            )
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("user_id")?, r.try_get("revoked_before_ms")?)))
                .collect()
        })
    }
}
