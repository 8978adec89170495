//! The server functions, at stable URLs under `/api`, JSON in and out:
//!
//! | URL | body | answer |
//! |---|---|---|
//! | `POST /api/login` | `{"username","password"}` | [`Me`]; 401 wrong user or password; 429 + `Retry-After` when throttled |
//! | `POST /api/logout` | `{}` | `null` |
//! | `POST /api/me` | `{}` | [`MeInfo`]; 401 when not logged in |
//! | `POST /api/get-token` | `{"call"}` | [`CallTicket`]; 400 bad call name; 401; 502 media server unreachable |
//! | `POST /api/remove-user` | `{"call","connection_id"}` | `null`; 403 not your connection; 401 |
//!
//! Each is a thin wrapper: read the login session, call a plain function of [`crate::backend`], map its
//! error to a status. Errors are [`AppError`], which the views turn into human messages.

use crate::model::{CallTicket, Me as MeInfo};
use leptos::prelude::*;
use leptos::server_fn::codec::{Json, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Every failure a server function reports. The messages are for people; internal detail stays in the
/// server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Wrong user name or password.")]
    BadCredentials,
    #[error("Too many failed attempts. Try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: u64 },
    #[error("You are not logged in.")]
    NotLoggedIn,
    #[error("That connection is not yours.")]
    Forbidden,
    #[error("Request refused: it did not come from this site.")]
    CrossSite,
    #[error("A call name is 1 to 64 letters, digits, '-' or '_'.")]
    InvalidCallName,
    #[error("The media server cannot be reached. Try again in a moment.")]
    MediaServerUnavailable,
    #[error("Something went wrong on the server. Try again.")]
    Internal,
    /// The request never got an answer (network down, server stopped) or the answer was unreadable.
    #[error("The server cannot be reached: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status a server function answers with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadCredentials | AppError::NotLoggedIn => 401,
            AppError::Throttled { .. } => 429,
            AppError::Forbidden | AppError::CrossSite => 403,
            AppError::InvalidCallName => 400,
            AppError::MediaServerUnavailable => 502,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(msg) => AppError::Transport(msg),
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => AppError::Internal,
            other => AppError::Transport(other.to_string()),
        }
    }
}

/// Logs in; a new login session id is issued.
#[server(prefix = "/api", endpoint = "login", input = Json)]
pub async fn login(username: String, password: String) -> Result<MeInfo, AppError> {
    use crate::backend::{AppState, http, sessions};
    let state = expect_context::<AppState>();
    let (session, peer) = (http::session().await?, http::peer_ip().await?);
    let outcome = state.login(&username, &password, peer).await;
    let me = http::respond(outcome)?;
    http::respond(sessions::log_in(&session, &me.user).await)?;
    Ok(me)
}

/// Logs out: the login session is destroyed and its cookie removed. Harmless when not logged in.
#[server(prefix = "/api", endpoint = "logout", input = Json)]
pub async fn logout() -> Result<(), AppError> {
    use crate::backend::{http, sessions};
    let session = http::session().await?;
    http::respond(sessions::log_out(&session).await)
}

/// The logged-in user and their role (taken from the database, so a role change applies at once).
#[server(prefix = "/api", endpoint = "me", input = Json)]
pub async fn me() -> Result<MeInfo, AppError> {
    use crate::backend::{AppState, http};
    let state = expect_context::<AppState>();
    let user = http::logged_in_user().await?;
    http::respond(state.me(&user).await)
}

/// A token for the call `call`, with the caller's role.
#[server(prefix = "/api", endpoint = "get-token", input = Json)]
pub async fn get_token(call: String) -> Result<CallTicket, AppError> {
    use crate::backend::{AppState, http};
    let state = expect_context::<AppState>();
    let user = http::logged_in_user().await?;
    http::respond(state.get_token(&user, &call).await)
}

/// Removes the caller's own connection `connection_id` from the call `call`; nothing happens when it is
/// already gone.
#[server(prefix = "/api", endpoint = "remove-user", input = Json)]
pub async fn remove_user(call: String, connection_id: String) -> Result<(), AppError> {
    use crate::backend::{AppState, http};
    let state = expect_context::<AppState>();
    let user = http::logged_in_user().await?;
    http::respond(state.remove_user(&user, &call, &connection_id).await)
}
