//! What the server functions need from the HTTP request and response: the login session, the peer
//! address, and turning an [`AppError`] into its status (and `Retry-After`).

use crate::model::AppError;
use axum::extract::ConnectInfo;
use http::{HeaderValue, StatusCode};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!("no login session layer: {e}");
        AppError::Internal
    })
}

/// The TCP peer. Forwarded-for headers are not trusted: put no proxy in front, or extend this.
pub async fn peer_ip() -> Result<IpAddr, AppError> {
    let ConnectInfo(addr) = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .map_err(|e| {
            tracing::error!("no peer address: {e}");
            AppError::Internal
        })?;
    Ok(addr.ip())
}

/// The logged-in user's name, or 401.
pub async fn logged_in_user() -> Result<String, AppError> {
    let session = session().await?;
    respond(super::sessions::current_user(&session).await)?
        .ok_or_else(|| fail(AppError::NotLoggedIn))
}

/// Sets the response status (and `Retry-After`) of an error; passes success through.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    result.map_err(fail)
}

fn fail(error: AppError) -> AppError {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.set_status(
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        if let Some(secs) = error.retry_after_secs() {
            res.insert_header(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    error
}
