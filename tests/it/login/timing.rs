//! A wrong password does not tell which users exist or which were imported with a
//! cheap legacy hash: a failed login takes at least a check at the current cost for an
//! unknown user, a user with a current hash, and a user whose Werkzeug hash has 1,000
//! iterations alike; that user's next successful login replaces the hash.
//!
//! The median times are reported on stderr (`--nocapture`), not asserted: on a shared
//! machine a timing gate would fail for reasons of its own. `bench/login_timing.py`
//! measures the same against the release binary and prints the ratio.

use crate::common::*;
use std::time::{Duration, Instant};

// Werkzeug 3.1.9: generate_password_hash(LEGACY_PASSWORD, "pbkdf2:sha256:1000").
const LEGACY_PASSWORD: &str = "correct horse battery staple";
const LEGACY_HASH: &str = "pbkdf2:sha256:1000$yEeu2lCh6f930e4D$fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5";
const TRIES: usize = 30;

fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn auth(srv: &Server, from: &str, user: &str, password: &str) -> (Duration, Response) {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    let started = Instant::now();
    let r = srv.post(
        "/auth",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", from),
        ],
        body.as_bytes(),
    );
    (started.elapsed(), r)
}

#[test]
fn failed_logins_take_as_long_for_unknown_current_and_legacy_users() {
    let tmp = TempDir::new("login-timing");
    let data = data_dir_with_users(&tmp, &[("current", "current-pw-12")]);
    let users = std::fs::read_to_string(data.join("users")).unwrap();
    std::fs::write(
        data.join("users"),
        format!("{users}legacy {LEGACY_HASH} 41 -\n"),
    )
    .unwrap();
    // Every try comes from its own address, so no lock gets in the way.
    let srv = Server::start(
        &data,
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--max-logins-per-second",
            "1000",
        ],
    );

    let kinds = ["nobody", "current", "legacy"];
    let mut times: [Vec<Duration>; 3] = Default::default();
    for round in 0..TRIES {
        // Interleaved, each round in another order, so drift hits every kind alike.
        for k in 0..kinds.len() {
            let k = (k + round) % kinds.len();
            let from = format!("10.{k}.0.{}", round + 1);
            let (took, r) = auth(&srv, &from, kinds[k], "wrong-password");
            assert_eq!(r.status, 401, "{}: {}", kinds[k], r.text());
            assert_eq!(r.json()["description"], "Invalid credentials");
            times[k].push(took);
        }
    }
    let medians: Vec<f64> = times.iter_mut().map(|t| median_ms(t)).collect();
    let (min, max) = medians
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &m| (lo.min(m), hi.max(m)));
    eprintln!(
        "login timing, median of {TRIES} wrong passwords: unknown user {:.1} ms, \
         current hash {:.1} ms, legacy hash (1,000 rounds) {:.1} ms; max/min {:.2}",
        medians[0],
        medians[1],
        medians[2],
        max / min
    );

    // The right password still works, and the weak hash is replaced at the current
    // cost without ending the user's sessions (the epoch stays).
    let (_, r) = auth(&srv, "10.9.0.1", "legacy", LEGACY_PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text());
    let users = std::fs::read_to_string(data.join("users")).unwrap();
    let line = users
        .lines()
        .find(|l| l.starts_with("legacy "))
        .expect("legacy user kept");
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(
        fields[1].starts_with(&format!("$pbkdf2-sha256$i={TEST_ITERATIONS},l=32$")),
        "not upgraded: {line}"
    );
    assert_eq!(fields[2], "41");
    let (_, r) = auth(&srv, "10.9.0.2", "legacy", LEGACY_PASSWORD);
    assert_eq!(r.status, 200, "the upgraded hash verifies: {}", r.text());
}
