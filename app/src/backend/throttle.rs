//! Throttling of logins, per account and per client address. Both keys are checked before a password is
//! even looked at, so changing the user name in the body does not escape the address limit, and changing
//! the address does not escape the account limit. In memory: a restart forgets it, which costs an
//! attacker a restart they cannot cause.
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
/// size) or a network (an IPv4 address, or an IPv6 /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Account(u64),
    V4(u32),
    V6Net(u64),
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
    account: Key,
    address: Key,
    resolved: bool,
}

impl Attempt<'_> {
    /// The attempt failed: it counts against the account and the address.
    pub fn fail(mut self, now: Instant) {
        self.resolved = true;
        self.throttle
            .resolve(self.account, self.address, Outcome::Failure, now);
    }

    /// The attempt succeeded: the account starts afresh (the address does not, so that one valid
    /// account cannot be used to reset an address that is guessing others).
    pub fn succeed(mut self, now: Instant) {
        self.resolved = true;
        self.throttle
            .resolve(self.account, self.address, Outcome::Success, now);
    }

    /// The attempt never got to check a password (busy server, internal error): it counts for nothing.
    pub fn abandon(mut self, now: Instant) {
        self.resolved = true;
        self.throttle
            .resolve(self.account, self.address, Outcome::Abandoned, now);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            self.throttle
                .resolve(self.account, self.address, Outcome::Failure, Instant::now());
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
                full_until: None,
            }),
            hashing: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// At most `max_entries` keys (at least 2: one attempt needs an account and an address).
    pub fn with_max_entries(mut self, max_entries: usize) -> Throttle {
        self.max_entries = max_entries.max(2);
        self
    }

    /// At most `slots` password checks at once.
    pub fn with_hash_slots(mut self, slots: usize) -> Throttle {
        self.hashing = Arc::new(Semaphore::new(slots));
        self
    }

    fn account_key(&self, account: &str) -> Key {
        Key::Account(self.names.hash_one(account))
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
        let limits = [
            (self.account_key(account), self.policy.per_account),
            (address_key(addr), self.policy.per_address),
        ];
        let wait = limits
            .iter()
            .filter_map(|(key, limit)| {
                let mut e = *table.entries.get(key)?;
                e.expire(self.policy.window, now);
                e.refusal(*limit, now)
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
        let account = self.account_key(account);
        let address = address_key(addr);
        let mut table = self.lock();
        let mut wait = None;
        let mut missing = 0;
        for (key, limit) in [
            (account, self.policy.per_account),
            (address, self.policy.per_address),
        ] {
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
        for key in [account, address] {
            table
                .entries
                .entry(key)
                .or_insert_with(|| Entry::new(now))
                .pending += 1;
        }
        Ok(Attempt {
            throttle: self,
            account,
            address,
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

    fn resolve(&self, account: Key, address: Key, outcome: Outcome, now: Instant) {
        let mut table = self.lock();
        for (key, limit) in [
            (account, self.policy.per_account),
            (address, self.policy.per_address),
        ] {
            // Pending entries are never evicted, so the entry is there.
            let Some(e) = table.entries.get_mut(&key) else {
                continue;
            };
            e.pending = e.pending.saturating_sub(1);
            match (outcome, key) {
                (Outcome::Failure, _) => self.count_failure(e, limit, now),
                (Outcome::Success, Key::Account(_)) => {
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
        let account = self.account_key(account);
        let address = address_key(addr);
        let mut table = self.lock();
        if !self.make_room(&mut table, 2, now) {
            return;
        }
        for key in [account, address] {
            table
                .entries
                .entry(key)
                .or_insert_with(|| Entry::new(now))
                .pending += 1;
        }
        drop(table);
        self.resolve(account, address, Outcome::Failure, now);
    }

    /// Test helper: records a successful login without [`Throttle::begin`]: the account starts afresh,
    /// the address does not.
    #[cfg(test)]
    fn succeed(&self, account: &str) {
        let key = self.account_key(account);
        let mut table = self.lock();
        if let Some(e) = table.entries.get_mut(&key) {
            e.count = 0;
            e.locked_until = None;
            if e.pending == 0 {
                table.entries.remove(&key);
            }
        }
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
        let t = Throttle::new(policy()).with_max_entries(4);
        let now = Instant::now();
        // Two attempts in flight: four keys, none evictable.
        let a = t.begin("alice", A, now).unwrap();
        let b = t.begin("bob", B, now).unwrap();
        let c = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3));
        assert!(t.begin("carol", c, now).is_err());
        assert_eq!(t.len(), 4);
        // Known keys are still served.
        t.begin("alice", B, now).unwrap().abandon(now);
        // Once they are resolved, room is made again.
        a.abandon(now);
        b.fail(now);
        t.begin("carol", c, now).unwrap().fail(now);
        assert!(t.len() <= 4);
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
