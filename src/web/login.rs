//! The login pipeline: every password login, from the form or the API, goes through it.
//!
//! 1. [`LoginPipeline::admit`], on the loop thread, before any hashing: the
//!    brute-force limiter's locks (429), one check in flight per client address (IPv6
//!    by its /64; 503), the service-wide hash budget (503). Then
//!    [`Admitted::check`] takes the user's stored hash, as last loaded, into a
//!    [`PasswordCheck`].
//! 2. [`PasswordCheck::run`], on the worker thread: a wrong password costs at least a
//!    check at the current cost, for an unknown user or a weaker stored hash too
//!    ([`password::verify_padded`]); a right one against a weaker hash also makes its
//!    replacement at the current cost.
//! 3. [`LoginPipeline::finish`], back on the loop thread: the check counts only if the
//!    user still has the hash that was checked (a password changed or a user deleted
//!    meanwhile is a failure). The limiter counts failures; a success clears the
//!    (user, address) pair and hands back the replacement hash, if any.
//!
//! The pipeline reads no clock and no file: the caller passes the monotonic time in
//! milliseconds and the users as last loaded, so it is tested with a fake clock and an
//! in-memory user database. [`App`] drives it: it offloads the check, logs the
//! events, writes the upgraded hash and answers.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::http::{Reply, Request, Response};
use crate::password::{self, Policy};
use crate::ratelimit::{Denied, IpKey, RateConfig, RateLimiter};
use crate::store::users::UserDb;
use crate::web::app::{App, monotonic_millis, now_secs};
use crate::web::auth;
use crate::web::errors::WebError;
use crate::web::log::{self, Event};
use crate::web::respond;

/// After this long an in-flight entry is forgotten: its answer was dropped (client
/// gone, queue full) and will never reach [`LoginPipeline::finish`]. Above the 10 s
/// request deadline, so a live check is never overtaken.
const IN_FLIGHT_STALE_MS: u64 = 15_000;

/// Entries kept before stale ones are swept.
const IN_FLIGHT_SWEEP_AT: usize = 1024;

/// Regulation and bookkeeping of password logins; see the module docs.
#[derive(Debug)]
pub(crate) struct LoginPipeline {
    limiter: RateLimiter,
    /// Client addresses (grouped as the limiter groups them) with a password check in
    /// flight, and when it was queued (monotonic millis). The limiter counts a failure
    /// only when the check comes back, so without this one address could queue a
    /// burst of guesses at once, all passing the limiter before the first failure is
    /// counted.
    in_flight: HashMap<IpKey, u64>,
}

/// A login that passed regulation: the only way to a [`PasswordCheck`].
#[derive(Debug)]
#[must_use]
pub(crate) struct Admitted {
    ip: IpAddr,
}

/// A password check to run off the loop thread: the password, and the stored hash as
/// it was when the login started (`None`: no such user).
pub(crate) struct PasswordCheck {
    ip: IpAddr,
    username: String,
    password: String,
    stored: Option<String>,
    policy: Policy,
}

impl std::fmt::Debug for PasswordCheck {
    // The password and the stored hash stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordCheck")
            .field("ip", &self.ip)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What a [`PasswordCheck`] found.
pub(crate) struct Checked {
    ip: IpAddr,
    username: String,
    /// The stored hash that was checked, so a concurrent password change is noticed.
    checked_hash: Option<String>,
    ok: bool,
    /// A fresh hash at the current cost when the stored one was weaker.
    rehash: Option<String>,
}

/// The end of one login.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// The user name as the client typed it.
    pub(crate) username: String,
    /// The client address.
    pub(crate) ip: IpAddr,
    /// Whether it succeeded, and what follows.
    pub(crate) outcome: Outcome,
}

/// A stronger hash of a password that was just checked, and the hash it replaces.
#[derive(Debug)]
pub(crate) struct Upgrade {
    /// The stored hash the password was checked against.
    pub(crate) replaces: String,
    /// The same password at the current cost.
    pub(crate) hash: String,
}

