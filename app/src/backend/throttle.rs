//! Throttling of logins, checked before a password is even looked at, under three keys:
//!
//! - **account and address** ([`ThrottlePolicy::per_account`] failures): the lock that someone guessing
//!   one account from one address runs into. It locks that address out of that account only, so an
//!   attacker cannot use it to lock the account's owner out;
//! - **address** ([`ThrottlePolicy::per_address`] failures, whatever the account): changing the user name
//!   in the body does not escape it;
//! - **account** ([`ThrottlePolicy::per_account_total`] failures, from all addresses): changing the
//!   address does not escape it, but it applies only to addresses that have not logged in to that account
//!   successfully before (remembered for [`ThrottlePolicy::trusted_for`]), so the owner, from where they
//!   usually log in, is never locked out by others' failures.
//!
//! Each lock grows: it lasts [`ThrottlePolicy::lockout`], doubling with each further failure while over
//! the limit, up to [`ThrottlePolicy::max_lockout`]. In memory: a restart forgets it (and the trusted
//! addresses), which costs an attacker a restart they cannot cause.
//!
//! An attempt is admitted and counted in one locked step ([`Throttle::begin`]): it is *pending* until it
//! is resolved as a failure or a success, and pending attempts use up the allowance like failures, so
//! however many requests arrive at once, no more than the limit of them can be in flight or done within
//! the window. The [`Attempt`] guard resolves as a failure when dropped unresolved (a cancelled request
//! still cost a hash).
//!
//! Addresses are keyed by IPv4 address, or by the /64 prefix for IPv6 (one host usually has a whole
//! /64); IPv4-mapped IPv6 addresses count as the IPv4 address. The table is capped: past
//! [`DEFAULT_MAX_ENTRIES`], forgotten entries go first, then the oldest that are neither locked nor
//! pending; when all of them are, new keys are refused (as throttled) until some expire.
//!
//! Password hashing is bounded too: [`Throttle::hash_slot`] hands out at most about one permit per CPU,
//! and a login that cannot get one promptly is answered as throttled rather than queued.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// Failures of one account from one address, within `window`, before that address is locked out of
    /// that account.
    pub per_account: u32,
    /// Failures of one account from all addresses, within `window`, before the account is locked for
    /// every address that has not logged in to it successfully before.
    pub per_account_total: u32,
    /// How long an address that logged in to an account successfully stays exempt from that account's
    /// lock.
    pub trusted_for: Duration,
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
            per_account_total: 20,
            trusted_for: Duration::from_secs(30 * 24 * 3600),
            per_address: 20,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// The most entries kept by default (about 64 bytes each: account names are kept as keyed hashes).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// How long a login waits for a hashing permit before it is answered as throttled.
const HASH_SLOT_WAIT: Duration = Duration::from_millis(250);

/// The wait announced when attempts are refused because others are still in flight (not a lock).
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// After a cap sweep that freed nothing, new keys are refused without another sweep for this long.
const FULL_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures within the window.
    count: u32,
    /// Admitted attempts not resolved yet.
    pending: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            count: 0,
            pending: 0,
            first: now,
            locked_until: None,
        }
    }

    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|u| u > now)
    }

    /// Past the window and not locked: its failures are forgotten (pending attempts stay).
    fn expire(&mut self, window: Duration, now: Instant) {
        if now.saturating_duration_since(self.first) >= window && !self.locked(now) {
            self.count = 0;
            self.first = now;
            self.locked_until = None;
        }
    }

    /// Nothing worth keeping: no failures in the window, no lock, nothing in flight.
    fn forgettable(&self, window: Duration, now: Instant) -> bool {
        self.pending == 0
            && !self.locked(now)
            && (self.count == 0 || now.saturating_duration_since(self.first) >= window)
    }

    /// `Some(wait)` when one more attempt may not start now.
    fn refusal(&self, limit: u32, now: Instant) -> Option<Duration> {
        if let Some(until) = self.locked_until.filter(|u| *u > now) {
            return Some(until - now);
        }
        // Below the limit: the attempts left. At or past it (a lock that ran out): one probe at a time,
        // whose failure locks again for longer.
        let allowance = limit.saturating_sub(self.count).max(1);
        (self.pending >= allowance).then_some(BUSY_RETRY)
    }
}

