//! `--redirect-http ADDR`: plain HTTP there is sent to the same path over HTTPS with a
//! 308 (RFC 9110 §15.4.9: the method and body are kept), to the host the request named,
//! which must be a host name or address (a Host that is not is answered 400, never
//! echoed into a Location). `--hsts` adds `Strict-Transport-Security` to HTTPS answers
//! only (RFC 6797 §7.2: never over plain HTTP).

use super::*;
use std::net::SocketAddr;

/// latchkey with `--tls --redirect-http 127.0.0.1:FREE FLAGS…`; the redirect address.
fn start_redirecting(flags: &[&str]) -> (TempDir, Server, SocketAddr) {
    let plain: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let plain_text = plain.to_string();
    let mut all = vec!["--redirect-http", plain_text.as_str()];
    all.extend_from_slice(flags);
    let (tmp, srv) = start_tls(&all);
    srv.wait_log(&format!("redirecting http://{plain}/ to HTTPS"));
    (tmp, srv, plain)
}

#[test]
fn plain_http_is_redirected_to_the_same_path_over_https_with_308() {
    let (_tmp, srv, plain) = start_redirecting(&[]);
    let tls_port = srv.port();
    for (method, host, target, want) in [
        (
            "GET",
            plain.to_string(),
            "/x?y=1",
            format!("https://127.0.0.1:{tls_port}/x?y=1"),
        ),
        (
            "GET",
            "router.lan".to_owned(),
            "/login?next=%2Fadmin",
            format!("https://router.lan:{tls_port}/login?next=%2Fadmin"),
        ),
        (
            "GET",
            format!("Router.LAN:{}", plain.port()),
            "/",
            format!("https://router.lan:{tls_port}/"),
        ),
        (
            "HEAD",
            "192.168.1.1:80".to_owned(),
            "/a/b",
            format!("https://192.168.1.1:{tls_port}/a/b"),
        ),
        (
            "POST",
            "[fd00::1]:8080".to_owned(),
            "/login",
            format!("https://[fd00::1]:{tls_port}/login"),
        ),
    ] {
        let r = request(plain, method, target, &[("Host", &host)], b"");
        assert_eq!(r.status, 308, "{method} {target} Host {host}: {r:?}");
        let location = r.header("location").unwrap_or("");
        // Host names are case-insensitive (RFC 9110 §4.2.3); either case is right.
        assert!(
            location.eq_ignore_ascii_case(&want),
            "{method} {target} Host {host}: Location {location:?}, want {want:?}"
        );
        assert!(
            r.header("strict-transport-security").is_none(),
            "no HSTS over plain HTTP: {r:?}"
        );
    }
}

#[test]
fn a_host_header_that_is_not_a_host_gets_400_not_a_redirect() {
    let (_tmp, srv, plain) = start_redirecting(&[]);
    for host in [
        "evil.example/@router.lan",
        "evil.example\\@router.lan",
        "user@evil.example",
        "router.lan:80:81",
        "router.lan:port",
        "[fd00::1",
        "fd00::1",
        "router lan",
        "router.lan\"><script>",
        "",
    ] {
        let r = request(plain, "GET", "/x", &[("Host", host)], b"");
        assert_eq!(r.status, 400, "Host {host:?}: {r:?}");
        assert!(r.header("location").is_none(), "Host {host:?}: {r:?}");
    }
    // A request without any Host (HTTP/1.1 requires one, RFC 9112 §3.2).
    let mut conn = Conn::open(plain);
    conn.send(b"GET /x HTTP/1.1\r\n\r\n");
    let r = conn.response();
    assert_eq!(r.status, 400, "{r:?}");
    // A path that starts with `//` is still a path (RFC 9112 §3.2.1): it must not
    // become the authority of the Location.
    let r = request(
        plain,
        "GET",
        "//evil.example/x",
        &[("Host", "router.lan")],
        b"",
    );
    if r.status == 308 {
        let location = r.header("location").unwrap_or("");
        let want = format!("https://router.lan:{}/", srv.port());
        assert!(location.starts_with(&want), "Location {location:?}");
    } else {
        assert_eq!(r.status, 400, "{r:?}");
    }
}

#[test]
fn hsts_is_sent_over_https_only_and_only_when_asked_for() {
    let (_tmp, srv, plain) = start_redirecting(&["--hsts"]);
    for target in ["/login", "/healthz", "/nothing-here"] {
        let r = srv.get(target, &[]);
        assert_eq!(
            r.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{target}: {r:?}"
        );
    }
    let r = request(plain, "GET", "/login", &[("Host", "router.lan")], b"");
    assert_eq!(r.status, 308);
    assert!(r.header("strict-transport-security").is_none(), "{r:?}");

    // Off by default: a LAN name with a self-signed certificate could lock people out.
    let (_tmp, srv) = start_tls(&[]);
    let r = srv.get("/login", &[]);
    assert!(r.header("strict-transport-security").is_none(), "{r:?}");
}
