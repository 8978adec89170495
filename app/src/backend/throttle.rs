//! Throttling of failed logins, per account and per client address. Both keys are checked before a
//! password is even looked at, so changing the user name in the body does not escape the address limit,
//! and changing the address does not escape the account limit. In memory: a restart forgets it, which
//! costs an attacker a restart they cannot cause.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// Failures of one account, within `window`, before it is locked.
    pub per_account: u32,
    /// Failures from one address, within `window`, before it is locked.
    pub per_address: u32,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// The first lock lasts this long; each further failure while over the limit doubles it.
    pub lockout: Duration,
    /// The longest lock.
    pub max_lockout: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

/// The most entries kept; past it, forgotten ones are dropped first.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct Throttle {
    policy: ThrottlePolicy,
    entries: Mutex<HashMap<Key, Failures>>,
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Throttle {
        Throttle {
            policy,
            entries: Mutex::default(),
        }
    }

    /// `Err(retry_after)` while the account or the address is locked.
    pub fn check(&self, account: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let entries = self.entries.lock().expect("throttle lock");
        let wait = [Key::Account(account.to_owned()), Key::Address(addr)]
            .iter()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Records a failed login.
    pub fn fail(&self, account: &str, addr: IpAddr, now: Instant) {
        let mut entries = self.entries.lock().expect("throttle lock");
        if entries.len() >= MAX_ENTRIES {
            let window = self.policy.window;
            entries.retain(|_, f| {
                now.duration_since(f.first) < window || f.locked_until.is_some_and(|u| u > now)
            });
        }
        let limits = [
            (Key::Account(account.to_owned()), self.policy.per_account),
            (Key::Address(addr), self.policy.per_address),
        ];
        for (key, limit) in limits {
            let f = entries.entry(key).or_insert(Failures {
                count: 0,
                first: now,
                locked_until: None,
            });
            if now.duration_since(f.first) >= self.policy.window
                && f.locked_until.is_none_or(|u| u <= now)
            {
                *f = Failures {
                    count: 0,
                    first: now,
                    locked_until: None,
                };
            }
            f.count += 1;
            if f.count >= limit {
                let doublings = (f.count - limit).min(16);
                let lock = self
                    .policy
                    .lockout
                    .saturating_mul(1 << doublings)
                    .min(self.policy.max_lockout);
                f.locked_until = Some(now + lock);
            }
        }
    }

    /// Records a successful login: the account starts afresh (the address does not, so that one valid
    /// account cannot be used to reset an address that is guessing others).
    pub fn succeed(&self, account: &str) {
        self.entries
            .lock()
            .expect("throttle lock")
            .remove(&Key::Account(account.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            per_account: 3,
            per_address: 5,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(10),
            max_lockout: Duration::from_secs(40),
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn account_locks_after_limit_and_doubles() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        for _ in 0..2 {
            t.fail("alice", A, now);
            assert!(t.check("alice", A, now).is_ok());
        }
        t.fail("alice", A, now);
        assert_eq!(t.check("alice", A, now), Err(Duration::from_secs(10)));
        // Another address does not help: the account is locked.
        assert!(t.check("alice", B, now).is_err());
        let later = now + Duration::from_secs(11);
        assert!(t.check("alice", B, later).is_ok());
        t.fail("alice", B, later);
        assert_eq!(t.check("alice", B, later), Err(Duration::from_secs(20)));
    }

    #[test]
    fn address_locks_whatever_the_account() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        for i in 0..5 {
            t.fail(&format!("user{i}"), A, now);
        }
        assert!(t.check("someone-else", A, now).is_err());
        assert!(t.check("someone-else", B, now).is_ok());
    }

    #[test]
    fn success_resets_the_account_only() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        t.fail("alice", A, now);
        t.fail("alice", A, now);
        t.succeed("alice");
        t.fail("alice", A, now);
        t.fail("alice", A, now);
        assert!(t.check("alice", A, now).is_ok());
        t.fail("bob", A, now);
        // 5 failures from A in all.
        assert!(t.check("carol", A, now).is_err());
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        t.fail("alice", A, now);
        t.fail("alice", A, now);
        let later = now + Duration::from_secs(61);
        t.fail("alice", A, later);
        assert!(t.check("alice", A, later).is_ok());
    }
}
