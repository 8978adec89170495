//! The server side of the app (feature `ssr`): the plain functions behind the server functions, each
//! taking its dependencies from [`AppState`], testable without HTTP.

pub mod http;
pub mod openvidu;
pub mod origin;
pub mod password;
pub mod quota;
pub mod revocation;
pub mod session_store;
pub mod sessions;
pub mod throttle;
pub mod users;

use crate::model::AppError;
use crate::model::{CallTicket, ConnectionData, Me, valid_call_name};
use openvidu::{OpenVidu, OpenViduError};
use quota::TokenQuota;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use throttle::Throttle;
use users::{Users, normalize_name};

/// Everything the server functions need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub users: Users,
    pub throttle: Arc<Throttle>,
    pub openvidu: OpenVidu,
    pub tokens: Arc<TokenQuota>,
}

/// Where pages may open connections besides their own origin (the CSP `connect-src`): the WebSocket
/// origin of an external OpenVidu, or nothing when the media server is embedded.
#[derive(Debug, Clone, Default)]
pub struct ConnectSources(pub String);

/// The Content-Security-Policy of the pages: scripts only from this origin or with this response's
/// nonce (Leptos's hydration script), WASM compilation allowed, no framing, no plugins.
pub fn content_security_policy(nonce: &str, connect: &ConnectSources) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self' {}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        connect.0
    )
}

/// The app's database (users, user changes, login sessions).
pub type Db = sqlx::SqlitePool;

/// Opens (creating when missing) the SQLite database at `path`.
pub async fn open_db(path: &std::path::Path) -> anyhow::Result<sqlx::SqlitePool> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(std::time::Duration::from_secs(5));
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?)
}

fn internal(context: &str, e: impl std::fmt::Display) -> AppError {
    tracing::error!("{context}: {e}");
    AppError::Internal
}

fn media(context: &str, e: OpenViduError) -> AppError {
    tracing::warn!("{context}: {e}");
    match e {
        // OpenVidu-shaped quota refusals (sessions at once, participants per session).
        OpenViduError::Status(429) => AppError::MediaServerFull,
        _ => AppError::MediaServerUnavailable,
    }
}

