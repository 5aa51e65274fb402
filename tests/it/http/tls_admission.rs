//! Admission of TLS handshakes against the running binary (`--tls`): a connection
//! whose handshake is refused must cost nobody else anything.

use crate::common::*;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// One keep-alive GET on `conn` (plain HTTP); `None` once the server closed it.
fn keep_alive_get(conn: &mut TcpStream) -> Option<u16> {
    conn.write_all(b"GET /x HTTP/1.1\r\nHost: router.lan\r\n\r\n")
        .ok()?;
    let mut probe = [0u8; 1];
    match conn.peek(&mut probe) {
        Ok(n) if n > 0 => Some(read_response(conn, false).status),
        _ => None,
    }
}

/// A full server evicts a connection for a newcomer only if it will serve the
/// newcomer: one whose handshake is then refused (its address already has 8 in
/// progress) must not have cost another client its keep-alive.
#[test]
fn a_refused_handshake_evicts_no_other_connection() {
    let dir = TempDir::new("tls-admission");
    let data = dir.data_dir();
    let srv = Server::start(
        &data,
        &[
            "--tls",
            "--redirect-http",
            // Another address than --listen's 127.0.0.1:0, as the CLI requires.
            "127.0.0.9:0",
            "--max-connections",
            "10",
        ],
    );
    let line = srv.wait_log("redirecting http://");
    let plain: SocketAddr = line
        .split("redirecting http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .expect("the redirect listener's address");
    // Someone's keep-alive, on the plain port of the same loop.
    let mut legit = connect_from(Ipv4Addr::new(127, 0, 0, 5), plain, None).unwrap();
    assert_eq!(keep_alive_get(&mut legit), Some(308));
    // 8 handshakes in progress (connected, nothing sent) from one address, and one
    // more connection from another: the server is full.
    let _stalled: Vec<TcpStream> = (0..8)
        .map(|_| connect_from(Ipv4Addr::new(127, 0, 0, 2), srv.addr, None).unwrap())
        .collect();
    let _other = connect_from(Ipv4Addr::new(127, 0, 0, 3), srv.addr, None).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Its ninth is refused: the server closes it unanswered.
    for _ in 0..3 {
        let mut ninth = connect_from(Ipv4Addr::new(127, 0, 0, 2), srv.addr, None).unwrap();
        let mut byte = [0u8; 1];
        assert!(
            matches!(ninth.read(&mut byte), Ok(0) | Err(_)),
            "a ninth handshake from one address is refused"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        keep_alive_get(&mut legit),
        Some(308),
        "the keep-alive of another address was closed for a refused handshake"
    );
}
