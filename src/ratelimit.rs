//! Brute-force regulation for the login endpoints (form and API).
//!
//! A compromised device on the LAN may hammer the login page. Password hashing costs
//! about 250 ms of the device's single core, so the limiter is consulted *before* any
//! hashing and makes a flood cost the attacker, not the device:
//!
//! - **Per (username, client address)**: by default 3 failures within 2 minutes lock
//!   that pair for 5 minutes. Every key includes the address, so an attacker at one
//!   address can never lock the real administrator out at another.
//! - **Per client address** (any usernames): a higher threshold (10 failures in 2
//!   minutes) catches password spraying across many usernames.
//! - **Repeat offenders**: each further lockout of the same key within the memory
//!   period (24 h) doubles the lock, up to a cap (1 h).
//! - **Global hash budget**: a token bucket (4 hashes/s, burst 8) keeps a distributed
//!   flood from many addresses from eating the core; see
//!   [`RateLimiter::take_hash_budget`].
//!
//! Addresses are grouped: an IPv4 client (also when it arrives as an IPv4-mapped IPv6
//! address on a dual-stack socket) is counted by its full address; an IPv6 client is
//! counted by its /64 prefix, because one host usually owns a whole /64 and could
//! otherwise rotate through 2^64 addresses.
//!
//! Usernames are never stored: each is reduced to a keyed 64-bit SipHash of its ASCII
//! lowercase form, so entries have a fixed size, names differing only in ASCII case
//! share one counter (never fewer locks), and unknown usernames are counted exactly
//! like known ones — the limiter cannot reveal whether a user exists.
//!
//! Memory is bounded: each table has a fixed capacity and a flood of distinct addresses
//! or usernames cannot grow it (see [`LockPolicy::capacity`] for the eviction order).
//!
//! Time is a caller-supplied **monotonic** millisecond clock (for example milliseconds
//! since an `Instant` taken at start-up): a wall clock stepping backwards would stretch
//! locks.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::IpAddr;

/// Largest accepted failure threshold; larger configured values are clamped to it so an
/// entry's failure log stays small.
pub(crate) const MAX_THRESHOLD: u32 = 64;

/// When one kind of key (per address, or per username at an address) gets locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LockPolicy {
    /// Failures within [`window_ms`](Self::window_ms) that start a lock (1 to
    /// [`MAX_THRESHOLD`]).
    pub max_failures: u32,
    /// Length of the sliding window in which failures are counted.
    pub window_ms: u64,
    /// Length of a first lock.
    pub lock_ms: u64,
    /// Longest lock: doubled locks stop growing here (at least `lock_ms`).
    pub max_lock_ms: u64,
    /// A further lockout within this long after the previous lock ended counts as a
    /// repeat offence and doubles the lock; after it, the key starts over.
    pub memory_ms: u64,
    /// Most keys tracked at once (at least 1). When the table is full, room is made in
    /// this order: entries holding nothing worth keeping (no lock, no failure inside
    /// the window, no repeat-offence memory); then the least recently failed unlocked
    /// entries; only if every entry is locked, the locks that end soonest. Evicting an
    /// entry forgets its failures — the trade-off for bounded memory: an attacker able
    /// to fill the table from thousands of addresses could make the limiter forget one
    /// of them, but such an attacker can rotate addresses anyway, and the global hash
    /// budget still bounds the total guessing rate. Room is made for a sixteenth of
    /// the capacity at a time, so the eviction scan is amortised O(1) per insertion.
    pub capacity: usize,
}

/// Every limiter tunable. [`Default`] gives the values described in the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RateConfig {
    /// Policy for one username at one client address.
    pub user_at_ip: LockPolicy,
    /// Policy for one client address, whatever the usernames.
    pub ip: LockPolicy,
    /// Password hashes per second the whole service may start (at least 1).
    pub hashes_per_sec: u32,
    /// Hashes that may be started back to back after a quiet period (at least 1).
    pub hash_burst: u32,
}

