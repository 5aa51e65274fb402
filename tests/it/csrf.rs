//! Cross-site requests and CSRF against the running binary: login CSRF, cross-site
//! POSTs, logout CSRF, and response hardening. The token API refuses what a browser
//! says is cross-site like the forms do: a page of another site can post a
//! `text/plain` body to `/auth/refresh`.

use crate::common::*;

#[test]
fn cross_site_and_csrf_are_refused() {
    let tmp = TempDir::new("csrf");
    let data = tmp.data_dir();
    add_user(&data, "vic", "pw-vic-123");
    let srv = Server::start(&data, &[]);
    let page = srv.get("/login", &[]);
    let pre = page.cookie_pair("latchkey_pre").unwrap();
    let set = page.set_cookie("latchkey_pre").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let csrf = hidden_input(&page.text(), "csrf").unwrap();
    let origin = format!("http://{}", srv.addr);
    let ct = ("Content-Type", "application/x-www-form-urlencoded");
    let body = |csrf: &str| {
        form(&[
            ("username", "vic"),
            ("password", "pw-vic-123"),
            ("csrf", csrf),
        ])
    };

    // Another site's page posting the form: refused by Origin or Sec-Fetch-Site.
    let r = srv.post(
        "/login",
        &[ct, ("Cookie", &pre), ("Origin", "http://evil.example")],
        &body(&csrf),
    );
    assert_eq!(r.status, 403);
    let r = srv.post(
        "/login",
        &[ct, ("Cookie", &pre), ("Sec-Fetch-Site", "cross-site")],
        &body(&csrf),
    );
    assert_eq!(r.status, 403);
    // `Origin: null` (what a no-referrer page's own form sends) decides nothing by
    // itself: without the pre-session cookie the token is refused, with it the
    // login goes through (checked below with a real Origin).
    let r = srv.post("/login", &[ct, ("Origin", "null")], &body(&csrf));
    assert_eq!(r.status, 403);
    let r = srv.post(
        "/login",
        &[
            ct,
            ("Origin", "null"),
            ("Sec-Fetch-Site", "cross-site"),
            ("Cookie", &pre),
        ],
        &body(&csrf),
    );
    assert_eq!(r.status, 403);
    // A browser POST without the token, with a wrong one, or one of another pre-session.
    let same = [ct, ("Cookie", pre.as_str()), ("Origin", origin.as_str())];
    assert_eq!(
        srv.post(
            "/login",
            &same,
            &form(&[("username", "vic"), ("password", "pw-vic-123")])
        )
        .status,
        403
    );
    assert_eq!(srv.post("/login", &same, &body("AAAA")).status, 403);
    let other = srv.get("/login", &[]);
    let other_csrf = hidden_input(&other.text(), "csrf").unwrap();
    assert_eq!(srv.post("/login", &same, &body(&other_csrf)).status, 403);
    // Without the pre-session cookie the token alone is worthless.
    let r = srv.post("/login", &[ct, ("Origin", origin.as_str())], &body(&csrf));
    assert_eq!(r.status, 403);
    // Duplicate fields are never resolved silently.
    let mut dup = body(&csrf);
    dup.extend_from_slice(b"&username=eve");
    assert_eq!(srv.post("/login", &same, &dup).status, 400);
    // The legitimate form post works.
    let r = srv.post("/login", &same, &body(&csrf));
    assert_eq!(r.status, 303, "{}", r.text());
    let session = r.cookie_pair("latchkey_session").unwrap();

    // Logout by POST needs the token of the welcome page.
    let both = format!("{session}; {pre}");
    let r = srv.post(
        "/logout",
        &[ct, ("Cookie", &both), ("Origin", &origin)],
        b"csrf=nope",
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        srv.get("/", &[("Cookie", &session)]).status,
        200,
        "session survived a forged logout"
    );
    let r = srv.get(
        "/logout",
        &[("Cookie", &session), ("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(srv.get("/", &[("Cookie", &session)]).status, 200);
    let welcome = srv.get("/", &[("Cookie", &session)]).text();
    let logout_csrf = hidden_input(&welcome, "csrf").unwrap();
    let r = srv.post(
        "/logout",
        &[ct, ("Cookie", &both), ("Origin", &origin)],
        &form(&[("csrf", &logout_csrf)]),
    );
    assert_eq!(r.status, 303);
    assert_eq!(srv.get("/", &[("Cookie", &session)]).status, 302);
}

#[test]
fn hardening_headers_and_duplicate_cookies() {
    let tmp = TempDir::new("headers");
    let data = tmp.data_dir();
    add_user(&data, "wen", "pw-wen-123");
    let srv = Server::start(&data, &["--same-site-strict"]);
    let r = browser_login(&srv, "wen", "pw-wen-123", false, None);
    assert!(
        r.set_cookie("latchkey_session")
            .unwrap()
            .contains("SameSite=Strict")
    );
    let session = r.cookie_pair("latchkey_session").unwrap();
    let page = srv.get("/", &[("Cookie", &session)]);
    for (h, v) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("vary", "Cookie"),
    ] {
        assert_eq!(page.header(h), Some(v), "{h}");
    }
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    // Two session cookies (one planted by a sibling subdomain) are never resolved
    // in the attacker's favour: the request is simply not authenticated.
    let planted = format!("{session}; {session}");
    assert_eq!(srv.get("/", &[("Cookie", &planted)]).status, 302);
    // Token answers are never cached.
    let r = srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        br#"{"username":"wen","password":"pw-wen-123"}"#,
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[test]
fn token_api_refuses_cross_site_posts() {
    let tmp = TempDir::new("api-xsite");
    let data = tmp.data_dir();
    add_user(&data, "ada", "pw-ada-123");
    let srv = Server::start(&data, &["--refresh-ttl", "1h"]);
    let creds = br#"{"username":"ada","password":"pw-ada-123"}"#;
    let json = ("Content-Type", "application/json");
    let r = srv.post("/auth", &[json, ("Origin", "http://evil.example")], creds);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["description"], "cross-site request refused");
    let r = srv.post("/auth", &[json], creds);
    assert_eq!(r.status, 200, "{}", r.text());
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let body = serde_json::json!({ "refresh_token": refresh }).to_string();
    for evil in [
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let r = srv.post(
            "/auth/refresh",
            &[("Content-Type", "text/plain"), evil],
            body.as_bytes(),
        );
        assert_eq!(r.status, 403, "{evil:?}");
    }
    // Scripts and same-origin pages are unaffected.
    let origin = format!("http://{}", srv.addr);
    let r = srv.post("/auth/refresh", &[("Origin", &origin)], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["access_token"].is_string());
    let r = srv.post("/auth/refresh", &[], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}