/// Whether a login succeeded.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The password was right, and the user still has the hash it was checked against.
    Accepted {
        /// The user's password epoch, for the session it gets.
        epoch: u64,
        /// A hash at the current cost to replace a weaker stored one (the same
        /// password, so sessions go on).
        upgrade: Option<Upgrade>,
    },
    /// Wrong password, no such user, or the password changed while it was checked.
    Rejected {
        /// The lock this failure started, if any (logged once, when it starts).
        lock: Option<Denied>,
    },
}

impl LoginPipeline {
    /// A pipeline with the default locks and a hash budget of `logins_per_second`
    /// (bursts of twice that).
    pub(crate) fn new(logins_per_second: u32) -> LoginPipeline {
        let rate = RateConfig {
            hashes_per_sec: logins_per_second,
            hash_burst: logins_per_second.saturating_mul(2),
            ..RateConfig::default()
        };
        LoginPipeline {
            limiter: RateLimiter::new(rate),
            in_flight: HashMap::new(),
        }
    }

    /// Regulates a login of `username` from `ip` at `now_ms` (monotonic). Refusals,
    /// all before any hashing: [`WebError::RateLimited`] while the address or the
    /// (user, address) pair is locked; [`WebError::Busy`] while a check from the same
    /// address is in flight or the hash budget is spent. An admitted login counts as
    /// in flight until [`finish`](Self::finish) (or for 15 s if it never comes back).
    pub(crate) fn admit(
        &mut self,
        ip: IpAddr,
        username: &str,
        now_ms: u64,
    ) -> Result<Admitted, WebError> {
        if let Err(denied) = self.limiter.check(ip, username, now_ms) {
            return Err(WebError::RateLimited(denied.retry_after_secs));
        }
        let address = IpKey::of(ip);
        if self
            .in_flight
            .get(&address)
            .is_some_and(|&queued| now_ms.saturating_sub(queued) < IN_FLIGHT_STALE_MS)
        {
            return Err(WebError::Busy(1));
        }
        if let Err(denied) = self.limiter.take_hash_budget(now_ms) {
            return Err(WebError::Busy(denied.retry_after_secs));
        }
        if self.in_flight.len() >= IN_FLIGHT_SWEEP_AT {
            self.in_flight
                .retain(|_, queued| now_ms.saturating_sub(*queued) < IN_FLIGHT_STALE_MS);
        }
        self.in_flight.insert(address, now_ms);
        Ok(Admitted { ip })
    }

    /// Judges a check that came back at `now_ms`, against `users` as loaded now.
    pub(crate) fn finish(&mut self, checked: Checked, users: &UserDb, now_ms: u64) -> Verdict {
        self.in_flight.remove(&IpKey::of(checked.ip));
        let current = users
            .get(&checked.username)
            .filter(|u| checked.ok && Some(&u.hash) == checked.checked_hash.as_ref());
        let outcome = match current {
            Some(user) => {
                self.limiter
                    .record_success(checked.ip, &checked.username, now_ms);
                Outcome::Accepted {
                    epoch: user.epoch,
                    upgrade: checked.rehash.map(|hash| Upgrade {
                        replaces: user.hash.clone(),
                        hash,
                    }),
                }
            }
            None => Outcome::Rejected {
                lock: self
                    .limiter
                    .record_failure(checked.ip, &checked.username, now_ms),
            },
        };
        Verdict {
            username: checked.username,
            ip: checked.ip,
            outcome,
        }
    }
}

impl Admitted {
    /// The check of `password` against the hash `users` hold for `username` now, at
    /// `policy`'s cost.
    pub(crate) fn check(
        self,
        username: String,
        password: String,
        users: &UserDb,
        policy: Policy,
    ) -> PasswordCheck {
        let stored = users.get(&username).map(|u| u.hash.clone());
        PasswordCheck {
            ip: self.ip,
            username,
            password,
            stored,
            policy,
        }
    }
}

