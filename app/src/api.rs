//! The server functions, at stable URLs under `/api`, JSON in and out:
//!
//! | URL | body | answer |
//! |---|---|---|
//! | `POST /api/login` | `{"username","password"}` | [`Me`]; 401 wrong user or password; 429 + `Retry-After` when throttled |
//! | `POST /api/logout` | `{}` | `null` |
//! | `POST /api/me` | `{}` | [`MeInfo`]; 401 when not logged in |
//! | `POST /api/get-token` | `{"call"}` | [`CallTicket`]; 400 bad call name; 401; 429 + `Retry-After` over the per-user quota; 502 media server unreachable |
//! | `POST /api/remove-user` | `{"call","connection_id"}` | `null`; 403 not your connection; 401 |
//!
//! Each is a thin wrapper: read the login session, call a plain function of [`crate::backend`], map its
//! error to a status. Errors are [`AppError`] (defined in [`crate::model`], re-exported here), which the
//! views turn into human messages. A body of the wrong shape is 400 [`AppError::BadRequest`] for every
//! one of them (the server gives the framework's error answer that status).

pub use crate::model::AppError;
use crate::model::{CallTicket, Me as MeInfo};
use leptos::prelude::*;
use leptos::server_fn::codec::{Json, Post};

/// The answers: JSON, read in the browser without serde ([`crate::wire`]).
type Answer = Post<crate::wire::AppJson>;

/// Logs in; a new login session id is issued.
#[server(prefix = "/api", endpoint = "login", input = Json, output = Answer)]
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
#[server(prefix = "/api", endpoint = "logout", input = Json, output = Answer)]
pub async fn logout() -> Result<(), AppError> {
    use crate::backend::{http, sessions};
    let session = http::session().await?;
    http::respond(sessions::log_out(&session).await)
}

/// The logged-in user and their role (taken from the database, so a role change applies at once).
#[server(prefix = "/api", endpoint = "me", input = Json, output = Answer)]
pub async fn me() -> Result<MeInfo, AppError> {
    use crate::backend::{AppState, http};
    let state = expect_context::<AppState>();
    let user = http::logged_in_user().await?;
    http::respond(state.me(&user).await)
}

/// A token for the call `call`, with the caller's role.
#[server(prefix = "/api", endpoint = "get-token", input = Json, output = Answer)]
pub async fn get_token(call: String) -> Result<CallTicket, AppError> {
    use crate::backend::{AppState, http};
    let state = expect_context::<AppState>();
    let user = http::logged_in_user().await?;
    http::respond(state.get_token(&user, &call).await)
}

/// Removes the caller's own connection `connection_id` from the call `call`; nothing happens when it is
/// already gone.
#[server(prefix = "/api", endpoint = "remove-user", input = Json, output = Answer)]
pub async fn remove_user(call: String, connection_id: String) -> Result<(), AppError> {
    use crate::backend::{AppState, http};
    let state = expect_context::<AppState>();
    let user = http::logged_in_user().await?;
    http::respond(state.remove_user(&user, &call, &connection_id).await)
}
