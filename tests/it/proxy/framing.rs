//! The application's answers reach the client whole and correctly framed, whatever
//! the application's framing: Content-Length, chunked, close-delimited, none.

use super::*;

fn authed(srv: &Server) -> String {
    format!("Bearer {}", token(srv))
}

#[test]
fn every_body_framing_reaches_the_client_whole() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = authed(&srv);
    let chunked = srv.get("/chunked", &[("Authorization", &auth)]);
    assert_eq!(chunked.status, 200);
    assert_eq!(chunked.text(), "hello chunked world");
    assert_eq!(chunked.header("transfer-encoding"), Some("chunked"));
    assert!(chunked.header("x-trailer").is_none());
    // Close-delimited goes to an HTTP/1.1 client chunked, so its connection can stay.
    let close = srv.get("/close", &[("Authorization", &auth)]);
    assert_eq!((close.status, close.text().as_str()), (200, "until close"));
    assert_eq!(close.header("transfer-encoding"), Some("chunked"));
    let old = srv.get("/http10", &[("Authorization", &auth)]);
    assert_eq!((old.status, old.text().as_str()), (200, "old style"));
    let big = srv.get("/big-chunked?bytes=300000", &[("Authorization", &auth)]);
    assert_eq!(big.body.len(), 300_000);
    assert_eq!(fnv(&big.body), fnv(&pattern(300_000)));
}

#[test]
fn an_http10_client_gets_a_close_delimited_body() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let raw = format!(
        "GET /chunked HTTP/1.0\r\nAuthorization: Bearer {}\r\n\r\n",
        token(&srv)
    );
    let mut conn = Conn::open(srv.addr);
    conn.send(raw.as_bytes());
    let r = conn.response();
    assert_eq!(r.status, 200);
    assert!(r.header("transfer-encoding").is_none(), "{r:?}");
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.text(), "hello chunked world");
}

#[test]
fn head_204_and_304_have_no_body_and_the_connection_goes_on() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = authed(&srv);
    let mut conn = Conn::open(srv.addr);
    let req = |method: &str, path: &str| {
        format!("{method} {path} HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n\r\n")
    };
    // Pipelined on one connection: each answer must end where the app's does.
    let mut all = String::new();
    for (method, path) in [
        ("HEAD", "/big?bytes=5000"),
        ("GET", "/204"),
        ("GET", "/304"),
        ("GET", "/big?bytes=10"),
    ] {
        all.push_str(&req(method, path));
    }
    conn.send(all.as_bytes());
    let head = conn.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5000"));
    let no_content = conn.response();
    assert_eq!(no_content.status, 204);
    assert!(
        no_content.header("content-length").is_none()
            && no_content.header("transfer-encoding").is_none()
    );
    let not_modified = conn.response();
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("etag"), Some("\"v1\""));
    let last = conn.response();
    assert_eq!(last.body, pattern(10));
    assert_eq!(app.served(), 4);
}

#[test]
fn a_post_without_a_body_still_says_its_length() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = format!("Bearer {}", token(&srv));
    let r = srv.post("/form", &[("Authorization", &auth)], b"");
    let body = r.text();
    assert_eq!(echoed_header(&body, "content-length"), ["0"], "{body}");
    let get = srv.get("/page", &[("Authorization", &auth)]);
    assert!(echoed_header(&get.text(), "content-length").is_empty());
    // A request with a body gets an upstream connection of its own.
    let with_body = srv.post("/form", &[("Authorization", &auth)], b"a=1");
    let body = with_body.text();
    assert_eq!(echoed_header(&body, "content-length"), ["3"], "{body}");
    assert_eq!(echoed_header(&body, "connection"), ["close"], "{body}");
}