impl PasswordCheck {
    /// Checks the password: the slow part, for the worker thread.
    pub(crate) fn run(self) -> Checked {
        let password = self.password.as_bytes();
        let ok = match &self.stored {
            Some(hash) => password::verify_padded(password, hash, &self.policy).unwrap_or(false),
            None => {
                password::dummy_verify(password, &self.policy);
                false
            }
        };
        let rehash = match &self.stored {
            Some(hash) if ok && password::needs_rehash(hash, &self.policy) => {
                password::hash(password, &self.policy).ok()
            }
            _ => None,
        };
        Checked {
            ip: self.ip,
            username: self.username,
            checked_hash: self.stored,
            ok,
            rehash,
        }
    }
}

/// What the worker thread hands back after checking a password.
pub(crate) struct LoginDone {
    how: LoginVia,
    checked: Checked,
    /// The request came over TLS terminated here (its answer may need HSTS).
    pub(super) tls: bool,
}

/// Which route the login came by, and what its answer needs.
pub(super) enum LoginVia {
    /// The login form: a session cookie and a redirect, or the form again.
    Form {
        next: String,
        remember: bool,
        secure: bool,
        presession: String,
    },
    /// `POST /auth`: tokens, or a Flask-JWT error.
    Api,
}

impl App {
    /// Regulates, then hands the password check to the worker thread.
    pub(super) fn start_login(
        &mut self,
        req: &Request<'_>,
        how: LoginVia,
        username: String,
        password: String,
    ) -> Result<Reply<LoginDone>, WebError> {
        let ip = auth::client_ip(req, &self.cfg.trusted_proxies);
        let admitted = self.login.admit(ip, &username, monotonic_millis())?;
        // A user added or deleted since the last tick is seen now, not a second later.
        self.reload_users_if_changed();
        let check = admitted.check(username, password, self.store.users(), self.store.policy());
        let tls = req.is_tls();
        Ok(Reply::offload(move || LoginDone {
            how,
            checked: check.run(),
            tls,
        }))
    }

    /// Judges the check that came back, logs it and answers.
    pub(super) fn finish_login(&mut self, done: LoginDone) -> Response {
        let now = now_secs();
        // The password may have changed or the user been deleted while hashing, or
        // since the last tick: `user passwd` writes its revocation cutoff right after
        // the new hash, and a token minted from the old one a second later, before
        // the tick notices, would outlive the cutoff (tokens carry no epoch).
        self.reload_users_if_changed();
        if !self.store.healthy() {
            return match done.how {
                LoginVia::Api => respond::error_json(&WebError::Unavailable),
                LoginVia::Form { .. } => self.error_page(&WebError::Unavailable),
            };
        }
        let verdict = self
            .login
            .finish(done.checked, self.store.users(), monotonic_millis());
        let Verdict {
            username,
            ip,
            outcome,
        } = verdict;
        match outcome {
            Outcome::Rejected { lock } => {
                log::event(now, Event::LoginFailed, ip, Some(&username), None);
                if lock.is_some() {
                    // One line per lock, the moment it starts (fail2ban counts these).
                    log::event(now, Event::LoginThrottled, ip, Some(&username), None);
                }
                match done.how {
                    LoginVia::Api => super::api::invalid_credentials(),
                    LoginVia::Form {
                        next,
                        secure,
                        presession,
                        ..
                    } => self.form_login_failed(&presession, secure, &next, &username),
                }
            }
            Outcome::Accepted { epoch, upgrade } => {
                log::event(now, Event::LoginOk, ip, Some(&username), None);
                if let Some(upgrade) = upgrade {
                    // A failed or refused upgrade leaves the stored hash as it is.
                    let _ = self
                        .store
                        .rehash(&username, &upgrade.replaces, &upgrade.hash);
                }
                match done.how {
                    LoginVia::Api => self.issue_tokens(&username, now, true),
                    LoginVia::Form {
                        next,
                        remember,
                        secure,
                        ..
                    } => self.form_login_ok(&username, epoch, now, &next, remember, secure),
                }
            }
        }
    }

