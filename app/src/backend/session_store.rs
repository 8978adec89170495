//! The login-session store of tower-sessions, in the app's SQLite database. (tower-sessions-sqlx-store
//! 0.15 is built for tower-sessions-core 0.14, so it cannot serve tower-sessions 0.15.)

use sqlx::SqlitePool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Debug, Clone)]
pub struct SqliteSessionStore {
    db: SqlitePool,
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl SqliteSessionStore {
    /// Creates the table when missing.
    pub async fn open(db: SqlitePool) -> anyhow::Result<SqliteSessionStore> {
        create_table(&db).await?;
        Ok(SqliteSessionStore { db })
    }

    /// Deletes every expired record; how many.
    pub async fn delete_expired(&self) -> anyhow::Result<u64> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let done = sqlx::query("DELETE FROM login_sessions WHERE expires_at < ?1")
            .bind(now)
            .execute(&self.db)
            .await?;
        Ok(done.rows_affected())
    }
}

async fn create_table(db: &SqlitePool) -> anyhow::Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS login_sessions (
            id TEXT PRIMARY KEY NOT NULL,
            record TEXT NOT NULL,
            expires_at INTEGER NOT NULL
        )",
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes every login session of `user` (a normalized name, as [`super::sessions`] stores it under
/// its key [`super::sessions::USER`]); how many. Used when a user is removed or their password changes. Works on a
/// database the server has not opened yet (the `server user` commands).
pub async fn delete_user_sessions(db: &SqlitePool, user: &str) -> anyhow::Result<u64> {
    create_table(db).await?;
    let done = sqlx::query("DELETE FROM login_sessions WHERE json_extract(record, ?2) = ?1")
        .bind(user)
        .bind(format!("$.data.{}", super::sessions::USER))
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

#[async_trait::async_trait]
impl SessionStore for SqliteSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh id until one is free (a collision of 128 random bits is not going to happen, but
        // overwriting someone else's session must not either).
        loop {
            let json = serde_json::to_string(&*record)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let done = sqlx::query(
                "INSERT OR IGNORE INTO login_sessions (id, record, expires_at) VALUES (?1, ?2, ?3)",
            )
            .bind(record.id.to_string())
            .bind(json)
            .bind(record.expiry_date.unix_timestamp())
            .execute(&self.db)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates an existing record only: a record deleted meanwhile (logout, absolute timeout, the old id
    /// after `cycle_id`, a removed user) stays deleted even when a request that loaded it before the
    /// deletion writes it back at its end. Only [`create`](Self::create) inserts.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let json = serde_json::to_string(record)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        sqlx::query("UPDATE login_sessions SET record = ?2, expires_at = ?3 WHERE id = ?1")
            .bind(record.id.to_string())
            .bind(json)
            .bind(record.expiry_date.unix_timestamp())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let row: Option<(String,)> =
            sqlx::query_as("SELECT record FROM login_sessions WHERE id = ?1 AND expires_at >= ?2")
                .bind(id.to_string())
                .bind(now)
                .fetch_optional(&self.db)
                .await
                .map_err(backend)?;
        row.map(|(json,)| {
            serde_json::from_str(&json).map_err(|e| session_store::Error::Decode(e.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM login_sessions WHERE id = ?1")
            .bind(id.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn save_load_delete() {
        let (_dir, store) = store().await;
        let mut record = alice();
        store.create(&mut record).await.unwrap();
        assert_eq!(store.load(&record.id).await.unwrap(), Some(record.clone()));
        store.delete(&record.id).await.unwrap();
        assert_eq!(store.load(&record.id).await.unwrap(), None);

        let mut expired = Record {
            expiry_date: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
            ..record.clone()
        };
        store.create(&mut expired).await.unwrap();
        assert_eq!(store.load(&expired.id).await.unwrap(), None);
        assert_eq!(store.delete_expired().await.unwrap(), 1);
    }

    /// A store on a fresh SQLite file; the directory lives as long as the returned guard.
    async fn store() -> (tempfile::TempDir, SqliteSessionStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::backend::open_db(&dir.path().join("t.db"))
            .await
            .unwrap();
        (dir, SqliteSessionStore::open(db).await.unwrap())
    }

    fn alice() -> Record {
        Record {
            id: Id::default(),
            data: [("user".to_owned(), serde_json::json!("alice"))]
                .into_iter()
                .collect(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn save_does_not_resurrect_a_deleted_record() {
        let (_dir, store) = store().await;
        let mut record = alice();
        store.create(&mut record).await.unwrap();
        // A request in flight loaded the record; logout deletes it; the request ends and saves.
        let mut in_flight = store.load(&record.id).await.unwrap().unwrap();
        store.delete(&record.id).await.unwrap();
        in_flight.expiry_date += time::Duration::minutes(5);
        store.save(&in_flight).await.unwrap();
        assert_eq!(store.load(&record.id).await.unwrap(), None);
        // A save of a live record still updates it.
        let mut live = alice();
        store.create(&mut live).await.unwrap();
        live.data.insert("x".into(), serde_json::json!(1));
        store.save(&live).await.unwrap();
        assert_eq!(store.load(&live.id).await.unwrap(), Some(live));
    }

    #[tokio::test]
    async fn a_users_sessions_are_deleted_together() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::backend::open_db(&dir.path().join("t.db"))
            .await
            .unwrap();
        let store = SqliteSessionStore::open(db.clone()).await.unwrap();
        let (mut a1, mut a2) = (alice(), alice());
        let mut bob = alice();
        bob.data.insert("user".into(), serde_json::json!("bob"));
        for r in [&mut a1, &mut a2, &mut bob] {
            store.create(r).await.unwrap();
        }
        assert_eq!(delete_user_sessions(&db, "alice").await.unwrap(), 2);
        assert_eq!(store.load(&a1.id).await.unwrap(), None);
        assert_eq!(store.load(&a2.id).await.unwrap(), None);
        assert!(store.load(&bob.id).await.unwrap().is_some());
    }
}
