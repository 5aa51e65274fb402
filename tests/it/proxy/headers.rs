//! Header hygiene, seen from the application's side (the echo upstream reports the
//! head it received) and from the client's.

use super::*;

/// Every value the upstream received for `name`, `_` and `-` and case alike.
fn seen(body: &str, name: &str) -> Vec<String> {
    echoed_header(body, name)
}

/// Headers a client may send to pass as someone, or to confuse the proxy.
const FORGED: &[(&str, &str)] = &[
    ("Remote-User", "root"),
    ("remote_user", "root"),
    ("REMOTE-USER", "root"),
    ("Remote_User", "root"),
    ("X-Forwarded-User", "root"),
    ("x_forwarded_user", "root"),
    ("X-Auth-Request-User", "root"),
    ("X_Auth_Request_Email", "root@example"),
    ("X-Auth-Request-Preferred-Username", "root"),
    ("X-Remote-User", "root"),
    ("X-Forwarded-For", "198.51.100.66"),
    ("X-Real-IP", "198.51.100.66"),
    ("Forwarded", "for=198.51.100.66"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Uri", "/public"),
    ("X-Original-URL", "/public"),
    ("X-Rewrite-URL", "/public"),
    ("Keep-Alive", "timeout=100"),
    ("TE", "trailers"),
    ("Upgrade", "h2c"),
    ("Proxy-Connection", "keep-alive"),
    ("Proxy-Authorization", "Basic cm9vdDpyb290"),
    ("Connection", "keep-alive, X-Listed-Hop"),
    ("X-Listed-Hop", "gone"),
    ("X-App-Header", "kept"),
];

fn assert_clean(body: &str, user: &str) {
    for name in ["remote-user", "Remote_User"] {
        assert_eq!(seen(body, name), [user], "{name} in:\n{body}");
    }
    for name in [
        "x-forwarded-user",
        "x-auth-request-user",
        "x-auth-request-email",
        "x-auth-request-preferred-username",
        "x-remote-user",
        "forwarded",
        "x-forwarded-uri",
        "x-original-url",
        "x-rewrite-url",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-connection",
        "proxy-authorization",
        "x-listed-hop",
        "transfer-encoding",
        "content-length",
    ] {
        assert!(
            seen(body, name).is_empty(),
            "{name} reached the app:\n{body}"
        );
    }
    // A request without a body keeps the pooled upstream connection (HTTP/1.1's
    // default): no Connection field at all, the client's included.
    assert!(seen(body, "connection").is_empty(), "{body}");
    assert_eq!(seen(body, "x-forwarded-for"), ["127.0.0.1"], "{body}");
    assert_eq!(seen(body, "x-real-ip"), ["127.0.0.1"], "{body}");
    assert_eq!(seen(body, "x-forwarded-proto"), ["http"], "{body}");
    assert_eq!(seen(body, "x-forwarded-host"), ["pi.lan:8080"], "{body}");
    assert_eq!(seen(body, "host"), ["pi.lan:8080"], "{body}");
    assert_eq!(seen(body, "x-app-header"), ["kept"], "{body}");
}

#[test]
fn a_session_request_reaches_the_app_clean_with_remote_user_set() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let mut browser = logged_in(&srv);
    let session = browser.jar.session().unwrap().to_owned();
    let mut headers: Vec<(&str, &str)> = FORGED.to_vec();
    headers.push(("Host", "pi.lan:8080"));
    // The app's own cookie next to latchkey's two, one of them in its own line.
    let cookie = format!("app=1; latchkey_session={session}; latchkey_pre=x");
    headers.push(("Cookie", &cookie));
    headers.push(("Cookie", "theme=dark"));
    let r = request(srv.addr, "GET", "/admin/page?x=1", &headers, b"");
    assert_eq!(r.status, 200, "{r:?}");
    let body = r.text();
    assert!(
        echoed_request_line(&body).starts_with("GET /admin/page?x=1 HTTP/1.1"),
        "{body}"
    );
    assert_clean(&body, USER);
    assert_eq!(seen(&body, "cookie"), ["app=1; theme=dark"], "{body}");
    // The browser client's own jar reaches it the same way.
    let again = browser.get("/x", &[]);
    assert!(
        !again.text().contains("latchkey_session"),
        "{}",
        again.text()
    );
}

