//! What latchkey guards, behind TLS: the reverse proxy (HTTPS to the browser, plain HTTP
//! to the app on loopback; the app learns the request came over HTTPS,
//! `X-Forwarded-Proto: https` whatever the client claimed, and who is logged in; `--hsts`
//! reaches the app's answers too; a WebSocket is tunnelled through TLS) and `--serve-dir`.

use super::*;

#[test]
fn the_proxy_over_tls_tells_the_app_the_request_came_over_https() {
    let upstream = format!("http://127.0.0.1:{}", start_echo_upstream());
    let (_tmp, srv) = start_tls(&["--upstream", &upstream, "--hsts"]);

    // Anonymous: to the login page under the proxy's prefix, on the HTTPS origin.
    let anon = srv.get("/admin", &[("Accept", "text/html")]);
    assert_eq!(anon.status, 302, "{anon:?}");
    assert!(
        anon.location_path(srv.addr).starts_with("/.latchkey/login"),
        "{anon:?}"
    );

    let mut browser = crate::proxy::logged_in(&srv);
    assert!(
        browser.jar.get("__Host-latchkey_session").is_some(),
        "the session cookie over HTTPS is __Host-latchkey_session"
    );

    let app = browser.get(
        "/admin/settings?tab=wifi",
        &[("X-Forwarded-Proto", "http"), ("Remote-User", "root")],
    );
    assert_eq!(app.status, 200, "{app:?}");
    let body = app.text();
    assert!(body.starts_with("ECHO UPSTREAM"), "{body}");
    assert!(
        echoed_request_line(&body).starts_with("GET /admin/settings?tab=wifi HTTP/1.1"),
        "{body}"
    );
    assert_eq!(
        echoed_header(&body, "x-forwarded-proto"),
        ["https"],
        "{body}"
    );
    assert_eq!(echoed_header(&body, "remote-user"), [USER], "{body}");
    assert_eq!(
        echoed_header(&body, "x-forwarded-for"),
        ["127.0.0.1"],
        "{body}"
    );
    assert_eq!(
        app.header("strict-transport-security"),
        Some("max-age=31536000"),
        "{app:?}"
    );
    // The session cookie stays with latchkey.
    assert!(
        !body.to_ascii_lowercase().contains("latchkey_session"),
        "{body}"
    );
}

#[test]
fn serve_dir_files_are_served_over_https_after_login() {
    let tmp = TempDir::new("tls-serve-dir");
    let site = tmp.subdir("site");
    std::fs::write(site.join("index.html"), "<h1>Device settings</h1>").unwrap();
    let (_data_tmp, srv) = start_tls(&["--serve-dir", site.to_str().unwrap()]);
    let anon = srv.get("/index.html", &[("Accept", "text/html")]);
    assert!(matches!(anon.status, 302 | 303), "{anon:?}");
    let mut browser = srv.client();
    let done = browser_login(&srv, USER, PASSWORD, false, None);
    assert_eq!(done.status, 303, "{done:?}");
    browser.jar.absorb(&done);
    let page = browser.get("/index.html", &[]);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.text().contains("Device settings"), "{page:?}");
}

#[test]
fn a_websocket_through_the_proxy_over_tls_carries_messages_both_ways() {
    let upstream = format!("http://127.0.0.1:{}", start_echo_upstream());
    let (_tmp, srv) = start_tls(&["--upstream", &upstream]);
    let login = srv.post(
        "/.latchkey/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("username", USER), ("password", PASSWORD)]),
    );
    assert_eq!(login.status, 303, "{login:?}");
    let cookie = login.cookie_pair("latchkey_session").unwrap();
    let mut socket = websocket_connect_over(
        srv.addr,
        srv.tls.as_ref(),
        "/ws/echo",
        &[("Cookie", &cookie)],
    )
    .unwrap_or_else(|r| panic!("the upgrade over TLS was refused: {r:?}"));
    assert_eq!(socket.handshake.header("echo-remote-user"), Some(USER));
    assert_eq!(socket.echo("hello over TLS"), "hello over TLS");
    assert_eq!(socket.echo("and again"), "and again");
    socket.close();
    let refused = websocket_connect_over(srv.addr, srv.tls.as_ref(), "/ws/echo", &[]);
    assert!(refused.is_err(), "no upgrade without a session");
}