    pub(super) fn reload_users_if_changed(&mut self) {
        // A failure leaves the store unhealthy; the next tick logs it.
        let _ = self.store.reload_users();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1000;

    /// The current cost in these tests; cheap, but above the legacy hash's.
    fn policy() -> Policy {
        Policy::insecure_for_tests(2000)
    }

    // Werkzeug 3.1.9: generate_password_hash(LEGACY_PASSWORD, "pbkdf2:sha256:1000").
    const LEGACY_PASSWORD: &str = "correct horse battery staple";
    const LEGACY_HASH: &str = "pbkdf2:sha256:1000$yEeu2lCh6f930e4D$fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5";

    /// `alice` (password `alice-pw`, current cost, epoch 7) and `bob` (the legacy
    /// Werkzeug hash, epoch 3).
    fn users() -> UserDb {
        users_with_alice("alice-pw")
    }

    fn users_with_alice(password: &str) -> UserDb {
        let alice = password::hash(password.as_bytes(), &policy()).unwrap();
        UserDb::parse(&format!("alice {alice} 7 -\nbob {LEGACY_HASH} 3 -\n")).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pipeline() -> LoginPipeline {
        LoginPipeline::new(1000)
    }

    /// One whole login at `now`: start, check, finish against the same users.
    fn login(
        p: &mut LoginPipeline,
        users: &UserDb,
        from: &str,
        user: &str,
        password: &str,
        now: u64,
    ) -> Result<Outcome, WebError> {
        let check =
            p.admit(ip(from), user, now)?
                .check(user.into(), password.into(), users, policy());
        Ok(p.finish(check.run(), users, now).outcome)
    }

    fn accepted(o: &Result<Outcome, WebError>) -> bool {
        matches!(o, Ok(Outcome::Accepted { .. }))
    }

    fn rejected(o: &Result<Outcome, WebError>) -> Option<bool> {
        match o {
            Ok(Outcome::Rejected { lock }) => Some(lock.is_some()),
            _ => None,
        }
    }

    fn status(o: Result<Outcome, WebError>) -> u16 {
        o.map(|_| 200).unwrap_or_else(|e| e.status())
    }

    #[test]
    fn three_failures_lock_the_user_at_that_address() {
        let (mut p, db) = (pipeline(), users());
        for t in 0..2 {
            let o = login(&mut p, &db, "192.0.2.7", "alice", "guess", t * SEC);
            assert_eq!(rejected(&o), Some(false), "no lock yet");
        }
        let third = login(&mut p, &db, "192.0.2.7", "alice", "guess", 2 * SEC);
        assert_eq!(
            rejected(&third),
            Some(true),
            "the third failure starts a lock"
        );
        // Refused before any hashing (no check can be made), even the right password.
        let refused = p.admit(ip("192.0.2.7"), "alice", 3 * SEC);
        assert!(
            matches!(refused, Err(WebError::RateLimited(299))),
            "{refused:?}"
        );
        // ASCII case does not make another counter.
        let o = login(&mut p, &db, "192.0.2.7", "ALICE", "alice-pw", 3 * SEC);
        assert_eq!(status(o), 429);
        // The same user from another address, another user from this one: unaffected.
        assert!(accepted(&login(
            &mut p,
            &db,
            "192.0.2.8",
            "alice",
            "alice-pw",
            4 * SEC
        )));
        let o = login(&mut p, &db, "192.0.2.7", "bob", LEGACY_PASSWORD, 5 * SEC);
        assert!(accepted(&o));
        // The lock ends after 5 minutes.
        let o = login(&mut p, &db, "192.0.2.7", "alice", "alice-pw", 303 * SEC);
        assert!(accepted(&o));
    }

    #[test]
    fn ten_failures_lock_the_address_whatever_the_names() {
        let (mut p, db) = (pipeline(), users());
        for n in 0..9 {
            let o = login(&mut p, &db, "192.0.2.7", &format!("u{n}"), "x", n * SEC);
            assert_eq!(rejected(&o), Some(false), "failure {n}");
        }
        // Unknown users count as known ones do.
        let tenth = login(&mut p, &db, "192.0.2.7", "alice", "x", 9 * SEC);
        assert_eq!(rejected(&tenth), Some(true));
        let o = login(&mut p, &db, "192.0.2.7", "bob", LEGACY_PASSWORD, 10 * SEC);
        assert!(matches!(o, Err(WebError::RateLimited(_))), "{o:?}");
        assert!(accepted(&login(
            &mut p,
            &db,
            "192.0.2.8",
            "bob",
            LEGACY_PASSWORD,
            10 * SEC
        )));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let (mut p, db) = (pipeline(), users());
        for n in 0..10u64 {
            let from = format!("2001:db8::{:x}", n + 1);
            let _ = login(&mut p, &db, &from, &format!("u{n}"), "x", n * SEC);
        }
        let o = login(
            &mut p,
            &db,
            "2001:db8::ffff:1",
            "alice",
            "alice-pw",
            11 * SEC,
        );
        assert_eq!(status(o), 429, "another address of the same /64");
        let o = login(
            &mut p,
            &db,
            "2001:db8:0:1::1",
            "alice",
            "alice-pw",
            11 * SEC,
        );
        assert!(accepted(&o), "the next /64 is another client");
    }

    #[test]
    fn one_check_in_flight_per_address() {
        let (mut p, db) = (pipeline(), users());
        let first = p.admit(ip("2001:db8::1"), "alice", 0).unwrap().check(
            "alice".into(),
            "x".into(),
            &db,
            policy(),
        );
        // Another guess from the same /64 waits for the first one's verdict: 503.
        let second = p.admit(ip("2001:db8::2"), "bob", 1);
        assert!(matches!(second, Err(WebError::Busy(1))), "{second:?}");
        assert_eq!(second.err().map(|e| e.status()), Some(503));
        // Other clients are not held up.
        assert!(accepted(&login(
            &mut p,
            &db,
            "192.0.2.9",
            "alice",
            "alice-pw",
            2
        )));
        p.finish(first.run(), &db, 3);
        assert!(accepted(&login(
            &mut p,
            &db,
            "2001:db8::2",
            "bob",
            LEGACY_PASSWORD,
            4
        )));
        // A check whose answer never came back (client gone) is forgotten after 15 s.
        let _lost = p.admit(ip("192.0.2.1"), "alice", SEC).unwrap();
        let o = login(&mut p, &db, "192.0.2.1", "alice", "alice-pw", 15 * SEC);
        assert!(matches!(o, Err(WebError::Busy(1))), "{o:?}");
        assert!(accepted(&login(
            &mut p,
            &db,
            "192.0.2.1",
            "alice",
            "alice-pw",
            16 * SEC
        )));
    }

    #[test]
    fn the_hash_budget_is_shared_by_every_address() {
        // 1 hash a second, bursts of 2.
        let (mut p, db) = (LoginPipeline::new(1), users());
        for n in 1..=2 {
            let o = login(&mut p, &db, &format!("192.0.2.{n}"), "alice", "x", 0);
            assert_eq!(rejected(&o), Some(false));
        }
        let o = login(&mut p, &db, "192.0.2.3", "alice", "alice-pw", 0);
        assert!(matches!(o, Err(WebError::Busy(1))), "{o:?}");
        assert_eq!(status(o), 503);
        let o = login(&mut p, &db, "192.0.2.3", "alice", "alice-pw", SEC);
        assert!(accepted(&o));
    }

    #[test]
    fn a_password_changed_while_it_was_checked_is_a_failure() {
        let mut p = pipeline();
        let before = users();
        let check = p.admit(ip("192.0.2.7"), "alice", 0).unwrap().check(
            "alice".into(),
            "alice-pw".into(),
            &before,
            policy(),
        );
        let checked = check.run();
        // `user passwd alice` landed while the hash was being checked.
        let after = users_with_alice("new-password");
        let v = p.finish(checked, &after, SEC);
        assert_eq!((v.username.as_str(), v.ip), ("alice", ip("192.0.2.7")));
        assert!(matches!(v.outcome, Outcome::Rejected { lock: None }));
        // It counts as a failure: two more lock the pair.
        for t in 2..4 {
            let _ = login(&mut p, &after, "192.0.2.7", "alice", "x", t * SEC);
        }
        let o = login(
            &mut p,
            &after,
            "192.0.2.7",
            "alice",
            "new-password",
            5 * SEC,
        );
        assert_eq!(status(o), 429);
    }

    #[test]
    fn a_user_deleted_while_checked_is_a_failure() {
        let mut p = pipeline();
        let before = users();
        let check = p.admit(ip("192.0.2.7"), "bob", 0).unwrap().check(
            "bob".into(),
            LEGACY_PASSWORD.into(),
            &before,
            policy(),
        );
        let checked = check.run();
        let mut after = users();
        after.remove("bob").unwrap();
        let v = p.finish(checked, &after, SEC);
        assert!(matches!(v.outcome, Outcome::Rejected { .. }));
    }

    #[test]
    fn a_weaker_hash_is_upgraded_on_success_only() {
        let (mut p, db) = (pipeline(), users());
        let o = login(&mut p, &db, "192.0.2.7", "bob", "wrong", 0);
        assert_eq!(rejected(&o), Some(false), "no upgrade on failure");
        let Ok(Outcome::Accepted { epoch, upgrade }) =
            login(&mut p, &db, "192.0.2.7", "bob", LEGACY_PASSWORD, SEC)
        else {
            panic!("bob's login failed");
        };
        assert_eq!(epoch, 3);
        let upgrade = upgrade.expect("the 1,000-round hash is replaced");
        assert_eq!(upgrade.replaces, db.get("bob").unwrap().hash);
        let upgrade = upgrade.hash;
        assert!(upgrade.starts_with("$pbkdf2-sha256$i=2000,l=32$"));
        assert_eq!(
            password::verify(LEGACY_PASSWORD.as_bytes(), &upgrade),
            Ok(true)
        );
        assert!(!password::needs_rehash(&upgrade, &policy()));
        // Written back, it keeps the epoch (sessions go on) and logs in without upgrade.
        let mut db = db;
        db.rehash("bob", &upgrade).unwrap();
        assert_eq!(db.get("bob").unwrap().epoch, 3);
        let o = login(&mut p, &db, "192.0.2.7", "bob", LEGACY_PASSWORD, 2 * SEC);
        assert!(matches!(o, Ok(Outcome::Accepted { upgrade: None, .. })));
        // A current hash is left as it is.
        let o = login(&mut p, &db, "192.0.2.7", "alice", "alice-pw", 3 * SEC);
        assert!(matches!(
            o,
            Ok(Outcome::Accepted {
                epoch: 7,
                upgrade: None
            })
        ));
    }

    #[test]
    fn a_success_clears_the_pair_but_not_the_address() {
        let (mut p, db) = (pipeline(), users());
        for t in 0..2 {
            let _ = login(&mut p, &db, "192.0.2.7", "alice", "x", t * SEC);
        }
        assert!(accepted(&login(
            &mut p,
            &db,
            "192.0.2.7",
            "alice",
            "alice-pw",
            2 * SEC
        )));
        for t in 3..5 {
            let o = login(&mut p, &db, "192.0.2.7", "alice", "x", t * SEC);
            assert_eq!(rejected(&o), Some(false), "the pair starts over");
        }
        // The address still remembers all four failures: six more lock it.
        for t in 5..10 {
            let o = login(&mut p, &db, "192.0.2.7", &format!("u{t}"), "x", t * SEC);
            assert_eq!(rejected(&o), Some(false));
        }
        let o = login(&mut p, &db, "192.0.2.7", "u10", "x", 10 * SEC);
        assert_eq!(rejected(&o), Some(true));
    }
}
