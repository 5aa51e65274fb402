//! The service remembers which session cookies and access tokens it already found
//! authentic (`web::memo`), so a client that repeats its credential pays for the MAC
//! once. These walks check, against the running binary, that a remembered credential
//! vouches for itself only (not for a near twin that lands in the same slot, nor for
//! the same value under the other cookie name) and that everything judged after the
//! MAC (expiry, logout, revocation) still applies to a remembered one.

mod common;
use common::*;
use std::time::Duration;

/// `value` with one character in its middle replaced by another of the same alphabet,
/// so the last bytes, which choose the memo's slot, stay the same.
fn near_twin(value: &str) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

fn bearer(token: &str) -> String {
    format!("JWT {token}")
}

#[test]
fn a_remembered_cookie_does_not_vouch_for_a_near_twin() {
    let tmp = TempDir::new("memo-cookie-twin");
    let data = tmp.data_dir();
    add_user(&data, "ann", "pw-ann-1234");
    let srv = Server::start(&data, &[]);
    let cookie = browser_login(&srv, "ann", "pw-ann-1234", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    for _ in 0..3 {
        assert_eq!(srv.get("/", &[("Cookie", &cookie)]).status, 200);
    }
    let twin = near_twin(&cookie);
    assert_ne!(twin, cookie);
    for _ in 0..3 {
        assert_eq!(srv.get("/", &[("Cookie", &twin)]).status, 302, "{twin}");
        assert_eq!(srv.get("/verify", &[("Cookie", &twin)]).status, 401);
    }
    // The twin's refusal did not evict or spoil the genuine one.
    assert_eq!(srv.get("/", &[("Cookie", &cookie)]).status, 200);
    assert_eq!(srv.get("/verify", &[("Cookie", &cookie)]).status, 200);
}

#[test]
fn a_remembered_token_does_not_vouch_for_a_near_twin() {
    let tmp = TempDir::new("memo-token-twin");
    let data = tmp.data_dir();
    add_user(&data, "bo", "pw-bo-12345");
    let srv = Server::start(&data, &[]);
    let token = api_token(&srv, "bo", "pw-bo-12345");
    for _ in 0..3 {
        let r = srv.get("/protected", &[("Authorization", &bearer(&token))]);
        assert_eq!(r.status, 200);
    }
    // One character changed in the payload, and one in the tag: both refused.
    let (signed, tag) = token.rsplit_once('.').unwrap();
    let twins = [near_twin(&token), format!("{signed}.{}", near_twin(tag))];
    for twin in &twins {
        assert_ne!(twin, &token);
        let r = srv.get("/protected", &[("Authorization", &bearer(twin))]);
        assert_eq!(r.status, 401, "{twin}");
        let r = srv.get("/verify", &[("Authorization", &format!("Bearer {twin}"))]);
        assert_eq!(r.status, 401, "{twin}");
    }
    let r = srv.get("/protected", &[("Authorization", &bearer(&token))]);
    assert_eq!(r.status, 200);
}

#[test]
fn a_remembered_cookie_value_is_not_authentic_under_the_other_cookie_name() {
    let tmp = TempDir::new("memo-cookie-name");
    let data = tmp.data_dir();
    add_user(&data, "cy", "pw-cy-12345");
    let srv = Server::start(&data, &[]);
    let pair = browser_login(&srv, "cy", "pw-cy-12345", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let value = pair.strip_prefix("latchkey_session=").unwrap();
    assert_eq!(srv.get("/verify", &[("Cookie", &pair)]).status, 200);
    assert_eq!(srv.get("/verify", &[("Cookie", &pair)]).status, 200);
    // Behind an HTTPS proxy /verify reads `__Host-latchkey_session`. The MAC covers
    // the cookie's name, so the value just remembered under the other name is refused.
    let host_pair = format!("__Host-latchkey_session={value}");
    for _ in 0..2 {
        let r = srv.get(
            "/verify",
            &[("Cookie", &host_pair), ("X-Forwarded-Proto", "https")],
        );
        assert_eq!(r.status, 401);
    }
    // The same request with the plain name still passes (the fallback for a proxy
    // that says https to a service reached over http).
    let r = srv.get(
        "/verify",
        &[("Cookie", &pair), ("X-Forwarded-Proto", "https")],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_remembered_cookie_still_expires_and_still_logs_out() {
    let tmp = TempDir::new("memo-cookie-expiry");
    let data = tmp.data_dir();
    add_user(&data, "di", "pw-di-12345");
    let srv = Server::start(&data, &["--session-ttl", "2s"]);
    let short = browser_login(&srv, "di", "pw-di-12345", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    assert_eq!(srv.get("/", &[("Cookie", &short)]).status, 200);
    assert_eq!(srv.get("/", &[("Cookie", &short)]).status, 200);
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(srv.get("/", &[("Cookie", &short)]).status, 302);
    assert_eq!(srv.get("/verify", &[("Cookie", &short)]).status, 401);

    // Remember-me outlives the short session; signing out ends it though it was
    // remembered by the memo a moment before.
    let long = browser_login(&srv, "di", "pw-di-12345", true, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let page = srv.get("/", &[("Cookie", &long)]);
    assert_eq!(page.status, 200);
    let csrf = hidden_input(&page.text(), "csrf").expect("sign-out form's csrf field");
    let origin = format!("http://{}", srv.addr);
    let r = srv.post(
        "/logout",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &long),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&[("csrf", &csrf)]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(srv.get("/", &[("Cookie", &long)]).status, 302);
    assert_eq!(srv.get("/verify", &[("Cookie", &long)]).status, 401);
}

#[test]
fn a_remembered_token_still_expires() {
    let tmp = TempDir::new("memo-token-expiry");
    let data = tmp.data_dir();
    add_user(&data, "ed", "pw-ed-12345");
    let dir = data.to_str().unwrap();
    let srv = Server::start(&data, &[]);
    let issued = cli(
        &["token", "issue", "ed", "--ttl", "1s", "--data-dir", dir],
        "",
    );
    assert_eq!(issued.code, 0, "{}", issued.stderr);
    let token = issued.stdout.trim().to_owned();
    for _ in 0..2 {
        let r = srv.get("/protected", &[("Authorization", &bearer(&token))]);
        assert_eq!(r.status, 200);
    }
    // Expiry is judged with jwt::DEFAULT_LEEWAY (10 s) of grace for clock skew.
    std::thread::sleep(Duration::from_secs(12));
    let r = srv.get("/protected", &[("Authorization", &bearer(&token))]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["description"], "token expired");
}

#[test]
fn more_credentials_than_slots_all_keep_working_and_each_is_revoked_alone() {
    let tmp = TempDir::new("memo-many");
    let data = tmp.data_dir();
    add_user(&data, "fay", "pw-fay-1234");
    let srv = Server::start(&data, &[]);
    // Twelve sessions and twelve tokens: more than the memo's eight slots, so they
    // evict each other. The sessions come at the pace of the password-hash budget
    // (a burst of 8, then a few a second); the tokens from the CLI.
    let dir = data.to_str().unwrap();
    let cookies: Vec<String> = (0..12)
        .map(|_| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let r = browser_login(&srv, "fay", "pw-fay-1234", false, None);
                if let Some(c) = r.cookie_pair("latchkey_session") {
                    break c;
                }
                assert!(matches!(r.status, 429 | 503), "{}", r.status);
                assert!(std::time::Instant::now() < deadline, "no session");
                std::thread::sleep(Duration::from_millis(250));
            }
        })
        .collect();
    let tokens: Vec<String> = (0..12)
        .map(|_| {
            let r = cli(&["token", "issue", "fay", "--data-dir", dir], "");
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout.trim().to_owned()
        })
        .collect();
    for round in 0..2 {
        for (c, t) in cookies.iter().zip(&tokens) {
            assert_eq!(srv.get("/", &[("Cookie", c)]).status, 200, "round {round}");
            let r = srv.get("/protected", &[("Authorization", &bearer(t))]);
            assert_eq!(r.status, 200, "round {round}");
        }
    }
    // Revoking one token by its id ends that token only.
    let claims = cli(&["token", "verify", &tokens[7], "--data-dir", dir], "");
    let c: serde_json::Value = serde_json::from_str(&claims.stdout).unwrap();
    let jti = c["jti"].as_str().unwrap();
    let r = cli(&["token", "revoke", jti, "--data-dir", dir], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    eventually_refused(
        &srv,
        &[("Authorization", &bearer(&tokens[7]))],
        "/protected",
    );
    for (i, t) in tokens.iter().enumerate().filter(|(i, _)| *i != 7) {
        let r = srv.get("/protected", &[("Authorization", &bearer(t))]);
        assert_eq!(r.status, 200, "token {i}");
    }
    for c in &cookies {
        assert_eq!(srv.get("/", &[("Cookie", c)]).status, 200);
    }
}
