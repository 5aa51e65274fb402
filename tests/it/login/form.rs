//! The Flask-Login walk against the real binary: redirect to the login page, wrong
//! password, right password, cookie attributes, the protected page, remember-me, an
//! unsafe `next`, logout, and the old cookie refused afterwards, also after a restart.

use crate::common::*;

#[test]
fn login_walk_logout_and_revocation_survives_restart() {
    let tmp = TempDir::new("web");
    let data = tmp.data_dir();
    add_user(&data, "alice", "correct horse");
    let srv = Server::start(&data, &["--title", "Router <admin>"]);

    // Anonymous browser → the login page, remembering where it wanted to go.
    let r = srv.get("/?tab=wifi", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/login?next=%2F%3Ftab%3Dwifi"));

    // The login page: escaped title, labelled fields, hardening headers.
    let page = srv.get("/login?next=%2Fsettings", &[]);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("Router &lt;admin&gt;"));
    assert!(!html.contains("Router <admin>"));
    assert!(html.contains("<label"));
    assert!(html.contains("name=\"remember\""));
    assert_eq!(hidden_input(&html, "next").as_deref(), Some("/settings"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));

    // Wrong password: 401, the page again, no hint which part was wrong.
    let r = browser_login(&srv, "alice", "wrong", false, None);
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Invalid username or password"));
    assert!(r.set_cookie("latchkey_session").is_none());
    srv.wait_log("login failed ip=127.0.0.1 user=alice");
    let r = browser_login(&srv, "nobody", "x", false, None);
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Invalid username or password"));

    // Right password: 303 to the safe `next`, a hardened session cookie.
    let r = browser_login(&srv, "alice", "correct horse", false, Some("/settings"));
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/settings"));
    let set = r.set_cookie("latchkey_session").unwrap().to_owned();
    assert!(set.contains("HttpOnly"));
    assert!(set.contains("SameSite=Lax"));
    assert!(set.contains("Path=/"));
    assert!(
        !set.contains("Max-Age"),
        "no remember-me: a browser-session cookie: {set}"
    );
    assert!(
        !set.contains("Secure"),
        "plain http without a trusted proxy: {set}"
    );
    let cookie = r.cookie_pair("latchkey_session").unwrap();
    srv.wait_log("login ok ip=127.0.0.1 user=alice");
    assert!(srv.log_lines().iter().all(|l| !l.contains("correct horse")));

    // The protected page, HTML-escaped welcome.
    let r = srv.get("/", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Welcome, alice!"));

    // Logout clears the cookie and revokes the session server-side.
    let r = srv.get("/logout", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?signed_out=1"));
    let clear = r.set_cookie("latchkey_session").unwrap();
    assert!(clear.contains("Max-Age=0"));
    let r = srv.get("/", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 302, "the old cookie is refused after logout");

    // ... and still after a restart.
    assert_eq!(srv.stop(), 0);
    let srv = Server::start(&data, &[]);
    let r = srv.get("/", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 302);
    let r = srv.get("/", &[("Cookie", &cookie), ("Accept", "application/json")]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["description"], "revoked");
}

#[test]
fn remember_me_sets_a_persistent_cookie() {
    let tmp = TempDir::new("remember");
    let data = tmp.data_dir();
    add_user(&data, "bob", "pw-bob-123");
    let srv = Server::start(&data, &["--remember-ttl", "7d"]);
    let r = browser_login(&srv, "bob", "pw-bob-123", true, None);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
    let set = r.set_cookie("latchkey_session").unwrap();
    assert!(set.contains("Max-Age=604800"), "{set}");
    let cookie = r.cookie_pair("latchkey_session").unwrap();
    assert!(
        srv.get("/", &[("Cookie", &cookie)])
            .text()
            .contains("Welcome, bob!")
    );
}

#[test]
fn unsafe_next_falls_back_to_root() {
    let tmp = TempDir::new("next");
    let data = tmp.data_dir();
    add_user(&data, "carol", "pw-carol-1");
    let srv = Server::start(&data, &[]);
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let r = browser_login(&srv, "carol", "pw-carol-1", false, Some(evil));
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("/"), "next={evil}");
    }
}