/// What is throttled: an account (its normalized name, as a keyed hash, so that entries have a fixed
/// size), a network (an IPv4 address, or an IPv6 /64), or an account from one network (a keyed hash of
/// both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Account(u64),
    V4(u32),
    V6Net(u64),
    Pair(u64),
}

/// The keys of one attempt: `account` is `None` when the address is trusted for the account.
#[derive(Debug, Clone, Copy)]
struct Keys {
    pair: Key,
    address: Key,
    account: Option<Key>,
    /// For remembering a success: (account hash, address key).
    trust: (u64, Key),
}

impl Keys {
    fn each(&self) -> impl Iterator<Item = Key> + '_ {
        [Some(self.pair), Some(self.address), self.account]
            .into_iter()
            .flatten()
    }
}

/// The address key: IPv4-mapped IPv6 as IPv4, other IPv6 by its /64 prefix.
fn address_key(addr: IpAddr) -> Key {
    match addr.to_canonical() {
        IpAddr::V4(v4) => Key::V4(u32::from(v4)),
        IpAddr::V6(v6) => Key::V6Net((u128::from(v6) >> 64) as u64),
    }
}

#[derive(Debug)]
struct Table {
    entries: HashMap<Key, Entry>,
    /// (account hash, address key) → when that address last logged in to that account.
    trusted: HashMap<(u64, Key), Instant>,
    /// Set after a cap sweep that could not make room: no new key, and no new sweep, before then.
    full_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Throttle {
    policy: ThrottlePolicy,
    max_entries: usize,
    names: std::collections::hash_map::RandomState,
    table: Mutex<Table>,
    hashing: Arc<Semaphore>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(ThrottlePolicy::default())
    }
}

/// One admitted login attempt, counted as pending until resolved. Dropped unresolved, it is a failure.
#[must_use = "an attempt left unresolved counts as a failure"]
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: Keys,
    resolved: bool,
}

impl Attempt<'_> {
    /// The attempt failed: it counts against the account (from this address, and in all unless the
    /// address is trusted for it) and the address.
    pub fn fail(mut self, now: Instant) {
        self.resolved = true;
        self.throttle.resolve(self.keys, Outcome::Failure, now);
    }

    /// The attempt succeeded: the account starts afresh, and the address is trusted for it from now on
    /// (the address does not start afresh, so that one valid account cannot be used to reset an address
    /// that is guessing others).
    pub fn succeed(mut self, now: Instant) {
        self.resolved = true;
        self.throttle.resolve(self.keys, Outcome::Success, now);
    }

    /// The attempt never got to check a password (busy server, internal error): it counts for nothing.
    pub fn abandon(mut self, now: Instant) {
        self.resolved = true;
        self.throttle.resolve(self.keys, Outcome::Abandoned, now);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            self.throttle
                .resolve(self.keys, Outcome::Failure, Instant::now());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failure,
    Success,
    Abandoned,
}