const MINUTE_MS: u64 = 60_000;

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            user_at_ip: LockPolicy {
                max_failures: 3,
                window_ms: 2 * MINUTE_MS,
                lock_ms: 5 * MINUTE_MS,
                max_lock_ms: 60 * MINUTE_MS,
                memory_ms: 24 * 60 * MINUTE_MS,
                capacity: 4096,
            },
            ip: LockPolicy {
                max_failures: 10,
                window_ms: 2 * MINUTE_MS,
                lock_ms: 5 * MINUTE_MS,
                max_lock_ms: 60 * MINUTE_MS,
                memory_ms: 24 * 60 * MINUTE_MS,
                capacity: 4096,
            },
            hashes_per_sec: 4,
            hash_burst: 8,
        }
    }
}

/// Why a login attempt is refused before any hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum DenyReason {
    /// The client address (or its IPv6 /64) has failed too often.
    IpLocked,
    /// This username has failed too often from this client address.
    UserAtIpLocked,
    /// The service-wide password hash budget is spent for now.
    HashBudget,
}

/// A refusal: the service answers 429 (or 503 for [`DenyReason::HashBudget`]) with
/// `Retry-After: retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Denied {
    /// Whole seconds until the attempt may succeed, at least 1.
    pub retry_after_secs: u64,
    /// What is exhausted.
    pub reason: DenyReason,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.reason {
            DenyReason::IpLocked => "address locked",
            DenyReason::UserAtIpLocked => "user at address locked",
            DenyReason::HashBudget => "hash budget exhausted",
        };
        write!(f, "{what}; retry after {} s", self.retry_after_secs)
    }
}

impl std::error::Error for Denied {}

#[cfg(test)]
/// Table sizes, for tests and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateStats {
    /// Client addresses tracked.
    pub ip_entries: usize,
    /// (username, client address) pairs tracked.
    pub user_at_ip_entries: usize,
}

/// The brute-force limiter: two bounded failure tables and the global hash budget.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    user_at_ip: Table<(u64, IpKey)>,
    ip: Table<IpKey>,
    hashes: TokenBucket,
    // Per-process random key: an attacker cannot aim usernames at one counter.
    name_hasher: RandomState,
}

impl RateLimiter {
    /// A limiter with `config`; out-of-range values are clamped to the documented bounds.
    pub(crate) fn new(config: RateConfig) -> RateLimiter {
        RateLimiter {
            user_at_ip: Table::new(config.user_at_ip),
            ip: Table::new(config.ip),
            hashes: TokenBucket::new(config.hashes_per_sec, config.hash_burst),
            name_hasher: RandomState::new(),
        }
    }

    /// Whether a login attempt for `username` from `ip` may go on to password hashing.
    /// Call it before anything costly; it never records anything itself.
    ///
    /// When both the address and the pair are locked, the longer lock is reported.
    pub(crate) fn check(&mut self, ip: IpAddr, username: &str, now_ms: u64) -> Result<(), Denied> {
        let ip_key = IpKey::of(ip);
        let pair = (self.name_key(username), ip_key);
        let pair_wait = self.user_at_ip.locked_for(&pair, now_ms);
        let ip_wait = self.ip.locked_for(&ip_key, now_ms);
        let denied = match (pair_wait, ip_wait) {
            (None, None) => return Ok(()),
            (Some(p), Some(i)) if i > p => (i, DenyReason::IpLocked),
            (Some(p), _) => (p, DenyReason::UserAtIpLocked),
            (None, Some(i)) => (i, DenyReason::IpLocked),
        };
        Err(Denied {
            retry_after_secs: retry_secs(denied.0),
            reason: denied.1,
        })
    }

