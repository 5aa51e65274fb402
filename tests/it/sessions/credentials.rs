//! Session cookies and access tokens against the running binary: a credential
//! vouches for itself only (not for a near twin, nor for the same value under the
//! other cookie name), expiry, sign-out and revocation apply to it, many credentials
//! of one user live side by side and each is revoked alone, and answers to pipelined
//! requests each carry their own user. Also the user lookup those checks rest on.

use crate::common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `value` with one character in its middle replaced by another of the same alphabet.
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
fn a_cookie_does_not_vouch_for_a_near_twin() {
    let tmp = TempDir::new("cred-cookie-twin");
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
    // The twin's refusal changed nothing for the genuine one.
    assert_eq!(srv.get("/", &[("Cookie", &cookie)]).status, 200);
    assert_eq!(srv.get("/verify", &[("Cookie", &cookie)]).status, 200);
}

#[test]
fn a_token_does_not_vouch_for_a_near_twin() {
    let tmp = TempDir::new("cred-token-twin");
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
fn a_cookie_value_is_not_authentic_under_the_other_cookie_name() {
    let tmp = TempDir::new("cred-cookie-name");
    let data = tmp.data_dir();
    add_user(&data, "cy", "pw-cy-12345");
    let srv = Server::start(&data, &[]);
    let pair = browser_login(&srv, "cy", "pw-cy-12345", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let value = pair.strip_prefix("latchkey_session=").unwrap();
    assert_eq!(srv.get("/verify", &[("Cookie", &pair)]).status, 200);
    // Behind an HTTPS proxy /verify reads `__Host-latchkey_session`. The MAC covers
    // the cookie's name, so the value of the other name is refused.
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
fn a_cookie_expires_and_signs_out() {
    let tmp = TempDir::new("cred-cookie-expiry");
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
    // accepted a moment before.
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
fn a_token_expires() {
    let tmp = TempDir::new("cred-token-expiry");
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
fn many_credentials_of_one_user_all_work_and_each_token_is_revoked_alone() {
    let tmp = TempDir::new("cred-many");
    let data = tmp.data_dir();
    add_user(&data, "fay", "pw-fay-1234");
    let srv = Server::start(&data, &[]);
    // The sessions come at the pace of the password-hash budget (a burst, then a few
    // a second); the tokens from the CLI.
    let dir = data.to_str().unwrap();
    let cookies: Vec<String> = (0..4)
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
    let tokens: Vec<String> = (0..4)
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
    let claims = cli(&["token", "verify", &tokens[2], "--data-dir", dir], "");
    let c: serde_json::Value = serde_json::from_str(&claims.stdout).unwrap();
    let jti = c["jti"].as_str().unwrap();
    let r = cli(&["token", "revoke", jti, "--data-dir", dir], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    eventually_refused(
        &srv,
        &[("Authorization", &bearer(&tokens[2]))],
        "/protected",
    );
    for (i, t) in tokens.iter().enumerate().filter(|(i, _)| *i != 2) {
        let r = srv.get("/protected", &[("Authorization", &bearer(t))]);
        assert_eq!(r.status, 200, "token {i}");
    }
    for c in &cookies {
        assert_eq!(srv.get("/", &[("Cookie", c)]).status, 200);
    }
}

/// Users are found by their exact name, case-sensitively, in small and larger user
/// files alike, after removals and additions shift the lines.
fn connect(srv: &Server) -> TcpStream {
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// One pipelined answer: status, head lines, body (none for HEAD), keeping any bytes
/// after it in `pending`.
fn next_answer(
    s: &mut TcpStream,
    pending: &mut Vec<u8>,
    head_only: bool,
) -> (u16, Vec<String>, Vec<u8>) {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before a head");
        pending.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(pending[..head_end].to_vec()).unwrap();
    let lines: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
    let len = if head_only { 0 } else { declared_len(&lines) };
    while pending.len() < head_end + len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed mid-body");
        pending.extend_from_slice(&chunk[..n]);
    }
    let body = pending[head_end..head_end + len].to_vec();
    pending.drain(..head_end + len);
    (head[9..12].parse().unwrap(), lines, body)
}

fn declared_len(lines: &[String]) -> usize {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap()
}

/// Pipelined cookie, bearer and forward-auth requests of two users, GET and HEAD:
/// each answer carries its own user, HEAD answers carry no body (the next answer
/// starts right after the head) and the Content-Length of the GET, and a long name
/// or body never leaks into the next answer.
#[test]
fn pipelined_answers_each_carry_their_own_user() {
    let tmp = TempDir::new("cred-pipeline");
    let data = tmp.data_dir();
    let long = "ops.administrator.of.the.long.name";
    add_user(&data, "a", "pw-short-1");
    add_user(&data, long, "pw-long-1");
    let srv = Server::start(&data, &[]);
    let long_cookie = browser_login(&srv, long, "pw-long-1", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let short_cookie = browser_login(&srv, "a", "pw-short-1", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let long_token = api_token(&srv, long, "pw-long-1");
    let short_token = api_token(&srv, "a", "pw-short-1");
    let plan = [
        ("GET", "/", format!("Cookie: {long_cookie}")),
        ("HEAD", "/", format!("Cookie: {short_cookie}")),
        ("GET", "/", format!("Cookie: {short_cookie}")),
        (
            "GET",
            "/protected",
            format!("Authorization: JWT {long_token}"),
        ),
        (
            "HEAD",
            "/protected",
            format!("Authorization: JWT {short_token}"),
        ),
        (
            "GET",
            "/protected",
            format!("Authorization: JWT {short_token}"),
        ),
        ("GET", "/verify", format!("Cookie: {long_cookie}")),
        ("HEAD", "/verify", format!("Cookie: {short_cookie}")),
        ("GET", "/verify", format!("Cookie: {short_cookie}")),
        ("GET", "/protected", "Authorization: JWT x.y.z".to_owned()),
        (
            "GET",
            "/protected",
            format!("Authorization: JWT {short_token}"),
        ),
    ];
    let all: String = plan
        .iter()
        .map(|(m, p, h)| format!("{m} {p} HTTP/1.1\r\nHost: a\r\n{h}\r\n\r\n"))
        .collect();
    let mut s = connect(&srv);
    s.write_all(all.as_bytes()).unwrap();
    let mut pending = Vec::new();
    let answers: Vec<_> = plan
        .iter()
        .map(|(m, _, _)| next_answer(&mut s, &mut pending, *m == "HEAD"))
        .collect();
    assert!(
        pending.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&pending)
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200]
    );
    let short_page = String::from_utf8(answers[2].2.clone()).unwrap();
    assert!(short_page.contains("Welcome, a!"), "{short_page}");
    assert!(!short_page.contains("administrator"));
    assert!(answers[1].2.is_empty());
    assert_eq!(declared_len(&answers[1].1), answers[2].2.len());
    assert_eq!(answers[5].2, br#"{"identity":"a","username":"a"}"#);
    assert_eq!(answers[10].2, answers[5].2);
    assert!(answers[4].2.is_empty());
    assert_eq!(declared_len(&answers[4].1), answers[5].2.len());
    for i in [7, 8] {
        let users: Vec<&String> = answers[i]
            .1
            .iter()
            .filter(|l| l.starts_with("Remote-User:"))
            .collect();
        assert_eq!(users, ["Remote-User: a"], "{:?}", answers[i].1);
    }
    for (i, (m, _, _)) in plan.iter().enumerate() {
        if *m == "GET" {
            assert_eq!(declared_len(&answers[i].1), answers[i].2.len(), "{i}");
        }
    }
}
