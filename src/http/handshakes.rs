//! Admission of TLS handshakes. A handshake costs the server a signature (and the
//! client nothing it cannot replay), and runs on the one loop, so each address
//! ([`address_key`]: IPv4 address or IPv6 /64) is held to a few at a time and to a
//! steady rate, and all of them together to a few dozen, so that one client cannot
//! starve everyone else of handshakes (or of the loop).
//!
//! The rate is a generic cell rate algorithm (GCRA, the "virtual scheduling" form of
//! ITU-T I.371): each address has a theoretical arrival time that advances by one
//! interval per handshake and may run ahead of the clock by at most the burst.
//!
//! [`address_key`]: super::limits::address_key

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::limits::Limits;

/// Why a new connection may not start a handshake now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its address has as many handshakes in progress as it may.
    AddressBusy,
    /// Its address started handshakes faster than the rate allows.
    TooFast,
    /// The server has as many handshakes in progress as it may.
    Full,
}

#[derive(Debug)]
pub(crate) struct Handshakes {
    in_progress: HashMap<IpAddr, usize>,
    total: usize,
    /// Per address: when its next handshake would be on schedule.
    schedule: HashMap<IpAddr, Instant>,
    per_address: usize,
    cap: usize,
    interval: Duration,
    burst: Duration,
}

impl Handshakes {
    pub(crate) fn new(limits: &Limits) -> Self {
        let rate = limits.handshakes_per_second_per_ip.max(1);
        let interval = Duration::from_secs(1) / rate;
        Handshakes {
            in_progress: HashMap::new(),
            total: 0,
            schedule: HashMap::new(),
            per_address: limits.max_handshakes_per_ip.max(1),
            cap: limits.max_handshakes.max(1),
            interval,
            burst: interval * limits.handshake_burst_per_ip,
        }
    }

    /// Admits a handshake from `key` now, counting it, or says why not. `capped` is
    /// false for an address exempt from the per-address limits (a local proxy on a shared
    /// loopback address); the total still applies to it.
    pub(crate) fn admit(&mut self, key: IpAddr, capped: bool, now: Instant) -> Result<(), Refusal> {
        if capped {
            if self.in_progress.get(&key).copied().unwrap_or(0) >= self.per_address {
                return Err(Refusal::AddressBusy);
            }
            let due = self.schedule.get(&key).copied().unwrap_or(now).max(now);
            if due.saturating_duration_since(now) > self.burst {
                return Err(Refusal::TooFast);
            }
            if self.total >= self.cap {
                return Err(Refusal::Full);
            }
            self.schedule.insert(key, due + self.interval);
        } else if self.total >= self.cap {
            return Err(Refusal::Full);
        }
        *self.in_progress.entry(key).or_insert(0) += 1;
        self.total += 1;
        Ok(())
    }

    /// A handshake from `key` ended (completed, failed or closed).
    pub(crate) fn finished(&mut self, key: IpAddr) {
        if let Some(count) = self.in_progress.get_mut(&key) {
            *count -= 1;
            self.total = self.total.saturating_sub(1);
            if *count == 0 {
                self.in_progress.remove(&key);
            }
        }
    }

    /// When the server is full: the address with the most handshakes in progress, if it
    /// has more than `newcomer` (whose oldest one then makes room, so that an address
    /// with few always gets its turn).
    pub(crate) fn heaviest_above(&self, newcomer: IpAddr) -> Option<IpAddr> {
        let own = self.in_progress.get(&newcomer).copied().unwrap_or(0);
        self.in_progress
            .iter()
            .max_by_key(|(_, count)| **count)
            .filter(|(_, count)| **count > own + 1)
            .map(|(key, _)| *key)
    }

    /// Forgets the schedules that have caught up with the clock (once a second), so
    /// the map holds only addresses that handshook within the last burst.
    pub(crate) fn prune(&mut self, now: Instant) {
        self.schedule.retain(|_, due| *due > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_handshakes_per_ip: 2,
            max_handshakes: 3,
            handshakes_per_second_per_ip: 10,
            handshake_burst_per_ip: 4,
            ..Limits::default()
        }
    }

    #[test]
    fn an_address_gets_its_share_of_handshakes_in_progress() {
        let mut h = Handshakes::new(&limits());
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let now = Instant::now();
        assert_eq!(h.admit(a, true, now), Ok(()));
        assert_eq!(h.admit(a, true, now), Ok(()));
        assert_eq!(h.admit(a, true, now), Err(Refusal::AddressBusy));
        assert_eq!(h.admit(b, true, now), Ok(()));
        // Full: a has two in progress, the newcomer c none, so a gives one up.
        let c = "192.0.2.3".parse().unwrap();
        assert_eq!(h.admit(c, true, now), Err(Refusal::Full));
        assert_eq!(h.heaviest_above(c), Some(a));
        // b already holds one: a's two are not more than b's share plus its own.
        assert_eq!(h.heaviest_above(b), None);
        h.finished(a);
        assert_eq!(h.admit(c, true, now), Ok(()));
        // An exempt address skips the per-address limits but not the total.
        assert_eq!(h.admit(a, false, now), Err(Refusal::Full));
        h.finished(b);
        assert_eq!(h.admit(a, false, now), Ok(()));
    }

    #[test]
    fn an_address_is_held_to_its_rate_after_a_burst() {
        let mut h = Handshakes::new(&limits());
        let a = "2001:db8::1".parse().unwrap();
        let t0 = Instant::now();
        // Rate 10/s (one per 100 ms), burst 4 intervals: five at once, then one per
        // 100 ms.
        for _ in 0..5 {
            assert_eq!(h.admit(a, true, t0), Ok(()));
            h.finished(a);
        }
        assert_eq!(h.admit(a, true, t0), Err(Refusal::TooFast));
        let later = t0 + Duration::from_millis(100);
        assert_eq!(h.admit(a, true, later), Ok(()));
        h.finished(a);
        assert_eq!(h.admit(a, true, later), Err(Refusal::TooFast));
        // Once the schedule has caught up with the clock, the address starts afresh.
        h.prune(t0 + Duration::from_secs(2));
        assert_eq!(h.admit(a, true, t0 + Duration::from_secs(2)), Ok(()));
    }
}