    /// Counts a failed login of `username` (known or not) from `ip`. Returns the lock
    /// this failure started, if any (the longer one if both keys locked), for logging.
    ///
    /// A failure reported while its key is already locked (a request that passed
    /// [`check`](Self::check) just before the lock began) is ignored: in-flight
    /// requests must not double a fresh lock.
    pub(crate) fn record_failure(
        &mut self,
        ip: IpAddr,
        username: &str,
        now_ms: u64,
    ) -> Option<Denied> {
        let ip_key = IpKey::of(ip);
        let pair = (self.name_key(username), ip_key);
        let pair_lock = self.user_at_ip.fail(pair, now_ms);
        let ip_lock = self.ip.fail(ip_key, now_ms);
        let (ms, reason) = match (pair_lock, ip_lock) {
            (None, None) => return None,
            (Some(p), Some(i)) if i > p => (i, DenyReason::IpLocked),
            (Some(p), _) => (p, DenyReason::UserAtIpLocked),
            (None, Some(i)) => (i, DenyReason::IpLocked),
        };
        Some(Denied {
            retry_after_secs: retry_secs(ms),
            reason,
        })
    }

    /// Records a successful login: forgets everything about this (username, address)
    /// pair, its repeat-offence history included, since the password was proven.
    ///
    /// The address counter is deliberately left as it is: otherwise an attacker who
    /// owns an account could log into it between guesses at another account from the
    /// same address to reset the address-wide count. Legitimate users behind the same
    /// address only ever see it expire with its window.
    pub(crate) fn record_success(&mut self, ip: IpAddr, username: &str, now_ms: u64) {
        // The clock is in the signature so a future decay policy needs no API change.
        let _ = now_ms;
        let pair = (self.name_key(username), IpKey::of(ip));
        self.user_at_ip.map.remove(&pair);
    }

    /// Takes one token from the global password-hash budget; call it right before
    /// queueing a hash. Denied means answer 503 (or 429) with `Retry-After`.
    pub(crate) fn take_hash_budget(&mut self, now_ms: u64) -> Result<(), Denied> {
        self.hashes.take(now_ms).map_err(|wait_ms| Denied {
            retry_after_secs: retry_secs(wait_ms),
            reason: DenyReason::HashBudget,
        })
    }

    #[cfg(test)]
    /// Total tracked entries in both tables.
    pub(crate) fn len(&self) -> usize {
        self.user_at_ip.map.len() + self.ip.map.len()
    }

    #[cfg(test)]
    /// Entries per table.
    pub(crate) fn stats(&self) -> RateStats {
        RateStats {
            ip_entries: self.ip.map.len(),
            user_at_ip_entries: self.user_at_ip.map.len(),
        }
    }

    fn name_key(&self, username: &str) -> u64 {
        let mut hasher = self.name_hasher.build_hasher();
        for byte in username.bytes() {
            hasher.write_u8(byte.to_ascii_lowercase());
        }
        hasher.finish()
    }
}

fn retry_secs(wait_ms: u64) -> u64 {
    wait_ms.div_ceil(1000).max(1)
}

/// The part of a client address that identifies one client: an IPv4 address (also
/// when mapped into IPv6), or an IPv6 address's /64 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IpKey {
    V4([u8; 4]),
    /// The /64 prefix.
    V6(u64),
}