/// A connection id as the media server makes them; anything else is refused before any REST call.
fn valid_connection_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl AppState {
    /// Closes the database pool (pending writes finish).
    pub async fn close(&self) {
        self.users.close().await;
    }

    /// Checks a password, throttled per account and per address. Unknown user and wrong password give
    /// the same error after the same work.
    ///
    /// The attempt is admitted and counted by the throttle in one step before any work, so concurrent
    /// requests cannot get past the limit together; the hash runs under one of a few hashing permits
    /// (none free promptly: answered as throttled), in its own task that keeps the permit until the
    /// hash is done even when this request is dropped (which then counts as a failure).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        peer: IpAddr,
    ) -> Result<Me, AppError> {
        let throttled = |wait: std::time::Duration| AppError::Throttled {
            retry_after_secs: wait.as_secs().max(1),
        };
        let oversized = username.len() > 256 || password.len() > 1024;
        // Bounded, so that huge names cost nothing (the throttle keeps a hash of them anyway).
        let account: String = normalize_name(username).chars().take(256).collect();
        let attempt = self
            .throttle
            .begin(&account, peer, Instant::now())
            .map_err(throttled)?;
        // Oversized input is refused as a failure, without spending a hash on it.
        if oversized {
            attempt.fail(Instant::now());
            return Err(AppError::BadCredentials);
        }
        let Some(permit) = self.throttle.hash_slot().await else {
            attempt.abandon(Instant::now());
            tracing::warn!(%peer, "login refused: password hashing is saturated");
            return Err(throttled(std::time::Duration::from_secs(1)));
        };
        let users = self.users.clone();
        let (name, secret) = (account.clone(), password.to_owned());
        let checked = tokio::spawn(async move {
            let _permit = permit;
            users.check_password(&name, &secret).await
        })
        .await;
        match checked {
            Ok(Ok(Some(user))) => {
                attempt.succeed(Instant::now());
                tracing::info!(user = %user.name, "logged in");
                Ok(Me {
                    user: user.name,
                    role: user.role,
                })
            }
            Ok(Ok(None)) => {
                attempt.fail(Instant::now());
                tracing::info!(%peer, "failed login");
                Err(AppError::BadCredentials)
            }
            Ok(Err(e)) => {
                attempt.abandon(Instant::now());
                Err(internal("checking a password", e))
            }
            Err(e) => {
                attempt.abandon(Instant::now());
                Err(internal("checking a password", e))
            }
        }
    }

    /// The user and their current role; a user removed meanwhile is logged out.
    pub async fn me(&self, user: &str) -> Result<Me, AppError> {
        match self.users.find(user).await {
            Ok(Some(u)) => Ok(Me {
                user: u.name,
                role: u.role,
            }),
            Ok(None) => Err(AppError::NotLoggedIn),
            Err(e) => Err(internal("reading a user", e)),
        }
    }

    /// Creates the call when needed (409: it exists, use it) and a connection for `user` with their role
    /// from the database. A session that closes between the two calls is created again, once.
    pub async fn get_token(&self, user: &str, call: &str) -> Result<CallTicket, AppError> {
        if !valid_call_name(call) {
            return Err(AppError::InvalidCallName);
        }
        let me = self.me(user).await?;
        if let Err(refused) = self.tokens.take(&me.user, Instant::now()) {
            if refused.log {
                tracing::warn!(user = %me.user, "get-token refused: over the quota (logged at most once a minute per user)");
            }
            return Err(AppError::TooManyRequests {
                retry_after_secs: refused.retry_after.as_secs().max(1),
            });
        }
        let _one_at_a_time = self.tokens.one_at_a_time(&me.user).await;
        let data = ConnectionData::new(&me.user, me.role).to_json();
        for _ in 0..2 {
            self.openvidu
                .create_session(call)
                .await
                .map_err(|e| media("creating a session", e))?;
            let created = self.openvidu.create_connection(call, me.role, &data).await;
            match created.map_err(|e| media("creating a connection", e))? {
                Some(connection) => {
                    let Some(token) = connection.token else {
                        return Err(media(
                            "creating a connection",
                            OpenViduError::Protocol("no token".into()),
                        ));
                    };
                    // Removed or changed meanwhile (the revocation watch may have run between the
                    // check above and this connection): give it back.
                    if self.me(user).await.ok().map(|m| m.role) != Some(me.role) {
                        let _ = self
                            .openvidu
                            .delete_connection(call, &connection.connection_id)
                            .await;
                        return Err(AppError::NotLoggedIn);
                    }
                    tracing::info!(user = %me.user, call, connection = %connection.connection_id, "token issued");
                    self.trim_pending(&me.user, call, &connection.connection_id)
                        .await?;
                    return Ok(CallTicket {
                        call: call.to_owned(),
                        token,
                        connection_id: connection.connection_id,
                        role: me.role,
                    });
                }
                None => continue,
            }
        }
        Err(media("creating a connection", OpenViduError::Status(404)))
    }

    /// Keeps at most [`quota::TokenPolicy::max_pending_per_call`] pending connections of `user` in
    /// `call`, the newest (`keep` among them): older ones are deleted on the media server, so that their
    /// tokens no longer work. Connections that were joined are never touched.
    async fn trim_pending(&self, user: &str, call: &str, keep: &str) -> Result<(), AppError> {
        let max = self.tokens.policy().max_pending_per_call.max(1);
        let Some(session) = self
            .openvidu
            .session(call)
            .await
            .map_err(|e| media("reading a session", e))?
        else {
            return Ok(());
        };
        let mut pending: Vec<_> = session
            .connections
            .content
            .iter()
            .filter(|c| {
                c.connection_id != keep && c.is_pending() && c.owner().as_deref() == Some(user)
            })
            .collect();
        if pending.len() < max {
            return Ok(());
        }
        // Newest first; the new connection takes one of the `max` places.
        pending.sort_by_key(|c| std::cmp::Reverse(c.created_at.unwrap_or(0)));
        for old in &pending[max - 1..] {
            self.openvidu
                .delete_connection(call, &old.connection_id)
                .await
                .map_err(|e| media("removing a pending connection", e))?;
            tracing::info!(user, call, connection = %old.connection_id, "unused token withdrawn (pending limit)");
        }
        Ok(())
    }

    /// Deletes every connection of `user` (pending or live) on the media server: a live one is evicted
    /// there, and its token no longer works, so it cannot reconnect. How many were deleted.
    pub async fn revoke_connections(&self, user: &str) -> Result<usize, OpenViduError> {
        let user = normalize_name(user);
        let mut deleted = 0;
        for session in self.openvidu.sessions().await? {
            for c in &session.connections.content {
                if c.owner().as_deref() == Some(user.as_str())
                    && self
                        .openvidu
                        .delete_connection(&session.session_id, &c.connection_id)
                        .await?
                {
                    deleted += 1;
                    tracing::info!(user = %user, call = %session.session_id, connection = %c.connection_id, "connection revoked");
                }
            }
        }
        Ok(deleted)
    }

    /// Removes `user`'s own connection `connection_id` from `call`. Already gone: nothing to do. Someone
    /// else's: `Forbidden`. A call left with no connection at all is closed.
    pub async fn remove_user(
        &self,
        user: &str,
        call: &str,
        connection_id: &str,
    ) -> Result<(), AppError> {
        if !valid_call_name(call) {
            return Err(AppError::InvalidCallName);
        }
        if !valid_connection_id(connection_id) {
            return Ok(());
        }
        let session = self
            .openvidu
            .session(call)
            .await
            .map_err(|e| media("reading a session", e))?;
        let Some(session) = session else {
            return Ok(());
        };
        let Some(connection) = session
            .connections
            .content
            .iter()
            .find(|c| c.connection_id == connection_id)
        else {
            return Ok(());
        };
        let owner = connection
            .server_data
            .as_deref()
            .and_then(ConnectionData::parse);
        if owner.map(|o| o.user) != Some(normalize_name(user)) {
            tracing::warn!(
                user,
                call,
                connection = connection_id,
                "refused to remove another user's connection"
            );
            return Err(AppError::Forbidden);
        }
        self.openvidu
            .delete_connection(call, connection_id)
            .await
            .map_err(|e| media("removing a connection", e))?;
        tracing::info!(user, call, connection = connection_id, "connection removed");
        if let Ok(Some(after)) = self.openvidu.session(call).await
            && after.connections.content.is_empty()
        {
            self.openvidu
                .delete_session(call)
                .await
                .map_err(|e| media("closing a session", e))?;
            tracing::info!(call, "empty call closed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids() {
        assert!(valid_connection_id("con_Ab3dEf7hIj"));
        assert!(!valid_connection_id("../x"));
        assert!(!valid_connection_id(""));
    }
}
