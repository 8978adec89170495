//! Quotas on `get-token`, per user: a token bucket of [`TokenPolicy::per_minute`] tokens refilled
//! evenly over a minute (so at most that many in any burst, and that many a minute sustained), and at
//! most [`TokenPolicy::max_pending_per_call`] connections per user and call that were never joined
//! (older ones are deleted on the media server when a new one is made; see
//! [`super::AppState::get_token`]). In memory, keyed by the user name: only logged-in users reach it,
//! so it holds at most one small entry per user, and full buckets are dropped when it grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Tokens a user may get per minute (and at once).
    pub per_minute: u32,
    /// Pending (never joined) connections a user may hold in one call.
    pub max_pending_per_call: usize,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            per_minute: DEFAULT_TOKENS_PER_MINUTE,
            max_pending_per_call: DEFAULT_MAX_PENDING_PER_CALL,
        }
    }
}

pub const DEFAULT_TOKENS_PER_MINUTE: u32 = 30;
pub const DEFAULT_MAX_PENDING_PER_CALL: usize = 3;

/// Past this many users in the table, full buckets are dropped.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// When a refusal of this user was last logged.
    logged: Option<Instant>,
}

/// How often refusals of one user are logged: a user who keeps asking fills no log.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// A `get-token` refused by the quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refused {
    /// When asking again may succeed.
    pub retry_after: Duration,
    /// Whether this refusal is to be logged: the first of this user, then at most one a minute.
    pub log: bool,
}

#[derive(Debug)]
pub struct TokenQuota {
    policy: TokenPolicy,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// The `get-token` under way for each user, if any (see [`TokenQuota::one_at_a_time`]).
    in_progress: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl TokenQuota {
    pub fn new(policy: TokenPolicy) -> TokenQuota {
        TokenQuota {
            policy,
            buckets: Mutex::new(HashMap::new()),
            in_progress: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until no other `get-token` of `user` is under way, and holds that place until the guard
    /// is dropped. Creating a connection and withdrawing the user's older pending ones must not
    /// interleave: concurrent requests withdraw each other's fresh tokens (a double-clicked Join
    /// would fail) or each keep their own (more than the limit).
    pub async fn one_at_a_time(&self, user: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
            if locks.len() >= SWEEP_AT {
                locks.retain(|_, l| l.strong_count() > 0);
            }
            match locks.get(user).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(user.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    fn capacity(&self) -> f64 {
        f64::from(self.policy.per_minute.max(1))
    }

    /// Takes one token for `user`; refused when none is left.
    pub fn take(&self, user: &str, now: Instant) -> Result<(), Refused> {
        let capacity = self.capacity();
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT && !buckets.contains_key(user) {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < capacity
            });
        }
        let bucket = buckets.entry(user.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
            logged: None,
        });
        let refilled =
            bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * per_sec;
        bucket.tokens = refilled.min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let log = bucket
                .logged
                .is_none_or(|t| now.saturating_duration_since(t) >= LOG_EVERY);
            if log {
                bucket.logged = Some(now);
            }
            Err(Refused {
                retry_after: Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec),
                log,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_an_even_rate() {
        let q = TokenQuota::new(TokenPolicy {
            per_minute: 30,
            max_pending_per_call: 3,
        });
        let now = Instant::now();
        for _ in 0..30 {
            q.take("alice", now).unwrap();
        }
        let refused = q.take("alice", now).unwrap_err();
        assert_eq!(
            refused.retry_after.as_secs_f64().round(),
            2.0,
            "one token every 2 s"
        );
        // Others are unaffected.
        q.take("bob", now).unwrap();
        // After the wait, one more; not two.
        let later = now + Duration::from_secs(2);
        q.take("alice", later).unwrap();
        assert!(q.take("alice", later).is_err());
        // A minute later the bucket is full again, and no fuller.
        let much_later = later + Duration::from_secs(600);
        for _ in 0..30 {
            q.take("alice", much_later).unwrap();
        }
        assert!(q.take("alice", much_later).is_err());
    }

    #[test]
    fn refusals_are_logged_once_a_minute_per_user() {
        let q = TokenQuota::new(TokenPolicy {
            per_minute: 2,
            max_pending_per_call: 3,
        });
        let now = Instant::now();
        let logged = |at: Instant, user: &str| {
            (0..50)
                .filter_map(|_| q.take(user, at).err())
                .filter(|r| r.log)
                .count()
        };
        assert_eq!(logged(now, "alice"), 1, "48 refusals, one logged");
        assert_eq!(logged(now, "bob"), 1, "each user once");
        let soon = now + Duration::from_secs(30);
        assert_eq!(logged(soon, "alice"), 0, "not again within the minute");
        let later = now + Duration::from_secs(61);
        assert_eq!(logged(later, "alice"), 1, "again a minute later");
    }
}