#[test]
fn a_bearer_request_reaches_the_app_without_latchkeys_token() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = format!("Bearer {}", token(&srv));
    let mut headers: Vec<(&str, &str)> = FORGED.to_vec();
    headers.push(("Host", "pi.lan:8080"));
    headers.push(("Authorization", &auth));
    let r = request(srv.addr, "GET", "/api/v1/status", &headers, b"");
    assert_eq!(r.status, 200, "{r:?}");
    let body = r.text();
    assert_clean(&body, USER);
    assert!(seen(&body, "authorization").is_empty(), "{body}");
}

#[test]
fn the_user_header_can_be_renamed_and_the_old_name_is_still_stripped() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &["--user-header", "X-WebAuth-Login"]);
    let auth = format!("JWT {}", token(&srv));
    let r = request(
        srv.addr,
        "GET",
        "/",
        &[
            ("Authorization", &auth),
            ("x_webauth_login", "root"),
            ("X-WEBAUTH-LOGIN", "root"),
            ("Remote-User", "root"),
        ],
        b"",
    );
    let body = r.text();
    assert_eq!(seen(&body, "x-webauth-login"), [USER], "{body}");
    assert!(seen(&body, "remote-user").is_empty(), "{body}");
}

#[test]
fn forwarded_for_is_kept_only_from_a_trusted_proxy() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &["--trusted-proxy", "127.0.0.1"]);
    let auth = format!("Bearer {}", token(&srv));
    let r = request(
        srv.addr,
        "GET",
        "/",
        &[
            ("Authorization", &auth),
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "admin.example"),
        ],
        b"",
    );
    let body = r.text();
    assert_eq!(
        seen(&body, "x-forwarded-for"),
        ["198.51.100.7, 127.0.0.1"],
        "{body}"
    );
    assert_eq!(seen(&body, "x-real-ip"), ["198.51.100.7"], "{body}");
    assert_eq!(seen(&body, "x-forwarded-proto"), ["https"], "{body}");
    assert_eq!(seen(&body, "x-forwarded-host"), ["admin.example"], "{body}");
}

#[test]
fn the_apps_answers_cannot_touch_latchkeys_cookies_or_leak_its_address() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = format!("Bearer {}", token(&srv));
    let cookies = srv.get("/cookies", &[("Authorization", &auth)]);
    assert_eq!(cookies.status, 200, "{cookies:?}");
    assert_eq!(
        cookies.headers_all("set-cookie"),
        ["app=1; Path=/"],
        "{cookies:?}"
    );
    // Hop-by-hop fields of the app's answer, and those its Connection names, stay behind.
    assert!(cookies.header("x-hop").is_none() && cookies.header("keep-alive").is_none());
    let redirect = srv.get("/redirect", &[("Authorization", &auth)]);
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.header("location"), Some("/landing?from=app"));
    let elsewhere = srv.get("/elsewhere", &[("Authorization", &auth)]);
    assert_eq!(
        elsewhere.header("location"),
        Some("http://example.org/landing")
    );
}

#[test]
fn proxied_pages_are_not_cached_unless_asked() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = format!("Bearer {}", token(&srv));
    let page = srv.get("/static/app.css", &[("Authorization", &auth)]);
    assert_eq!(page.headers_all("cache-control"), ["no-store"], "{page:?}");
    let (_tmp2, cached) = start_proxy(app.port, &["--upstream-cache"]);
    let auth = format!("Bearer {}", token(&cached));
    let page = cached.get("/static/app.css", &[("Authorization", &auth)]);
    assert_eq!(
        page.headers_all("cache-control"),
        ["public, max-age=600"],
        "{page:?}"
    );
}
