//! What is not a TLS client on the TLS port: a plain-HTTP request and garbage are closed
//! at once, not left holding a handshake slot, and a client that connects and says
//! nothing (or stops halfway through its ClientHello) is dropped at the handshake
//! deadline (10 s), while everyone else is served.

use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long after `started` the server closed `stream` (end of stream or a reset), or
/// `None` if it was still open at `started + limit`. Whatever the server sent first (an
/// alert, a plain-HTTP 400) is read and dropped.
fn closed_after(stream: &mut TcpStream, started: Instant, limit: Duration) -> Option<Duration> {
    let mut buf = [0u8; 4096];
    loop {
        let left = (started + limit).saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}

/// A TLS client that still gets the login page.
fn served(srv: &Server) {
    let page = srv.get("/login", &[]);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(is_login_page(&page.text()));
}

/// Well under the handshake deadline: what is closed by then was closed for what it
/// sent, not for running out of time.
const PROMPTLY: Duration = Duration::from_secs(3);

#[test]
fn plain_http_and_garbage_on_the_tls_port_are_closed_at_once_without_using_up_a_slot() {
    let (_tmp, srv) = start_tls(&[]);
    let payloads: [&[u8]; 5] = [
        b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nuser",
        b"\x00\x01\x02\x03\xff\xfe\xfd\xfcgarbage\r\n\r\n\r\n",
        // A TLS record header with a content type that does not exist (RFC 8446 §5.1).
        b"\x63\x03\x01\x00\x10AAAAAAAAAAAAAAAA",
        // A handshake record announcing a length over the 2^14 + 2048 limit (§5.2).
        b"\x16\x03\x01\xff\xffAAAAAAAAAAAAAAAA",
    ];
    // 50 at once, so that were they kept they would hold every slot there is (8 per
    // address, 64 in all): from 127.0.0.1, which latchkey does not cap per address.
    let mut streams: Vec<(usize, TcpStream)> = (0..50)
        .map(|i| (i % payloads.len(), TcpStream::connect(srv.addr).unwrap()))
        .collect();
    let started = Instant::now();
    for (which, stream) in &mut streams {
        stream.write_all(payloads[*which]).unwrap();
    }
    for (which, stream) in &mut streams {
        let took = closed_after(stream, started, PROMPTLY);
        assert!(
            took.is_some(),
            "{:?} was still open {PROMPTLY:?} after it was sent",
            String::from_utf8_lossy(payloads[*which])
        );
    }
    served(&srv);
    // And again, so that what the first round left behind (if anything) shows.
    for payload in payloads {
        let mut stream = TcpStream::connect(srv.addr).unwrap();
        let started = Instant::now();
        stream.write_all(payload).unwrap();
        assert!(
            closed_after(&mut stream, started, PROMPTLY).is_some(),
            "{:?} not closed promptly",
            String::from_utf8_lossy(payload)
        );
    }
    served(&srv);
}

/// The first bytes of a real ClientHello, as a client that stalls halfway through it
/// would have sent them.
fn half_a_client_hello(srv: &Server) -> Vec<u8> {
    // Capture what our client sends first by running it against a listener of our own.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = srv.tls.clone();
    let client = std::thread::spawn(move || {
        let _ = Conn::try_open_over(addr, tls.as_ref());
    });
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut hello = vec![0u8; 4096];
    let n = peer.read(&mut hello).unwrap();
    drop(peer);
    client.join().unwrap();
    assert!(n > 20 && hello[0] == 0x16, "a ClientHello record");
    hello.truncate(n / 2);
    hello
}

#[test]
fn a_client_that_stalls_before_or_during_the_handshake_is_dropped_at_the_deadline() {
    let (_tmp, srv) = start_tls(&[]);
    let half = half_a_client_hello(&srv);
    let mut silent = TcpStream::connect(srv.addr).unwrap();
    let mut stalled = TcpStream::connect(srv.addr).unwrap();
    stalled.write_all(&half).unwrap();
    let started = Instant::now();

    // Meanwhile the server serves others.
    served(&srv);

    // The deadline is 10 s; a loaded machine gets 5 s of slack.
    let limit = Duration::from_secs(15);
    for (what, stream) in [("silent", &mut silent), ("stalled", &mut stalled)] {
        let took = closed_after(stream, started, limit)
            .unwrap_or_else(|| panic!("a {what} client was still connected after {limit:?}"));
        assert!(
            took >= Duration::from_secs(8),
            "a {what} client was dropped after {took:?}, before the 10 s deadline"
        );
    }
    served(&srv);
}
