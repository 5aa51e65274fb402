//! Brute force by concurrency: failures are counted when a password check comes
//! back, so a client that queues many guesses at once must not get more than the
//! 3 per (user, address) the regulation allows.

use crate::common::*;

#[test]
fn a_burst_of_parallel_guesses_gets_no_more_than_three_checks() {
    let tmp = TempDir::new("burst");
    let data = tmp.data_dir();
    add_user(&data, "bea", "pw-bea-123");
    // A generous global budget: the per-client regulation alone must hold.
    let srv = Server::start(&data, &["--max-logins-per-second", "50"]);
    let addr = srv.addr;
    let body = br#"{"username":"bea","password":"wrong"}"#;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..4)
                    .map(|_| {
                        request(
                            addr,
                            "POST",
                            "/auth",
                            &[("Content-Type", "application/json")],
                            body,
                        )
                        .status
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    assert!(
        (1..=3).contains(&checked),
        "{checked} passwords checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    let failed = srv
        .log_lines()
        .iter()
        .filter(|l| l.contains("login failed"))
        .count();
    assert!(failed <= 3, "{failed} failures logged");
}