impl Throttle {
    /// A throttle with `policy`, [`DEFAULT_MAX_ENTRIES`] and one hashing permit per CPU.
    pub fn new(policy: ThrottlePolicy) -> Throttle {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Throttle {
            policy,
            max_entries: DEFAULT_MAX_ENTRIES,
            names: Default::default(),
            table: Mutex::new(Table {
                entries: HashMap::new(),
                trusted: HashMap::new(),
                full_until: None,
            }),
            hashing: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// At most `max_entries` keys (at least 3: one attempt needs an account, an address and the pair),
    /// and as many trusted addresses.
    pub fn with_max_entries(mut self, max_entries: usize) -> Throttle {
        self.max_entries = max_entries.max(3);
        self
    }

    /// At most `slots` password checks at once.
    pub fn with_hash_slots(mut self, slots: usize) -> Throttle {
        self.hashing = Arc::new(Semaphore::new(slots));
        self
    }

    fn limit(&self, key: Key) -> u32 {
        match key {
            Key::Pair(_) => self.policy.per_account,
            Key::Account(_) => self.policy.per_account_total,
            Key::V4(_) | Key::V6Net(_) => self.policy.per_address,
        }
    }

    /// The keys of an attempt on `account` from `addr`; the account-wide one only when `addr` is not
    /// trusted for `account`.
    fn keys(&self, table: &Table, account: &str, addr: IpAddr, now: Instant) -> Keys {
        let hash = self.names.hash_one(account);
        let address = address_key(addr);
        let trusted = table
            .trusted
            .get(&(hash, address))
            .is_some_and(|at| now.saturating_duration_since(*at) < self.policy.trusted_for);
        Keys {
            pair: Key::Pair(self.names.hash_one((hash, address))),
            address,
            account: (!trusted).then_some(Key::Account(hash)),
            trust: (hash, address),
        }
    }

    /// Remembers that `trust.1` logged in to `trust.0`; when the list is full, expired ones go first,
    /// then the oldest.
    fn trust(&self, table: &mut Table, trust: (u64, Key), now: Instant) {
        if !table.trusted.contains_key(&trust) && table.trusted.len() >= self.max_entries {
            let keep = self.policy.trusted_for;
            table
                .trusted
                .retain(|_, at| now.saturating_duration_since(*at) < keep);
            while table.trusted.len() >= self.max_entries {
                let oldest = table
                    .trusted
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| *k);
                match oldest {
                    Some(k) => table.trusted.remove(&k),
                    None => break,
                };
            }
        }
        table.trusted.insert(trust, now);
    }

    /// The number of keys kept (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table stays consistent through a panic elsewhere: every change is a few plain stores.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permit to hash a password, waiting briefly for one; `None` when the server is too busy (answer
    /// as throttled). Hold it until the hash is done, including past a cancelled request.
    pub async fn hash_slot(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.hashing.clone().try_acquire_owned() {
            return Some(permit);
        }
        tokio::time::timeout(HASH_SLOT_WAIT, self.hashing.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// Test helper: `Err(retry_after)` while the account or the address may not try (locked, or its
    /// allowance in flight). Counts nothing: logins go through [`Throttle::begin`].
    #[cfg(test)]
    fn check(&self, account: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let table = self.lock();
        let keys = self.keys(&table, account, addr, now);
        let wait = keys
            .each()
            .filter_map(|key| {
                let mut e = *table.entries.get(&key)?;
                e.expire(self.policy.window, now);
                e.refusal(self.limit(key), now)
            })
            .max();
        match wait {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Admits one attempt for `account` from `addr` and counts it as pending, in one locked step;
    /// `Err(retry_after)` while either is locked, has its allowance in flight, or the table is full.
    pub fn begin(
        &self,
        account: &str,
        addr: IpAddr,
        now: Instant,
    ) -> Result<Attempt<'_>, Duration> {
        let mut table = self.lock();
        let keys = self.keys(&table, account, addr, now);
        let mut wait = None;
        let mut missing = 0;
        for key in keys.each() {
            let limit = self.limit(key);
            match table.entries.get_mut(&key) {
                Some(e) => {
                    e.expire(self.policy.window, now);
                    wait = wait.max(e.refusal(limit, now));
                }
                None => missing += 1,
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        if missing > 0 && !self.make_room(&mut table, missing, now) {
            tracing::warn!("login throttle table full: refusing new accounts and addresses");
            return Err(self.policy.lockout.max(BUSY_RETRY));
        }
        for key in keys.each() {
            table
                .entries
                .entry(key)
                .or_insert_with(|| Entry::new(now))
                .pending += 1;
        }
        Ok(Attempt {
            throttle: self,
            keys,
            resolved: false,
        })
    }

    /// Room for `needed` more keys: when full, drops forgotten entries, then the oldest that are
    /// neither locked nor pending, down to nine tenths of the cap (so sweeps are rare). False when it
    /// cannot: everything left is locked or in flight.
    fn make_room(&self, table: &mut Table, needed: usize, now: Instant) -> bool {
        if table.entries.len() + needed <= self.max_entries {
            return true;
        }
        if table.full_until.is_some_and(|u| u > now) {
            return false;
        }
        let window = self.policy.window;
        table.entries.retain(|_, e| !e.forgettable(window, now));
        let target = (self.max_entries - self.max_entries / 10).min(self.max_entries - needed);
        if table.entries.len() > target {
            let mut evictable: Vec<(Instant, Key)> = table
                .entries
                .iter()
                .filter(|(_, e)| e.pending == 0 && !e.locked(now))
                .map(|(k, e)| (e.first, *k))
                .collect();
            let excess = (table.entries.len() - target).min(evictable.len());
            if excess > 0 && excess < evictable.len() {
                evictable.select_nth_unstable_by_key(excess - 1, |(first, _)| *first);
            }
            for (_, key) in evictable.into_iter().take(excess) {
                table.entries.remove(&key);
            }
        }
        let room = table.entries.len() + needed <= self.max_entries;
        table.full_until = (!room).then(|| now + FULL_RECHECK);
        room
    }

    fn resolve(&self, keys: Keys, outcome: Outcome, now: Instant) {
        let mut table = self.lock();
        if outcome == Outcome::Success {
            self.trust(&mut table, keys.trust, now);
        }
        // The account-wide entry, even when the address was trusted: a success resets it.
        let account = Key::Account(keys.trust.0);
        let touched = [Some(keys.pair), Some(keys.address), keys.account];
        for key in [keys.pair, keys.address, account] {
            let limit = self.limit(key);
            let counted = touched.contains(&Some(key));
            // Pending entries are never evicted, so the entry is there.
            let Some(e) = table.entries.get_mut(&key) else {
                continue;
            };
            if counted {
                e.pending = e.pending.saturating_sub(1);
            }
            match (outcome, key) {
                (Outcome::Failure, _) if counted => self.count_failure(e, limit, now),
                (Outcome::Failure, _) => {}
                (Outcome::Success, Key::Account(_) | Key::Pair(_)) => {
                    e.count = 0;
                    e.first = now;
                    e.locked_until = None;
                }
                (Outcome::Success, _) | (Outcome::Abandoned, _) => {}
            }
            if e.pending == 0 && e.count == 0 && !e.locked(now) {
                table.entries.remove(&key);
            }
        }
    }

    fn count_failure(&self, e: &mut Entry, limit: u32, now: Instant) {
        e.expire(self.policy.window, now);
        e.count = e.count.saturating_add(1);
        if e.count >= limit {
            let doublings = (e.count - limit).min(16);
            let lock = self
                .policy
                .lockout
                .saturating_mul(1 << doublings)
                .min(self.policy.max_lockout);
            e.locked_until = Some(now + lock);
        }
    }

    /// Test helper: records a failed attempt without [`Throttle::begin`] (whatever the limits).
    #[cfg(test)]
    fn fail(&self, account: &str, addr: IpAddr, now: Instant) {
        let mut table = self.lock();
        let keys = self.keys(&table, account, addr, now);
        if !self.make_room(&mut table, 3, now) {
            return;
        }
        for key in keys.each() {
            table
                .entries
                .entry(key)
                .or_insert_with(|| Entry::new(now))
                .pending += 1;
        }
        drop(table);
        self.resolve(keys, Outcome::Failure, now);
    }

    /// Test helper: records a successful login from `addr` without [`Throttle::begin`]: the account
    /// starts afresh, the address does not, and the address is trusted for the account.
    #[cfg(test)]
    fn succeed(&self, account: &str, addr: IpAddr, now: Instant) {
        let mut table = self.lock();
        let keys = self.keys(&table, account, addr, now);
        for key in keys.each() {
            table
                .entries
                .entry(key)
                .or_insert_with(|| Entry::new(now))
                .pending += 1;
        }
        drop(table);
        self.resolve(keys, Outcome::Success, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            per_account: 3,
            per_account_total: 3,
            trusted_for: Duration::from_secs(3600),
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
    fn one_address_locks_only_itself_out_of_an_account() {
        let t = Throttle::new(ThrottlePolicy {
            per_account_total: 10,
            ..policy()
        });
        let now = Instant::now();
        for _ in 0..3 {
            t.fail("alice", A, now);
        }
        assert_eq!(t.check("alice", A, now), Err(Duration::from_secs(10)));
        // The owner, elsewhere, is not locked out; nor is A out of other accounts.
        assert!(t.check("alice", B, now).is_ok());
        assert!(t.check("bob", A, now).is_ok());
    }

    #[test]
    fn others_failures_never_lock_the_owner_out_of_a_trusted_address() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        t.begin("alice", B, now).unwrap().succeed(now);
        // Guesses from many addresses: the account is locked for addresses it does not know.
        for i in 0..10u8 {
            t.fail(
                "alice",
                IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 0, i)),
                now,
            );
        }
        assert!(t.check("alice", A, now).is_err());
        // From where she logged in before, alice still gets in, and her success does not unlock the
        // guessers' own locks.
        let attempt = t
            .begin("alice", B, now)
            .expect("a trusted address is admitted");
        attempt.succeed(now);
        let guesser = IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 0, 1));
        t.fail("alice", guesser, now);
        t.fail("alice", guesser, now);
        assert!(t.check("alice", guesser, now).is_err());
        // Her own wrong passwords still count against her address.
        for _ in 0..3 {
            t.begin("alice", B, now).unwrap().fail(now);
        }
        assert!(t.check("alice", B, now).is_err());
        // Trust ends after `trusted_for`.
        let much_later = now + Duration::from_secs(7200);
        t.begin("alice", A, much_later).unwrap().succeed(much_later);
        let keys = t.keys(&t.lock(), "alice", B, much_later);
        assert!(keys.account.is_some(), "B is no longer trusted");
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
        t.succeed("alice", A, now);
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

    fn v6(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn concurrent_attempts_cannot_exceed_the_account_limit() {
        // 64 threads released together, each trying the same account from its own address, and each
        // admitted attempt kept in flight until every thread has tried: exactly `per_account` get in.
        let t = Throttle::new(policy());
        let threads = 64;
        let start = std::sync::Barrier::new(threads);
        let tried = std::sync::Barrier::new(threads);
        let now = Instant::now();
        let admitted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for i in 0..threads {
                let (t, start, tried, admitted) = (&t, &start, &tried, &admitted);
                s.spawn(move || {
                    let addr = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i as u8));
                    start.wait();
                    let attempt = t.begin("alice", addr, now);
                    if attempt.is_ok() {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    } else {
                        assert_eq!(attempt.as_ref().err(), Some(&BUSY_RETRY));
                    }
                    tried.wait();
                    // Then a wrong password.
                    if let Ok(attempt) = attempt {
                        attempt.fail(now);
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), 3);
        // The failures are in: the account is locked, from anywhere.
        let c = IpAddr::V4(std::net::Ipv4Addr::new(10, 2, 0, 1));
        assert_eq!(
            t.begin("alice", c, now).err(),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn pending_attempts_use_up_the_allowance() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        // Three in flight at once, none resolved yet: the fourth is refused, for the account and
        // whatever the address.
        let held: Vec<_> = (0..3).map(|_| t.begin("alice", A, now).unwrap()).collect();
        assert_eq!(t.begin("alice", A, now).err(), Some(BUSY_RETRY));
        assert_eq!(t.begin("alice", B, now).err(), Some(BUSY_RETRY));
        assert!(t.check("alice", B, now).is_err());
        // Two more from A for other accounts reach A's limit of five.
        let other: Vec<_> = (0..2)
            .map(|i| t.begin(&format!("u{i}"), A, now).unwrap())
            .collect();
        assert!(t.begin("bob", A, now).is_err());
        assert!(t.begin("bob", B, now).is_ok_and(|a| {
            a.abandon(now);
            true
        }));
        // An abandoned attempt gives its place back; a failed one keeps it.
        let mut held = held.into_iter();
        held.next().unwrap().abandon(now);
        let again = t.begin("alice", B, now).unwrap();
        again.fail(now);
        assert_eq!(t.begin("alice", B, now).err(), Some(BUSY_RETRY));
        // Success resets the account; the pending ones still count for it.
        held.next().unwrap().succeed(now);
        held.next().unwrap().fail(now);
        let a = t.begin("alice", B, now).unwrap();
        drop(a); // dropped unresolved: a failure
        for o in other {
            o.fail(now);
        }
        // A: one of alice's three failed, and the two others: three. Two more lock it.
        t.begin("carol", A, now).unwrap().fail(now);
        assert!(t.check("dave", A, now).is_ok());
        t.begin("erin", A, now).unwrap().fail(now);
        assert!(t.check("dave", A, now).is_err());
        assert!(t.check("alice", B, now).is_ok());
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_and_mapped_ipv4_by_the_ipv4() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        // Five hosts of one /64, each a different account: the /64 is locked.
        for i in 0..5 {
            let addr = v6(&format!("2001:db8:1:2:{i}::{i}"));
            t.begin(&format!("user{i}"), addr, now).unwrap().fail(now);
        }
        assert!(
            t.check("x", v6("2001:db8:1:2:ffff:ffff:ffff:ffff"), now)
                .is_err()
        );
        assert!(t.check("x", v6("2001:db8:1:2::"), now).is_err());
        // The next /64 is another network.
        assert!(t.check("x", v6("2001:db8:1:3::1"), now).is_ok());

        // ::ffff:10.0.0.1 is 10.0.0.1, both ways.
        let mapped = v6("::ffff:10.0.0.1");
        for i in 0..4 {
            t.begin(&format!("v4user{i}"), mapped, now)
                .unwrap()
                .fail(now);
        }
        t.begin("v4user4", A, now).unwrap().fail(now);
        assert!(t.check("y", A, now).is_err());
        assert!(t.check("y", mapped, now).is_err());
        assert!(t.check("y", B, now).is_ok());
        assert_eq!(address_key(mapped), address_key(A));
        assert_ne!(address_key(v6("::a00:1")), address_key(A));
    }

    #[test]
    fn the_table_is_capped_and_keeps_locks() {
        let t = Throttle::new(policy()).with_max_entries(20);
        let now = Instant::now();
        // A locked account (its address is not locked).
        for _ in 0..3 {
            t.begin("alice", A, now).unwrap().fail(now);
        }
        // A flood of one-off failures, each a new account from a new address.
        for i in 0..2000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i));
            t.begin(&format!("guess{i}"), addr, now).unwrap().fail(now);
            assert!(t.len() <= 20, "{} entries", t.len());
        }
        // The lock survived the evictions.
        assert_eq!(t.check("alice", B, now), Err(Duration::from_secs(10)));
        // The old-API failures are capped too.
        for i in 0..100u32 {
            t.fail(
                &format!("old{i}"),
                IpAddr::V4(std::net::Ipv4Addr::from(0x0c00_0000 + i)),
                now,
            );
            assert!(t.len() <= 20);
        }
    }

    #[test]
    fn a_table_full_of_locks_and_pending_refuses_new_keys() {
        let t = Throttle::new(policy()).with_max_entries(6);
        let now = Instant::now();
        // Two attempts in flight: six keys (account, address, the pair), none evictable.
        let a = t.begin("alice", A, now).unwrap();
        let b = t.begin("bob", B, now).unwrap();
        let c = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3));
        assert!(t.begin("carol", c, now).is_err());
        assert_eq!(t.len(), 6);
        // Known keys are still served.
        t.begin("alice", A, now).unwrap().abandon(now);
        // Once they are resolved, room is made again.
        a.abandon(now);
        b.fail(now);
        t.begin("carol", c, now).unwrap().fail(now);
        assert!(t.len() <= 6);
    }

    #[tokio::test]
    async fn hash_slots_are_bounded() {
        let t = Throttle::new(policy()).with_hash_slots(2);
        let one = t.hash_slot().await.unwrap();
        let two = t.hash_slot().await.unwrap();
        assert!(t.hash_slot().await.is_none());
        drop(one);
        let three = t.hash_slot().await.unwrap();
        drop((two, three));
    }
}
