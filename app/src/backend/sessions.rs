//! Login sessions: server-side, in SQLite (tower-sessions), so they survive a restart. The id is a
//! random 128-bit value in an HttpOnly, SameSite=Strict cookie (Secure and `__Host-` under HTTPS); it
//! changes at login and the record is destroyed at logout. Idle timeout: the cookie and the record
//! expire after [`IDLE_TIMEOUT`] without a request. Absolute timeout: a login older than
//! [`ABSOLUTE_TIMEOUT`] is refused and destroyed, however active.

use super::session_store::SqliteSessionStore;
use super::users::normalize_name;
use crate::model::AppError;
use sqlx::SqlitePool;
use std::time::{SystemTime, UNIX_EPOCH};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub const IDLE_TIMEOUT: time::Duration = time::Duration::hours(8);
pub const ABSOLUTE_TIMEOUT_SECS: u64 = 24 * 3600;
pub const ABSOLUTE_TIMEOUT: time::Duration = time::Duration::seconds(ABSOLUTE_TIMEOUT_SECS as i64);

/// The key of the logged-in user's (normalized) name in a login session's data. The one home of that
/// fact: [`super::session_store::delete_user_sessions`] finds a user's sessions by it.
pub const USER: &str = "user";
const LOGIN_AT: &str = "login_at";

/// The cookie's name: `__Host-` needs Secure, so only under HTTPS.
pub fn cookie_name(https: bool) -> &'static str {
    if https { "__Host-session" } else { "session" }
}

/// The session store (its table is created when missing) and the layer that loads sessions.
pub async fn layer(
    db: SqlitePool,
    https: bool,
) -> anyhow::Result<SessionManagerLayer<SqliteSessionStore>> {
    let store = SqliteSessionStore::open(db).await?;
    tokio::spawn(delete_expired(store.clone()));
    Ok(SessionManagerLayer::new(store)
        .with_name(cookie_name(https))
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(IDLE_TIMEOUT))
        .with_always_save(true))
}

async fn delete_expired(store: SqliteSessionStore) {
    loop {
        if let Err(e) = store.delete_expired().await {
            tracing::warn!("deleting expired login sessions: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!("login session store: {e}");
    AppError::Internal
}

/// Marks the session as logged in as `user`, under a new id (no session fixation).
pub async fn log_in(session: &Session, user: &str) -> Result<(), AppError> {
    session.cycle_id().await.map_err(internal)?;
    session.clear().await;
    session
        .insert(USER, normalize_name(user))
        .await
        .map_err(internal)?;
    session
        .insert(LOGIN_AT, now_secs())
        .await
        .map_err(internal)?;
    Ok(())
}

/// Destroys the session: the record is deleted and the cookie removed.
pub async fn log_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(internal)
}

/// The logged-in user, if the session has one that is not past the absolute timeout.
pub async fn current_user(session: &Session) -> Result<Option<String>, AppError> {
    let Some(user) = session.get::<String>(USER).await.map_err(internal)? else {
        return Ok(None);
    };
    let login_at = session
        .get::<u64>(LOGIN_AT)
        .await
        .map_err(internal)?
        .unwrap_or(0);
    if now_secs().saturating_sub(login_at) > ABSOLUTE_TIMEOUT_SECS {
        session.flush().await.map_err(internal)?;
        return Ok(None);
    }
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tower_sessions::SessionStore;

    async fn session() -> (Session, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::backend::open_db(&dir.path().join("s.db"))
            .await
            .unwrap();
        let store = Arc::new(SqliteSessionStore::open(db).await.unwrap());
        (
            Session::new(None, store, Some(Expiry::OnInactivity(IDLE_TIMEOUT))),
            dir,
        )
    }

    #[tokio::test]
    async fn log_in_and_out() {
        let (s, _dir) = session().await;
        assert_eq!(current_user(&s).await.unwrap(), None);
        log_in(&s, " Alice ").await.unwrap();
        assert_eq!(current_user(&s).await.unwrap().as_deref(), Some("alice"));
        log_out(&s).await.unwrap();
        assert_eq!(current_user(&s).await.unwrap(), None);
    }

    #[tokio::test]
    async fn logout_is_not_undone_by_a_request_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::backend::open_db(&dir.path().join("s.db"))
            .await
            .unwrap();
        let store = Arc::new(SqliteSessionStore::open(db).await.unwrap());
        let expiry = Some(Expiry::OnInactivity(IDLE_TIMEOUT));
        let login = Session::new(None, store.clone(), expiry);
        log_in(&login, "alice").await.unwrap();
        login.save().await.unwrap();
        let id = login.id().unwrap();
        // Two requests with the same cookie: one is in flight (it has loaded the session), the other
        // logs out; then the first ends and saves, as `with_always_save` does.
        let in_flight = Session::new(Some(id), store.clone(), expiry);
        assert_eq!(
            current_user(&in_flight).await.unwrap().as_deref(),
            Some("alice")
        );
        let logout = Session::new(Some(id), store.clone(), expiry);
        log_out(&logout).await.unwrap();
        in_flight.save().await.unwrap();
        assert_eq!(
            store.load(&id).await.unwrap(),
            None,
            "the session stays gone"
        );
        let later = Session::new(Some(id), store, expiry);
        assert_eq!(current_user(&later).await.unwrap(), None);
    }

    #[tokio::test]
    async fn absolute_timeout_ends_even_an_active_login() {
        let (s, _dir) = session().await;
        log_in(&s, "alice").await.unwrap();
        s.insert(LOGIN_AT, now_secs() - ABSOLUTE_TIMEOUT_SECS - 1)
            .await
            .unwrap();
        assert_eq!(current_user(&s).await.unwrap(), None);
        assert!(s.is_empty().await, "the session was destroyed");
    }
}
