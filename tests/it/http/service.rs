//! The HTTP limits against the running binary: every malicious request gets its
//! precise answer and the server keeps answering a legitimate client.

use crate::common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// Sends `bytes` on a fresh connection (a write the server cuts short is fine) and
/// returns what comes back up to the end of the first response head.
fn raw(srv: &Server, bytes: &[u8]) -> String {
    let mut conn = Conn::open(srv.addr);
    conn.stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = conn.stream.write_all(bytes);
    conn.raw_head()
}

fn status_of(resp: &str) -> &str {
    resp.split(' ').nth(1).unwrap_or("")
}

fn still_serving(srv: &Server) {
    assert_eq!(srv.get("/healthz", &[]).text(), "ok\n");
}

#[test]
fn limits_hold_and_the_server_keeps_answering() {
    let tmp = TempDir::new("http");
    let data = tmp.data_dir();
    add_user(&data, "u", "pw-u-12345");
    let srv = Server::start(&data, &["--max-connections-per-ip", "2000"]);

    let r = raw(
        &srv,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000\r\n\r\nabc",
    );
    assert_eq!(status_of(&r), "413", "{r}");
    still_serving(&srv);

    let r = raw(&srv, b"POST /auth HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(status_of(&r), "400", "{r}");
    let r = raw(
        &srv,
        b"POST /auth HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    );
    assert_eq!(status_of(&r), "400", "{r}");
    still_serving(&srv);

    // A 10 MiB header line: refused long before it is all read.
    let mut huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let r = raw(&srv, &huge);
    assert_eq!(status_of(&r), "431", "{}", &r[..r.len().min(200)]);
    still_serving(&srv);

    // 10,000 headers.
    let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..10_000 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(status_of(&raw(&srv, &many)), "431");
    still_serving(&srv);

    // A short body held open does not stall anyone else.
    let mut held = TcpStream::connect(srv.addr).unwrap();
    held.write_all(b"POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"a\"").unwrap();
    still_serving(&srv);

    // 400 slowloris sockets, each trickling a partial head.
    let mut slow: Vec<TcpStream> = (0..400)
        .map(|_| {
            let mut s = TcpStream::connect(srv.addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
            s
        })
        .collect();
    still_serving(&srv);
    for s in slow.iter_mut().take(50) {
        let _ = s.write_all(b"s");
    }
    still_serving(&srv);
    drop(slow);
    drop(held);
    still_serving(&srv);
}
