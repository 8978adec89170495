//! The video-call app's own server functions, called as its page calls them: `POST /api/login` for a
//! login session cookie, then `POST /api/get-token` with that cookie. [`token_rate`] measures how many
//! tokens the app hands out per second: each one is a login-session read, a user lookup in SQLite, and
//! the OpenVidu REST calls behind it (create the call or find it, create a connection, withdraw the
//! user's oldest unused one past the pending limit).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::http::exchange;

/// A logged-in user of the app.
pub struct AppClient {
    addr: SocketAddr,
    /// `name=value` of the login session cookie; never shown in an error.
    cookie: String,
}

impl AppClient {
    /// Logs `user` in; the error says what the app answered, never the password.
    pub async fn login(addr: SocketAddr, user: &str, password: &str) -> anyhow::Result<AppClient> {
        let body = json!({ "username": user, "password": password }).to_string();
        let reply = exchange(addr, "POST", "/api/login", &[], &body)
            .await
            .with_context(|| format!("logging in as {user} at the app on {addr}"))?;
        if reply.status != 200 {
            bail!("logging in as {user}: the app answered {}", reply.summary());
        }
        let cookie = reply
            .header_values("set-cookie")
            .filter_map(|c| c.split(';').next())
            .map(str::trim)
            .find(|c| c.contains('='))
            .with_context(|| format!("logging in as {user}: no session cookie in the answer"))?
            .to_owned();
        Ok(AppClient { addr, cookie })
    }

    /// `get-token` for `call`: the token of a new connection to it.
    pub async fn get_token(&self, call: &str) -> anyhow::Result<String> {
        let body = json!({ "call": call }).to_string();
        let reply = exchange(
            self.addr,
            "POST",
            "/api/get-token",
            &[("Cookie", self.cookie.as_str())],
            &body,
        )
        .await?;
        if reply.status != 200 {
            bail!("get-token answered {}", reply.summary());
        }
        let ticket: Value =
            serde_json::from_slice(&reply.body).context("get-token: the answer is not JSON")?;
        match ticket["token"].as_str() {
            Some(token) if token.starts_with("ws://") || token.starts_with("wss://") => {
                Ok(token.to_owned())
            }
            _ => bail!("get-token: the answer holds no token"),
        }
    }
}

/// What [`token_rate`] measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenRate {
    /// Tokens received (each checked to be a token).
    pub tokens: usize,
    pub failed: usize,
    /// The first failure's message, if any (no password or cookie in it).
    pub first_error: Option<String>,
    /// Users asking at once, one request at a time each (as the app serves one user's get-token).
    pub users: usize,
    pub seconds: f64,
    pub per_second: f64,
}

/// Logs in each of `users` (before the clock starts), then has them ask for `count` tokens in all for
/// the call `call`, each user one request at a time, and measures the tokens per second. Bounded by
/// `count` and by `limit` in time.
pub async fn token_rate(
    addr: SocketAddr,
    users: &[String],
    password: &str,
    call: &str,
    count: usize,
    limit: Duration,
) -> anyhow::Result<TokenRate> {
    anyhow::ensure!(!users.is_empty(), "token_rate needs at least one user");
    let mut clients = Vec::with_capacity(users.len());
    for user in users {
        clients.push(AppClient::login(addr, user, password).await?);
    }
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for client in clients {
        let (next, call) = (next.clone(), call.to_owned());
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut first_error) = (0usize, 0usize, None);
            while next.fetch_add(1, Ordering::Relaxed) < count {
                match tokio::time::timeout_at(deadline, client.get_token(&call)).await {
                    Ok(Ok(_)) => ok += 1,
                    Ok(Err(e)) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                    Err(_) => break,
                }
            }
            (ok, failed, first_error)
        }));
    }
    let (mut tokens, mut failed, mut first_error) = (0, 0, None);
    for w in workers {
        let (o, f, e) = w.await.context("a get-token worker panicked")?;
        tokens += o;
        failed += f;
        first_error = first_error.or(e);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(TokenRate {
        tokens,
        failed,
        first_error,
        users: users.len(),
        seconds,
        per_second: tokens as f64 / seconds.max(1e-9),
    })
}
