//! Request and response bodies of a few MiB streamed through the proxy both ways,
//! chunked request bodies re-framed, and the upload limit. (The 1 GiB / 100 MiB
//! memory measurement is bench/proxy.sh's.)

use super::*;
use std::io::Write;

fn upload_report(data: &[u8]) -> String {
    format!("len={} fnv={:016x}", data.len(), fnv(data))
}

/// `data` as a chunked body in pieces of `piece` bytes.
fn chunked(data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in data.chunks(piece) {
        out.extend_from_slice(format!("{:X}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[test]
fn large_bodies_stream_both_ways() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = format!("Bearer {}", token(&srv));
    let data = pattern(4 << 20);
    let up = request(
        srv.addr,
        "POST",
        "/upload",
        &[("Authorization", &auth)],
        &data,
    );
    assert_eq!(up.status, 200, "{up:?}");
    assert_eq!(up.text(), upload_report(&data));
    let down = srv.get("/big?bytes=6291456", &[("Authorization", &auth)]);
    assert_eq!(down.body.len(), 6 << 20);
    assert_eq!(fnv(&down.body), fnv(&pattern(6 << 20)));
}

#[test]
fn a_chunked_upload_is_re_framed_and_arrives_whole() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let data = pattern(3 << 20);
    let raw = format!(
        "PUT /upload HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {}\r\n\
         Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        token(&srv)
    );
    let mut conn = Conn::open(srv.addr);
    conn.send(raw.as_bytes());
    // The client is told to go on once latchkey has decided to forward.
    let interim = conn.response();
    assert_eq!(interim.status, 100, "{interim:?}");
    conn.stream.write_all(&chunked(&data, 10_000)).unwrap();
    let r = conn.response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), upload_report(&data));
}

#[test]
fn uploads_above_the_limit_are_413_and_bad_chunks_400() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &["--max-upload", "1M"]);
    let auth = format!("Bearer {}", token(&srv));
    let too_big = raw_request(
        srv.addr,
        format!("POST /upload HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\nContent-Length: 1048577\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(too_big.status, 413, "{too_big:?}");
    let mut raw = format!(
        "POST /upload HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(&chunked(&pattern((1 << 20) + 1), 100_000));
    let r = raw_request(srv.addr, &raw);
    assert_eq!(r.status, 413, "{r:?}");
    // Exactly the limit is fine.
    let data = pattern(1 << 20);
    let ok = request(
        srv.addr,
        "POST",
        "/upload",
        &[("Authorization", &auth)],
        &data,
    );
    assert_eq!(ok.text(), upload_report(&data));
    for bad in [
        &b"5\r\nhello\n0\r\n\r\n"[..],
        b"5\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloX\r\n0\r\n\r\n",
    ] {
        let mut raw = format!(
            "POST /upload HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(bad);
        let r = raw_request(srv.addr, &raw);
        assert_eq!(r.status, 400, "{bad:?}: {r:?}");
    }
    // The smuggling shapes stay refused on proxied routes.
    for head in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
    ] {
        let raw = format!(
            "POST /upload HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n{head}\r\n0\r\n\r\n"
        );
        let r = raw_request(srv.addr, raw.as_bytes());
        assert!(r.status == 400 || r.status == 501, "{head:?}: {r:?}");
    }
    // latchkey's own routes keep their small limit and take no chunked body.
    let login = raw_request(
        srv.addr,
        format!("POST {PREFIX}/auth HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(login.status, 413);
    let login = raw_request(
        srv.addr,
        format!(
            "POST {PREFIX}/auth HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(login.status, 411);
    assert!(
        app.served() <= 2,
        "only the two good uploads reached the app: {}",
        app.served()
    );
}

#[test]
fn a_large_transfer_does_not_hold_up_other_clients() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = format!("Bearer {}", token(&srv));
    let addr = srv.addr;
    let download = std::thread::spawn(move || {
        let mut conn = Conn::open(addr);
        conn.send(
            format!(
                "GET /zeros?bytes=268435456 HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n\r\n"
            )
            .as_bytes(),
        );
        conn.response().body.len()
    });
    // While 256 MiB stream through the loop, latchkey's own page still answers at once.
    std::thread::sleep(std::time::Duration::from_millis(200));
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let health = srv.get(&format!("{PREFIX}/healthz"), &[]);
        assert_eq!(health.status, 200);
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_millis(500),
            "healthz took {took:?} during a transfer"
        );
    }
    assert_eq!(download.join().unwrap(), 256 << 20);
}
