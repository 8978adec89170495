//! Ending the media-server connections of users who were removed or changed.
//!
//! Accounts may be changed by the running server or by a `server user` command in another process, on
//! the same SQLite database. Both write each change to `user_changes` ([`super::users`]); the server
//! polls that table every [`DEFAULT_INTERVAL`] (configurable) and, for each user changed, deletes all
//! their connections, pending and live, through the media server's REST API
//! ([`AppState::revoke_connections`]): a live participant is evicted, an unused token stops working,
//! and the user's next token (if they still may have one) carries their new role. At start-up the
//! changes of the last day are acted on again (an external OpenVidu outlives an app restart).

use super::AppState;
use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// Changes read per poll (more wait for the next poll).
const BATCH: u32 = 500;

/// At start-up, changes of the last day are acted on again: an external OpenVidu keeps its
/// connections while the app is down, and a user may have been removed meanwhile.
const CATCH_UP_SECS: i64 = 24 * 3600;

/// Watches for user changes (from those of the last [`CATCH_UP_SECS`] on), until the task is aborted.
pub async fn watch(state: AppState, every: Duration) {
    let mut seen = match state.users.last_change_before(CATCH_UP_SECS).await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!("user change watch not started: {e:#}");
            return;
        }
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        seen = poll(&state, seen).await;
    }
}

/// Acts on the changes after `seen`; the last change acted on. A change whose connections could not be
/// listed or deleted (media server unreachable) is tried again at the next poll.
pub async fn poll(state: &AppState, seen: i64) -> i64 {
    let changes = match state.users.changes_since(seen, BATCH).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("reading user changes: {e:#}");
            return seen;
        }
    };
    let mut done = seen;
    let mut names: Vec<&str> = Vec::new();
    for (seq, name) in &changes {
        if !names.contains(&name.as_str()) {
            match state.revoke_connections(name).await {
                Ok(n) if n > 0 => {
                    tracing::info!(user = %name, connections = n, "user changed: connections ended")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(user = %name, "ending a changed user's connections: {e}");
                    return done;
                }
            }
            names.push(name);
        }
        done = *seq;
    }
    done
}