impl IpKey {
    pub(crate) fn of(ip: IpAddr) -> IpKey {
        // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; grouping those by
        // /64 would put every IPv4 client in one bucket.
        match ip.to_canonical() {
            IpAddr::V4(v4) => IpKey::V4(v4.octets()),
            IpAddr::V6(v6) => IpKey::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

/// Failure history and lock state of one key.
#[derive(Debug)]
struct Counter {
    /// Ring of the most recent failure times; its length is the threshold.
    failures: Box<[u64]>,
    /// Where the next failure is written; when the ring is full it holds the oldest.
    head: usize,
    /// Failures in the ring (at most its length).
    filled: usize,
    last_failure: u64,
    locked_until: u64,
    /// Lockouts in the current repeat-offence streak.
    lockouts: u32,
}

impl Counter {
    fn new(threshold: usize) -> Counter {
        Counter {
            failures: vec![0; threshold].into_boxed_slice(),
            head: 0,
            filled: 0,
            last_failure: 0,
            locked_until: 0,
            lockouts: 0,
        }
    }

    fn is_locked(&self, now: u64) -> bool {
        self.locked_until > now
    }

    /// Whether the entry holds nothing that affects a future decision.
    fn is_idle(&self, now: u64, policy: &LockPolicy) -> bool {
        let no_recent_failure =
            self.filled == 0 || now.saturating_sub(self.last_failure) >= policy.window_ms;
        let no_memory =
            self.lockouts == 0 || now.saturating_sub(self.locked_until) >= policy.memory_ms;
        !self.is_locked(now) && no_recent_failure && no_memory
    }

    /// Adds a failure; returns the lock length if it starts a lock.
    fn fail(&mut self, now: u64, policy: &LockPolicy) -> Option<u64> {
        if self.is_locked(now) {
            return None;
        }
        let len = self.failures.len();
        if let Some(slot) = self.failures.get_mut(self.head) {
            *slot = now;
        }
        self.head = (self.head + 1) % len.max(1);
        self.filled = (self.filled + 1).min(len);
        self.last_failure = now;
        if self.filled < len {
            return None;
        }
        let oldest = self.failures.get(self.head).copied().unwrap_or(now);
        if now.saturating_sub(oldest) >= policy.window_ms {
            return None;
        }
        let repeat = self.lockouts > 0 && now.saturating_sub(self.locked_until) < policy.memory_ms;
        self.lockouts = if repeat {
            self.lockouts.saturating_add(1)
        } else {
            1
        };
        let doublings = (self.lockouts - 1).min(63);
        let lock = policy
            .lock_ms
            .saturating_mul(1u64 << doublings)
            .min(policy.max_lock_ms);
        self.locked_until = now.saturating_add(lock);
        self.filled = 0;
        Some(lock)
    }
}

#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Counter>,
    policy: LockPolicy,
}

impl<K: Hash + Eq + Copy> Table<K> {
    fn new(mut policy: LockPolicy) -> Table<K> {
        policy.max_failures = policy.max_failures.clamp(1, MAX_THRESHOLD);
        policy.max_lock_ms = policy.max_lock_ms.max(policy.lock_ms);
        policy.capacity = policy.capacity.max(1);
        Table {
            map: HashMap::new(),
            policy,
        }
    }

    fn locked_for(&self, key: &K, now: u64) -> Option<u64> {
        self.map
            .get(key)
            .filter(|c| c.is_locked(now))
            .map(|c| c.locked_until - now)
    }

    fn fail(&mut self, key: K, now: u64) -> Option<u64> {
        if !self.map.contains_key(&key) && self.map.len() >= self.policy.capacity {
            self.make_room(now);
        }
        let threshold = self.policy.max_failures as usize;
        let policy = &self.policy;
        self.map
            .entry(key)
            .or_insert_with(|| Counter::new(threshold))
            .fail(now, policy)
    }

    /// Frees at least a sixteenth of the capacity (and at least one slot).
    fn make_room(&mut self, now: u64) {
        let policy = &self.policy;
        self.map.retain(|_, c| !c.is_idle(now, policy));
        let want_free = (policy.capacity / 16).max(1);
        let keep = policy.capacity.saturating_sub(want_free);
        let excess = self.map.len().saturating_sub(keep);
        if excess == 0 {
            return;
        }
        // Unlocked entries go first, least recently failed first; then locks by end.
        let mut ranked: Vec<((bool, u64), K)> = self
            .map
            .iter()
            .map(|(k, c)| {
                let locked = c.is_locked(now);
                let age = if locked {
                    c.locked_until
                } else {
                    c.last_failure
                };
                ((locked, age), *k)
            })
            .collect();
        if excess < ranked.len() {
            ranked.select_nth_unstable_by_key(excess - 1, |(rank, _)| *rank);
            ranked.truncate(excess);
        }
        for (_, key) in ranked {
            self.map.remove(&key);
        }
    }
}

/// The global password-hash budget, in thousandths of a token for integer refills.
#[derive(Debug)]
struct TokenBucket {
    milli_tokens: u64,
    burst_milli: u64,
    /// Tokens per second, which is milli-tokens per millisecond.
    rate: u64,
    last_ms: u64,
}

impl TokenBucket {
    fn new(per_sec: u32, burst: u32) -> TokenBucket {
        let burst_milli = u64::from(burst.max(1)) * 1000;
        TokenBucket {
            milli_tokens: burst_milli,
            burst_milli,
            rate: u64::from(per_sec.max(1)),
            last_ms: 0,
        }
    }

    /// Takes a token, or says how many milliseconds until one is available.
    fn take(&mut self, now: u64) -> Result<(), u64> {
        if now > self.last_ms {
            let refill = (now - self.last_ms).saturating_mul(self.rate);
            self.milli_tokens = self
                .milli_tokens
                .saturating_add(refill)
                .min(self.burst_milli);
            self.last_ms = now;
        }
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            Ok(())
        } else {
            Err((1000 - self.milli_tokens).div_ceil(self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1000;
    const MIN: u64 = 60 * SEC;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limiter() -> RateLimiter {
        RateLimiter::new(RateConfig::default())
    }

    /// Fails `n` logins one second apart starting at `start`, each after a passing check.
    fn fail_n(l: &mut RateLimiter, addr: IpAddr, user: &str, start: u64, n: u64) {
        for i in 0..n {
            let t = start + i * SEC;
            assert_eq!(l.check(addr, user, t), Ok(()), "attempt {i} refused early");
            l.record_failure(addr, user, t);
        }
    }

    #[test]
    fn three_failures_lock_the_pair_and_fourth_check_is_denied() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        fail_n(&mut l, a, "admin", 0, 3);
        let denied = l.check(a, "admin", 2 * SEC).unwrap_err();
        assert_eq!(denied.reason, DenyReason::UserAtIpLocked);
        // Locked at t=2 s for 5 min: exactly 300 s left.
        assert_eq!(denied.retry_after_secs, 300);
        let later = l.check(a, "admin", 2 * SEC + 1).unwrap_err();
        assert_eq!(later.retry_after_secs, 300, "rounds up partial seconds");
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        for t in [0, MIN, 2 * MIN, 3 * MIN, 4 * MIN] {
            assert_eq!(l.check(a, "admin", t), Ok(()));
            l.record_failure(a, "admin", t);
        }
        assert_eq!(l.check(a, "admin", 4 * MIN + 1), Ok(()));
        // Three inside a sliding window, not aligned to its start, do lock.
        l.record_failure(a, "admin", 4 * MIN + 30 * SEC);
        assert!(l.check(a, "admin", 4 * MIN + 31 * SEC).is_err());
    }

    #[test]
    fn lock_ends_after_five_minutes() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        fail_n(&mut l, a, "admin", 0, 3);
        let locked_at = 2 * SEC;
        assert!(l.check(a, "admin", locked_at + 5 * MIN - 1).is_err());
        assert_eq!(l.check(a, "admin", locked_at + 5 * MIN), Ok(()));
    }

    #[test]
    fn failure_while_locked_does_not_extend_the_lock() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        fail_n(&mut l, a, "admin", 0, 3);
        // Requests that were in flight when the lock began report late.
        assert_eq!(l.record_failure(a, "admin", 3 * SEC), None);
        assert_eq!(l.record_failure(a, "admin", 4 * SEC), None);
        assert_eq!(l.record_failure(a, "admin", 5 * SEC), None);
        assert_eq!(l.check(a, "admin", 2 * SEC + 5 * MIN), Ok(()));
    }

    #[test]
    fn repeat_offenders_get_doubled_locks_up_to_the_cap() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        let mut now = 0;
        let mut locks = Vec::new();
        for _ in 0..6 {
            fail_n(&mut l, a, "admin", now, 2);
            let lock = l.record_failure(a, "admin", now + 2 * SEC).unwrap();
            assert_eq!(lock.reason, DenyReason::UserAtIpLocked);
            locks.push(lock.retry_after_secs);
            now += 2 * SEC + lock.retry_after_secs * SEC;
        }
        assert_eq!(locks, [300, 600, 1200, 2400, 3600, 3600]);
    }

    #[test]
    fn offence_memory_expires_after_a_quiet_day() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        fail_n(&mut l, a, "admin", 0, 2);
        let first = l.record_failure(a, "admin", 2 * SEC).unwrap();
        assert_eq!(first.retry_after_secs, 300);
        let unlocked = 2 * SEC + 5 * MIN;
        let next_day = unlocked + 24 * 60 * MIN;
        fail_n(&mut l, a, "admin", next_day, 2);
        let again = l.record_failure(a, "admin", next_day + 2 * SEC).unwrap();
        assert_eq!(again.retry_after_secs, 300, "a day later starts over");
    }

