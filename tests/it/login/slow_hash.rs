//! A login in progress (a slow password hash) does not delay authenticated requests:
//! hashing runs on the worker thread, not on the event loop.

use crate::common::*;
use std::time::{Duration, Instant};

#[test]
fn authenticated_get_is_served_while_a_slow_hash_runs() {
    let tmp = TempDir::new("slow");
    let data = tmp.data_dir();
    add_user(&data, "fast", "pw-fast-12");
    // A deliberately slow hash for the second user: 4 million iterations (seconds).
    let r = cli(
        &["hash", "--password-stdin", "--iterations", "4000000"],
        "pw-slow-12\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let users = std::fs::read_to_string(data.join("users")).unwrap();
    std::fs::write(
        data.join("users"),
        format!("{users}slow {} 0 -\n", r.stdout.trim()),
    )
    .unwrap();
    let srv = Server::start(&data, &[]);
    let token = api_token(&srv, "fast", "pw-fast-12");

    let body = br#"{"username":"slow","password":"pw-slow-12"}"#;
    let mut login = Conn::open(srv.addr);
    login.send(format!("POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    login.send(body);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(50));
    // While the slow login hashes, authenticated requests keep being answered.
    let mut answered_during = 0;
    for _ in 0..20 {
        let r = srv.get("/protected", &[("Authorization", &format!("JWT {token}"))]);
        assert_eq!(r.status, 200);
        answered_during += 1;
    }
    let during = started.elapsed();
    login
        .stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let r = login.response();
    let hash_time = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(answered_during, 20);
    // The twenty requests finished before the hash did: they were not queued behind it.
    assert!(
        during < hash_time,
        "requests waited for the hash: {during:?} vs {hash_time:?}"
    );
}
