//! An application that is down, slow, dies midway or answers nonsense: the client gets
//! a clear answer (502, 504) or a closed connection, never a hang or a cut body taken
//! for whole.

use super::*;
use std::io::Read;
use std::time::{Duration, Instant};

#[test]
fn a_dead_upstream_is_502_as_a_page_or_as_json() {
    let (_tmp, srv) = start_proxy(dead_port(), &[]);
    let auth = format!("Bearer {}", token(&srv));
    let page = logged_in(&srv).get("/", &[("Accept", "text/html")]);
    assert_eq!(page.status, 502, "{page:?}");
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().contains("502 Bad Gateway"), "{}", page.text());
    let api = srv.get(
        "/",
        &[("Authorization", &auth), ("Accept", "application/json")],
    );
    assert_eq!(api.status, 502);
    assert_eq!(api.json()["status_code"], 502);
    srv.wait_log("latchkey: upstream: upstream unreachable");
    // latchkey itself is fine.
    assert_eq!(srv.get(&format!("{PREFIX}/healthz"), &[]).status, 200);
}

#[test]
fn a_slow_upstream_is_504_after_the_timeout() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &["--upstream-timeout", "1s"]);
    let auth = format!("Bearer {}", token(&srv));
    let started = Instant::now();
    let r = srv.get(
        "/slow",
        &[("Authorization", &auth), ("Accept", "text/html")],
    );
    assert_eq!(r.status, 504, "{r:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn an_upstream_that_closes_before_or_during_its_answer() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = format!("Bearer {}", token(&srv));
    // Closed before a head, or an invalid head: 502.
    for path in ["/silent", "/bad-head"] {
        let r = srv.get(path, &[("Authorization", &auth)]);
        assert_eq!(r.status, 502, "{path}: {r:?}");
    }
    // Closed in the middle of the body: the client's connection closes too, and what
    // it got is visibly short (Content-Length unmet, or no last chunk).
    for (path, sent) in [("/die", "100000"), ("/die-chunked", "chunked")] {
        let mut conn = Conn::open(srv.addr);
        conn.send(
            format!("GET {path} HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n\r\n").as_bytes(),
        );
        let head = conn.raw_head();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_ascii_lowercase().contains(sent), "{head}");
        let mut rest = Vec::new();
        conn.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let outcome = conn.stream.read_to_end(&mut rest);
        assert!(
            outcome.is_ok(),
            "the connection was left hanging: {outcome:?}"
        );
        let all = format!("{head}{}", String::from_utf8_lossy(&rest));
        assert!(all.contains("partial"), "{all}");
        assert!(
            !all.ends_with("0\r\n\r\n"),
            "a cut chunked body was ended: {all:?}"
        );
    }
}
