//! latchkey as the reverse proxy in front of an application (`serve --upstream`),
//! against the real binary and real upstreams started by the tests (`app`): the
//! whole walk through it, header hygiene both ways, paths judged as forwarded,
//! response framing, failures, and bodies streamed both ways.

mod app;
mod apps;
mod bodies;
mod failures;
mod framing;
mod headers;
mod paths;
mod websocket;

use crate::common::*;
use std::net::SocketAddr;

pub(crate) use app::{dead_port, fnv, pattern, start_app};

pub(crate) const USER: &str = "alice";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const PREFIX: &str = "/.latchkey";

/// latchkey in front of the upstream on `port`, with alice as a user and `flags`.
pub(crate) fn start_proxy(port: u16, flags: &[&str]) -> (TempDir, Server) {
    let tmp = TempDir::new("proxy");
    let data = data_dir_with_users(&tmp, &[(USER, PASSWORD)]);
    let upstream = format!("http://127.0.0.1:{port}");
    let mut all = vec!["--upstream", upstream.as_str()];
    all.extend_from_slice(flags);
    let srv = Server::start(&data, &all);
    (tmp, srv)
}

/// An access token from `POST {PREFIX}/auth`.
pub(crate) fn token(srv: &Server) -> String {
    let body = format!(r#"{{"username":"{USER}","password":"{PASSWORD}"}}"#);
    let r = srv.post(
        &format!("{PREFIX}/auth"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// A browser logged in through the login form under the prefix.
pub(crate) fn logged_in(srv: &Server) -> Client {
    let mut browser = srv.client();
    let page = browser.get(&format!("{PREFIX}/login"), &[]);
    assert_eq!(page.status, 200, "{page:?}");
    let login = login_form(&page.text());
    let origin = srv.origin();
    let fields = form(&[
        ("username", USER),
        ("password", PASSWORD),
        ("csrf", login.hidden("csrf").unwrap()),
        ("next", "/"),
    ]);
    let done = browser.post(
        &format!("{PREFIX}/login"),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &fields,
    );
    assert_eq!(done.status, 303, "{done:?}");
    assert!(browser.jar.session().is_some());
    browser
}

/// Sends `raw` on a new connection and reads one response.
pub(crate) fn raw_request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut conn = Conn::open(addr);
    conn.send(raw);
    conn.response()
}

/// The whole walk a user does, through latchkey itself as the proxy: the deployment
/// tests' `proxy_walk`, with latchkey's pages under the reserved prefix.
#[test]
fn the_walk_through_latchkey_as_the_proxy() {
    let upstream = start_echo_upstream();
    let (_tmp, srv) = start_proxy(upstream, &[]);
    proxy_walk(
        srv.port(),
        PREFIX,
        &srv,
        ApiDenial::Json401,
        (USER, PASSWORD),
    );
}

#[test]
fn latchkeys_own_routes_stay_under_the_prefix_and_never_reach_the_app() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let health = srv.get(&format!("{PREFIX}/healthz"), &[]);
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let login = srv.get(&format!("{PREFIX}/login"), &[]);
    assert_eq!(login.status, 200);
    assert!(
        login.text().contains(&format!("action=\"{PREFIX}/login\"")),
        "{}",
        login.text()
    );
    // The same paths without the prefix are the application's.
    let anon = srv.get("/login", &[("Accept", "text/html")]);
    assert_eq!(anon.status, 302);
    // Spellings that normalise into the prefix are latchkey's too, never forwarded.
    for path in [
        format!("{PREFIX}/nothing-here"),
        "/%2Elatchkey/login".to_owned(),
        format!("{PREFIX}/../admin"),
    ] {
        let r = srv.get(&path, &[("Accept", "text/html")]);
        assert!(!r.text().contains("ECHO UPSTREAM"), "{path}: {r:?}");
    }
    assert_eq!(app.served(), 0, "the application saw a request");
    // With a prefix of the operator's choosing.
    let (_tmp2, srv2) = start_proxy(app.port, &["--prefix", "/auth-gate"]);
    assert_eq!(srv2.get("/auth-gate/healthz", &[]).status, 200);
    assert_eq!(srv2.get(&format!("{PREFIX}/healthz"), &[]).status, 302);
}

#[test]
fn anonymous_browsers_go_to_login_with_next_and_api_clients_get_401() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let browser = srv.get("/admin/settings?tab=wifi", &[("Accept", "text/html")]);
    assert_eq!(browser.status, 302, "{browser:?}");
    assert_eq!(
        browser.header("location"),
        Some("/.latchkey/login?next=%2Fadmin%2Fsettings%3Ftab%3Dwifi")
    );
    assert_eq!(browser.header("cache-control"), Some("no-store"));
    let api = srv.get("/api/status", &[("Accept", "application/json")]);
    assert_eq!(api.status, 401, "{api:?}");
    assert_eq!(api.json()["status_code"], 401);
    let bad_token = srv.get("/api/status", &[("Authorization", "Bearer not.a.token")]);
    assert_eq!(bad_token.status, 401);
    // A POST with a body is refused without reading the body, and not left hanging.
    let post = srv.post(
        "/api/upload",
        &[("Accept", "application/json")],
        &[b'x'; 100_000],
    );
    assert_eq!(post.status, 401);
    assert_eq!(app.served(), 0);
}
