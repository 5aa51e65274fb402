//! Bytes in bulk through the TLS layer, where a record holds more than one read asks
//! for and the event loop must not wait for the socket while rustls still holds
//! plaintext: pipelined requests in one write, and bodies of a few MiB through the proxy
//! both ways (Content-Length and chunked with `Expect: 100-continue`).

use super::*;
use crate::proxy::{fnv, pattern, start_app, token};

#[test]
fn pipelined_requests_in_one_write_are_all_answered_over_tls() {
    let (_tmp, srv) = start_tls(&[]);
    let mut conn = Conn::open_over(srv.addr, srv.tls.as_ref());
    let one = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    conn.send(one.repeat(50).as_bytes());
    for i in 0..50 {
        let r = conn.response();
        assert_eq!(r.status, 200, "answer {i}: {r:?}");
    }
    // And the connection is still good for the next request.
    conn.send(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(is_login_page(&conn.response().text()));
}

#[test]
fn large_bodies_stream_both_ways_through_the_proxy_over_tls() {
    let app = start_app();
    let upstream = format!("http://127.0.0.1:{}", app.port);
    let (_tmp, srv) = start_tls(&["--upstream", &upstream]);
    let auth = format!("Bearer {}", token(&srv));
    let report = |data: &[u8]| format!("len={} fnv={:016x}", data.len(), fnv(data));

    let data = pattern(4 << 20);
    let up = srv.post("/upload", &[("Authorization", &auth)], &data);
    assert_eq!(up.status, 200, "{up:?}");
    assert_eq!(up.text(), report(&data));

    let down = srv.get("/big?bytes=6291456", &[("Authorization", &auth)]);
    assert_eq!(down.status, 200);
    assert_eq!(down.body.len(), 6 << 20);
    assert_eq!(fnv(&down.body), fnv(&pattern(6 << 20)));

    // Chunked, after the interim 100 (RFC 9110 §10.1.1), on one TLS connection.
    let data = pattern(3 << 20);
    let mut conn = Conn::open_over(srv.addr, srv.tls.as_ref());
    conn.send(
        format!(
            "PUT /upload HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n\
             Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    );
    let interim = conn.response();
    assert_eq!(interim.status, 100, "{interim:?}");
    let mut body = Vec::new();
    for part in data.chunks(10_000) {
        body.extend_from_slice(format!("{:X}\r\n", part.len()).as_bytes());
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    conn.send(&body);
    let r = conn.response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), report(&data));
    // Keep-alive after it: the next request on the same connection.
    conn.send(
        format!("GET /big?bytes=1000 HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n\r\n")
            .as_bytes(),
    );
    let r = conn.response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, pattern(1000));
}
