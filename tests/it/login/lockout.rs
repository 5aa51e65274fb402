//! Brute force against the running binary: lockout before hashing, per (user, IP)
//! and per IP, an attacker cannot lock the admin out from another address, the
//! client address comes from the right-most untrusted X-Forwarded-For entry, and
//! nothing on disk changes.

use crate::common::*;

fn api_login(srv: &Server, xff: &str, user: &str, pass: &str) -> Response {
    srv.post(
        "/auth",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", xff),
        ],
        format!(r#"{{"username":"{user}","password":"{pass}"}}"#).as_bytes(),
    )
}

fn form_login(srv: &Server, xff: &str, user: &str, pass: &str) -> Response {
    srv.post(
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-For", xff),
        ],
        &form(&[("username", user), ("password", pass)]),
    )
}

#[test]
fn lockout_is_per_address_and_comes_before_hashing() {
    let tmp = TempDir::new("brute");
    let data = tmp.data_dir();
    add_user(&data, "admin", "the-real-password");
    let users_before = std::fs::read(data.join("users")).unwrap();
    let srv = Server::start(
        &data,
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--max-logins-per-second",
            "1000",
        ],
    );

    // The attacker at 203.0.113.9: three failures, then 429 with Retry-After.
    for _ in 0..3 {
        assert_eq!(
            form_login(&srv, "203.0.113.9", "admin", "guess").status,
            401
        );
    }
    let r = form_login(&srv, "203.0.113.9", "admin", "guess");
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((60..=300).contains(&retry), "retry-after {retry}");
    // Locked even with the right password: the regulation runs before any hashing.
    let r = form_login(&srv, "203.0.113.9", "admin", "the-real-password");
    assert_eq!(r.status, 429);
    srv.wait_log("login throttled ip=203.0.113.9 user=admin");
    // Refused attempts are not logged one by one: one line for the lock.
    for _ in 0..20 {
        assert_eq!(
            form_login(&srv, "203.0.113.9", "admin", "guess").status,
            429
        );
    }
    let throttled = srv
        .log_lines()
        .iter()
        .filter(|l| l.contains("login throttled ip=203.0.113.9"))
        .count();
    assert_eq!(throttled, 1);
    // The API path shares the count.
    let r = api_login(&srv, "203.0.113.9", "admin", "guess");
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["status_code"], 429);

    // A spoofed left-most X-Forwarded-For entry does not reset the count: the
    // proxy appends the real address on the right.
    let r = form_login(&srv, "198.51.100.1, 203.0.113.9", "admin", "guess");
    assert_eq!(r.status, 429);

    // The real admin at another address is not locked out.
    let r = api_login(&srv, "192.0.2.10", "admin", "the-real-password");
    assert_eq!(r.status, 200, "{}", r.text());

    // Failures spread over many user names from one address trip the per-IP limit.
    let mut statuses = Vec::new();
    for i in 0..15 {
        statuses.push(form_login(&srv, "203.0.113.77", &format!("user{i}"), "x").status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // Nothing on disk changed, and a normal client is still answered.
    assert_eq!(std::fs::read(data.join("users")).unwrap(), users_before);
    assert_eq!(srv.get("/healthz", &[]).status, 200);
}

#[test]
fn success_clears_the_count() {
    let tmp = TempDir::new("brute-clear");
    let data = tmp.data_dir();
    add_user(&data, "amy", "pw-amy-123");
    let srv = Server::start(&data, &[]);
    for _ in 0..2 {
        assert_eq!(form_login(&srv, "", "amy", "bad").status, 401);
    }
    assert_eq!(api_login(&srv, "", "amy", "pw-amy-123").status, 200);
    for _ in 0..2 {
        assert_eq!(
            form_login(&srv, "", "amy", "bad").status,
            401,
            "count restarted after success"
        );
    }
}

#[test]
fn untrusted_peer_cannot_choose_its_address() {
    let tmp = TempDir::new("brute-xff");
    let data = tmp.data_dir();
    add_user(&data, "zed", "pw-zed-123");
    // No --trusted-proxy: X-Forwarded-For from the peer is ignored.
    let srv = Server::start(&data, &[]);
    for i in 0..3 {
        assert_eq!(
            form_login(&srv, &format!("10.0.0.{i}"), "zed", "bad").status,
            401
        );
    }
    assert_eq!(form_login(&srv, "10.0.0.99", "zed", "bad").status, 429);
    srv.wait_log("login throttled ip=127.0.0.1 user=zed");
}

#[test]
fn a_distributed_flood_meets_the_global_hash_budget() {
    let tmp = TempDir::new("brute-budget");
    let data = tmp.data_dir();
    add_user(&data, "root2", "pw-root2-1");
    let srv = Server::start(
        &data,
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--max-logins-per-second",
            "1",
        ],
    );
    // Eight addresses, one guess each: no per-address lock applies, but the device
    // checks at most one password a second (burst 2), so most are turned away
    // with 503 and Retry-After before any hashing.
    let answers: Vec<Response> = (0..8)
        .map(|i| form_login(&srv, &format!("198.18.0.{i}"), "root2", "guess"))
        .collect();
    let busy: Vec<&Response> = answers.iter().filter(|r| r.status == 503).collect();
    assert!(
        busy.len() >= 4,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|r| r.status == 503 || r.status == 401));
    assert!(busy.iter().all(|r| r.header("retry-after") == Some("1")));
    // The budget refills: a second later the real user gets in.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        api_login(&srv, "192.0.2.50", "root2", "pw-root2-1").status,
        200
    );
}
