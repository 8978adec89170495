//! The user accounts, in SQLite: name, argon2id hash, role. It owns adding, listing, removing and
//! checking passwords; it does not own throttling or login sessions, but ends a user's login sessions
//! when the user is removed or their password changes.
//!
//! Every change of an account (added, password or role changed, removed) is also written to the table
//! `user_changes`, in the same database, whoever makes it: the running server or a `server user`
//! command in another process. The server watches it ([`super::revocation`]) to end that user's
//! connections on the media server.

use super::password::{self, PasswordHash};
use crate::model::Role;
use anyhow::Context;
use sqlx::{Row, SqlitePool};
use std::sync::Arc;

/// The sample's accounts, created only in demo mode.
pub const DEMO_USERS: [(&str, &str, Role); 4] = [
    ("publisher1", "pass", Role::Publisher),
    ("publisher2", "pass", Role::Publisher),
    ("subscriber", "pass", Role::Subscriber),
    ("moderator", "pass", Role::Moderator),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
}

#[derive(Clone)]
pub struct Users {
    db: SqlitePool,
    /// Checked when the user does not exist, so that unknown user and wrong password take the same time.
    dummy: Arc<PasswordHash>,
}

/// User names are compared lower-cased and trimmed, so that `Alice` and ` alice` are one account (and one
/// throttling key).
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A new user name: 1 to 64 of `a-z 0-9 . _ -` after normalizing.
pub fn valid_new_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl Users {
    /// Creates the table when missing.
    pub async fn open(db: SqlitePool) -> anyhow::Result<Users> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS users (
                name TEXT PRIMARY KEY NOT NULL,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL,
                created_at INTEGER NOT NULL DEFAULT (unixepoch())
            )",
        )
        .execute(&db)
        .await
        .context("creating the users table")?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS user_changes (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                at INTEGER NOT NULL DEFAULT (unixepoch())
            )",
        )
        .execute(&db)
        .await
        .context("creating the user_changes table")?;
        // Older changes have long been acted on.
        sqlx::query("DELETE FROM user_changes WHERE at < unixepoch() - 7 * 86400")
            .execute(&db)
            .await
            .context("pruning user_changes")?;
        let dummy = Arc::new(password::hash("not a real password".into()).await?);
        Ok(Users { db, dummy })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Adds a user, or replaces the password and role of an existing one.
    pub async fn upsert(&self, name: &str, password: &str, role: Role) -> anyhow::Result<()> {
        let name = normalize_name(name);
        anyhow::ensure!(
            valid_new_name(&name),
            "a user name is 1 to 64 of a-z 0-9 . _ -"
        );
        anyhow::ensure!(!password.is_empty(), "the password must not be empty");
        let hash = password::hash(password.to_owned()).await?;
        sqlx::query(
            "INSERT INTO users (name, password_hash, role) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET password_hash = ?2, role = ?3",
        )
        .bind(&name)
        .bind(hash.as_phc())
        .bind(role.as_str())
        .execute(&self.db)
        .await
        .context("storing a user")?;
        // A changed password (or a user re-created under an old name) ends every login made before.
        self.end_sessions(&name).await?;
        self.record_change(&name).await
    }

    /// Changes a user's role; whether the user exists. Their login sessions stay; their connections end
    /// (the server sees the change), so the next join has the new role.
    pub async fn set_role(&self, name: &str, role: Role) -> anyhow::Result<bool> {
        let name = normalize_name(name);
        let done = sqlx::query("UPDATE users SET role = ?2 WHERE name = ?1")
            .bind(&name)
            .bind(role.as_str())
            .execute(&self.db)
            .await
            .context("changing a role")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.record_change(&name).await?;
        Ok(true)
    }

    async fn record_change(&self, name: &str) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO user_changes (name) VALUES (?1)")
            .bind(name)
            .execute(&self.db)
            .await
            .context("recording a user change")?;
        Ok(())
    }

    /// The changes after `seq`, oldest first (at most `limit`), as (seq, user name).
    pub async fn changes_since(&self, seq: i64, limit: u32) -> anyhow::Result<Vec<(i64, String)>> {
        let rows =
            sqlx::query("SELECT seq, name FROM user_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")
                .bind(seq)
                .bind(limit)
                .fetch_all(&self.db)
                .await
                .context("reading user changes")?;
        rows.iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("name")?)))
            .collect()
    }

    /// The number of the last change made more than `secs` seconds ago (0 when none).
    pub async fn last_change_before(&self, secs: i64) -> anyhow::Result<i64> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM user_changes WHERE at < unixepoch() - ?1",
        )
        .bind(secs)
        .fetch_one(&self.db)
        .await
        .context("reading user changes")?;
        Ok(row.try_get("seq")?)
    }

    /// Removes a user and ends their login sessions; whether it existed.
    pub async fn remove(&self, name: &str) -> anyhow::Result<bool> {
        let name = normalize_name(name);
        let done = sqlx::query("DELETE FROM users WHERE name = ?1")
            .bind(&name)
            .execute(&self.db)
            .await
            .context("removing a user")?;
        self.end_sessions(&name).await?;
        if done.rows_affected() > 0 {
            self.record_change(&name).await?;
        }
        Ok(done.rows_affected() > 0)
    }

    async fn end_sessions(&self, name: &str) -> anyhow::Result<()> {
        let ended = super::session_store::delete_user_sessions(&self.db, name)
            .await
            .context("ending a user's login sessions")?;
        if ended > 0 {
            tracing::info!(user = %name, sessions = ended, "login sessions ended");
        }
        Ok(())
    }

    pub async fn list(&self) -> anyhow::Result<Vec<User>> {
        let rows = sqlx::query("SELECT name, role FROM users ORDER BY name")
            .fetch_all(&self.db)
            .await
            .context("listing users")?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn find(&self, name: &str) -> anyhow::Result<Option<User>> {
        let row = sqlx::query("SELECT name, role FROM users WHERE name = ?1")
            .bind(normalize_name(name))
            .fetch_optional(&self.db)
            .await
            .context("reading a user")?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user, if `password` is theirs. Unknown users cost one hash verification too.
    pub async fn check_password(&self, name: &str, password: &str) -> anyhow::Result<Option<User>> {
        let row = sqlx::query("SELECT name, role, password_hash FROM users WHERE name = ?1")
            .bind(normalize_name(name))
            .fetch_optional(&self.db)
            .await
            .context("reading a user")?;
        let (user, hash) = match &row {
            Some(row) => (
                Some(user_from_row(row)?),
                PasswordHash::from_phc(row.try_get("password_hash")?),
            ),
            None => (None, (*self.dummy).clone()),
        };
        let matches = password::verify(password.to_owned(), hash).await;
        Ok(if matches { user } else { None })
    }

    /// Creates the demo accounts that are missing (existing ones are left as they are).
    pub async fn ensure_demo_users(&self) -> anyhow::Result<()> {
        for (name, password, role) in DEMO_USERS {
            if self.find(name).await?.is_none() {
                self.upsert(name, password, role).await?;
            }
        }
        Ok(())
    }

    /// Removes the demo accounts that still have the demo password (an account of the same name that
    /// was given a real password stays); the names removed. Run at start-up outside demo mode, so that
    /// a data dir once used in demo mode does not keep accepting `pass`.
    pub async fn remove_demo_users(&self) -> anyhow::Result<Vec<String>> {
        let mut removed = Vec::new();
        for (name, password, _) in DEMO_USERS {
            if self.check_password(name, password).await?.is_some() && self.remove(name).await? {
                removed.push(name.to_owned());
            }
        }
        Ok(removed)
    }
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> anyhow::Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        name: row.try_get("name")?,
        role: role.parse().map_err(anyhow::Error::msg)?,
    })
}