    #[test]
    fn success_clears_the_pair_but_not_the_address_counter() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        fail_n(&mut l, a, "admin", 0, 2);
        // Eight more failures at other names bring the address to 9 of 10.
        for i in 0..7 {
            l.record_failure(a, &format!("guess{i}"), 3 * SEC);
        }
        l.record_success(a, "admin", 4 * SEC);
        // The pair starts over: two more failures do not lock it...
        l.record_failure(a, "admin", 5 * SEC);
        assert_eq!(
            l.check(a, "admin", 5 * SEC).map_err(|d| d.reason),
            Err(DenyReason::IpLocked),
            "...but the address counter kept the earlier failures and reached 10"
        );
    }

    #[test]
    fn success_at_own_account_does_not_reset_guesses_at_another() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        fail_n(&mut l, a, "admin", 0, 2);
        l.record_success(a, "mallory", 2 * SEC);
        l.record_failure(a, "admin", 3 * SEC);
        assert_eq!(
            l.check(a, "admin", 3 * SEC).map_err(|d| d.reason),
            Err(DenyReason::UserAtIpLocked)
        );
    }

    #[test]
    fn attacker_cannot_lock_the_admin_out_at_another_address() {
        let mut l = limiter();
        let attacker = ip("192.0.2.66");
        let admin = ip("192.0.2.10");
        for round in 0..20 {
            l.record_failure(attacker, "admin", round * SEC);
        }
        assert!(l.check(attacker, "admin", 20 * SEC).is_err());
        assert_eq!(l.check(admin, "admin", 20 * SEC), Ok(()));
        assert_eq!(l.check(admin, "other", 20 * SEC), Ok(()));
    }

    #[test]
    fn address_threshold_catches_spraying_across_usernames() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        for i in 0..9 {
            let user = format!("user{i}");
            assert_eq!(l.check(a, &user, i * SEC), Ok(()));
            assert_eq!(l.record_failure(a, &user, i * SEC), None);
        }
        let lock = l.record_failure(a, "user9", 9 * SEC).unwrap();
        assert_eq!(lock.reason, DenyReason::IpLocked);
        let denied = l.check(a, "never-tried", 10 * SEC).unwrap_err();
        assert_eq!(denied.reason, DenyReason::IpLocked);
        assert_eq!(denied.retry_after_secs, 299);
    }

    #[test]
    fn username_case_variants_share_a_counter() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        l.record_failure(a, "admin", 0);
        l.record_failure(a, "Admin", SEC);
        l.record_failure(a, "ADMIN", 2 * SEC);
        assert_eq!(
            l.check(a, "aDmIn", 3 * SEC).map_err(|d| d.reason),
            Err(DenyReason::UserAtIpLocked)
        );
    }

    #[test]
    fn ipv6_addresses_in_one_slash_64_share_a_counter() {
        let mut l = limiter();
        fail_n(&mut l, ip("2001:db8:1:2::1"), "admin", 0, 1);
        fail_n(&mut l, ip("2001:db8:1:2:ffff::9"), "admin", SEC, 1);
        fail_n(
            &mut l,
            ip("2001:db8:1:2:dead:beef:0:1"),
            "admin",
            2 * SEC,
            1,
        );
        let denied = l.check(ip("2001:db8:1:2::42"), "admin", 3 * SEC);
        assert_eq!(
            denied.map_err(|d| d.reason),
            Err(DenyReason::UserAtIpLocked)
        );
        assert_eq!(l.check(ip("2001:db8:1:3::1"), "admin", 3 * SEC), Ok(()));
    }

    #[test]
    fn ipv4_mapped_clients_count_per_ipv4_address() {
        let mut l = limiter();
        fail_n(&mut l, ip("::ffff:192.0.2.1"), "admin", 0, 3);
        // Same client seen on an IPv4 socket.
        assert!(l.check(ip("192.0.2.1"), "admin", 3 * SEC).is_err());
        // A neighbour mapped into the same ::ffff:0:0/96 is not lumped in.
        assert_eq!(l.check(ip("::ffff:192.0.2.2"), "admin", 3 * SEC), Ok(()));
    }

    #[test]
    fn a_flood_of_distinct_addresses_keeps_tables_within_capacity() {
        let mut l = limiter();
        for i in 0..100_000u32 {
            let addr = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            l.record_failure(addr, &format!("user{i}"), u64::from(i));
        }
        let stats = l.stats();
        assert!(stats.ip_entries <= 4096, "{stats:?}");
        assert!(stats.user_at_ip_entries <= 4096, "{stats:?}");
    }

    #[test]
    fn eviction_prefers_idle_then_unlocked_entries_over_locks() {
        let policy = LockPolicy {
            max_failures: 1,
            window_ms: MIN,
            lock_ms: 10 * MIN,
            max_lock_ms: 10 * MIN,
            memory_ms: 0,
            capacity: 16,
        };
        let mut l = RateLimiter::new(RateConfig {
            user_at_ip: LockPolicy {
                max_failures: 3,
                ..policy.clone()
            },
            ip: LockPolicy {
                max_failures: 3,
                ..policy
            },
            ..RateConfig::default()
        });
        let locked = ip("192.0.2.200");
        fail_n(&mut l, locked, "admin", 0, 3);
        // Fill both tables with unlocked single-failure entries, then overflow them.
        for i in 0..40u8 {
            l.record_failure(IpAddr::from([10, 0, 0, i]), "x", 3 * SEC + u64::from(i));
        }
        assert!(l.stats().ip_entries <= 16);
        assert!(
            l.check(locked, "admin", 4 * SEC).is_err(),
            "the lock survived"
        );
    }

    #[test]
    fn when_every_entry_is_locked_the_soonest_ending_lock_goes() {
        let policy = LockPolicy {
            max_failures: 1,
            window_ms: MIN,
            lock_ms: 10 * MIN,
            max_lock_ms: 10 * MIN,
            memory_ms: 0,
            capacity: 4,
        };
        let mut l = RateLimiter::new(RateConfig {
            user_at_ip: policy.clone(),
            ip: policy,
            ..RateConfig::default()
        });
        for i in 0..5u8 {
            l.record_failure(IpAddr::from([10, 0, 0, i]), "x", u64::from(i) * SEC);
        }
        assert_eq!(l.stats().ip_entries, 4);
        assert_eq!(l.check(IpAddr::from([10, 0, 0, 0]), "x", 5 * SEC), Ok(()));
        for i in 1..5u8 {
            assert!(l.check(IpAddr::from([10, 0, 0, i]), "x", 5 * SEC).is_err());
        }
    }

    #[test]
    fn global_hash_budget_refills_over_time() {
        let mut l = limiter();
        for _ in 0..8 {
            assert_eq!(l.take_hash_budget(10_000), Ok(()));
        }
        let denied = l.take_hash_budget(10_000).unwrap_err();
        assert_eq!(denied.reason, DenyReason::HashBudget);
        assert_eq!(denied.retry_after_secs, 1);
        // 4 per second: one token every 250 ms.
        assert!(l.take_hash_budget(10_249).is_err());
        assert_eq!(l.take_hash_budget(10_250), Ok(()));
        assert!(l.take_hash_budget(10_250).is_err());
        // A long pause refills only up to the burst.
        for _ in 0..8 {
            assert_eq!(l.take_hash_budget(100_000), Ok(()));
        }
        assert!(l.take_hash_budget(100_000).is_err());
    }

    #[test]
    fn clock_going_backwards_does_not_refill_the_budget() {
        let mut l = limiter();
        for _ in 0..8 {
            l.take_hash_budget(5_000).unwrap();
        }
        assert!(l.take_hash_budget(1_000).is_err());
        assert!(l.take_hash_budget(5_000).is_err());
        assert_eq!(l.take_hash_budget(5_250), Ok(()));
    }

    #[test]
    fn times_near_the_end_of_the_clock_saturate_instead_of_overflowing() {
        let mut l = limiter();
        let a = ip("192.0.2.1");
        let end = u64::MAX - 1;
        for _ in 0..3 {
            l.record_failure(a, "admin", end);
        }
        let denied = l.check(a, "admin", end).unwrap_err();
        assert_eq!(denied.reason, DenyReason::UserAtIpLocked);
        assert_eq!(denied.retry_after_secs, 1);
        assert_eq!(l.take_hash_budget(u64::MAX), Ok(()));
    }

    #[test]
    fn degenerate_config_is_clamped() {
        let zero = LockPolicy {
            max_failures: 0,
            window_ms: 0,
            lock_ms: 0,
            max_lock_ms: 0,
            memory_ms: 0,
            capacity: 0,
        };
        let mut l = RateLimiter::new(RateConfig {
            user_at_ip: zero.clone(),
            ip: zero,
            hashes_per_sec: 0,
            hash_burst: 0,
        });
        l.record_failure(ip("192.0.2.1"), "a", 0);
        l.record_failure(ip("192.0.2.2"), "a", 0);
        assert!(l.len() <= 2);
        assert_eq!(l.take_hash_budget(0), Ok(()));
        assert!(l.take_hash_budget(0).is_err());
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn ratelimit_example() {
        use crate::ratelimit::{DenyReason, RateConfig, RateLimiter};
        use std::net::IpAddr;

        let mut limiter = RateLimiter::new(RateConfig::default());
        let attacker: IpAddr = "192.0.2.7".parse().unwrap();
        let admin: IpAddr = "192.0.2.8".parse().unwrap();
        for t in 0..3 {
            limiter.check(attacker, "admin", t * 1000).unwrap();
            // ... the password hash fails to verify ...
            limiter.record_failure(attacker, "admin", t * 1000);
        }
        let denied = limiter.check(attacker, "admin", 5_000).unwrap_err();
        assert_eq!(denied.reason, DenyReason::UserAtIpLocked);
        assert_eq!(denied.retry_after_secs, 297);
        // The administrator at another address is unaffected.
        assert!(limiter.check(admin, "admin", 5_000).is_ok());
    }

    #[test]
    fn check_example() {
        use crate::ratelimit::{RateConfig, RateLimiter};
        let mut limiter = RateLimiter::new(RateConfig::default());
        assert!(
            limiter
                .check("2001:db8::1".parse().unwrap(), "admin", 0)
                .is_ok()
        );
    }

    #[test]
    fn take_hash_budget_example() {
        use crate::ratelimit::{RateConfig, RateLimiter};
        let mut limiter = RateLimiter::new(RateConfig::default());
        for _ in 0..8 {
            limiter.take_hash_budget(0).unwrap();
        }
        assert_eq!(limiter.take_hash_budget(0).unwrap_err().retry_after_secs, 1);
        assert!(limiter.take_hash_budget(250).is_ok());
    }
}
