//! Connection exhaustion against the running binary: idle keep-alives holding every
//! descriptor, a few addresses holding half-sent requests, and a full server, must
//! neither lock out a fresh client, nor keep a user deleted or a session revoked with
//! the CLI working, nor cut a response that is being read.

use crate::common::*;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// `latchkey serve` as `Server::start` runs it, under a soft and hard open-file limit
/// of `nofile` (as systemd's `LimitNOFILE=` sets it), through `sh -c 'ulimit -n'`.
fn start_with_nofile(data: &Path, nofile: u32, extra: &[&str]) -> Server {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra);
    Server::spawn(command)
}

/// The lowest descriptor number process `pid` has free: with the soft open-file limit
/// set to it, no new descriptor can be had (a new one takes the lowest free number,
/// which must be below the limit), whatever stray descriptors it inherited above.
fn lowest_free_descriptor(pid: u32) -> usize {
    let numbers: Vec<usize> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !numbers.contains(n)).unwrap()
}

/// Sets process `pid`'s open-file limit as an administrator would, with prlimit(1).
fn set_nofile(pid: u32, soft: usize, hard: usize) {
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={soft}:{hard}"),
        ])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit failed");
}

/// CPU time process `pid` has used, in clock ticks (proc(5): `utime` + `stime`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the parenthesised command name; utime and stime are the 14th
    // and 15th of the line, so the 12th and 13th after it.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// One keep-alive GET on `conn`; `None` if the connection is gone (closed to make
/// room, or never accepted within the read timeout).
fn keep_alive_get(conn: &mut TcpStream, path: &str, header: (&str, &str)) -> Option<u16> {
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\n{}: {}\r\n\r\n",
        header.0, header.1
    );
    conn.write_all(head.as_bytes()).ok()?;
    // `read_response` asserts on a closed connection; catch that as "gone".
    let mut probe = [0u8; 1];
    match conn.peek(&mut probe) {
        Ok(n) if n > 0 => Some(read_response(conn, false).status),
        _ => None,
    }
}

/// As an attacker holding a connection would ask: on `held` while the server keeps
/// it, else on a new connection (which replaces `held`).
fn ask(srv: &Server, held: &mut TcpStream, path: &str, header: (&str, &str)) -> u16 {
    if let Some(status) = keep_alive_get(held, path, header) {
        return status;
    }
    *held = connect_from(Ipv4Addr::LOCALHOST, srv.addr, None).unwrap();
    keep_alive_get(held, path, header).expect("a new connection is answered")
}

/// The fastest of three fresh `GET /login` from 127.0.0.1, each of which must be
/// answered with the login page.
fn fastest_login_page(srv: &Server) -> Duration {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let page = srv.get("/login", &[]);
            let took = started.elapsed();
            assert_eq!(page.status, 200);
            assert!(page.text().contains("name=\"password\""), "{}", page.text());
            took
        })
        .min()
        .unwrap()
}

#[test]
fn cli_changes_take_effect_while_idle_connections_hold_every_descriptor() {
    let tmp = TempDir::new("conns-nofile");
    let data = tmp.data_dir();
    let dd = data.to_str().unwrap();
    add_user(&data, "bob", "pw-bob-1234");
    add_user(&data, "alice", "pw-alice-123");
    // 64 descriptors: the connection cap must drop to 64 less the reserve.
    let srv = start_with_nofile(&data, 64, &[]);
    let cookie = browser_login(&srv, "bob", "pw-bob-1234", false, None)
        .cookie_pair("latchkey_session")
        .expect("session cookie");
    let bearer = format!("JWT {}", api_token(&srv, "alice", "pw-alice-123"));
    let as_bob = ("Cookie", cookie.as_str());
    let as_alice = ("Authorization", bearer.as_str());

    // The attacker's keep-alive connection, logged in as bob.
    let mut held = connect_from(Ipv4Addr::LOCALHOST, srv.addr, None).unwrap();
    assert_eq!(ask(&srv, &mut held, "/", as_bob), 200);
    // 100 more idle keep-alive connections: more than there are descriptors.
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut c = TcpStream::connect(srv.addr).unwrap();
            let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
            c
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(ask(&srv, &mut held, "/", as_bob), 200);
    assert_eq!(ask(&srv, &mut held, "/protected", as_alice), 200);

    let r = cli(&["user", "del", "bob", "--data-dir", dd], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = cli(&["session", "revoke-all", "alice", "--data-dir", dd], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let changed = Instant::now();
    // Both take effect within 2 s, on the connection the attacker holds.
    for (path, header) in [("/", as_bob), ("/protected", as_alice)] {
        while ask(&srv, &mut held, path, header) == 200 {
            assert!(
                changed.elapsed() < Duration::from_secs(2),
                "{path} with {} still accepted 2 s after the CLI changed it; log: {:?}",
                header.0,
                srv.log_lines()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
    // And a fresh client still gets an answer.
    assert_eq!(srv.get("/healthz", &[]).text(), "ok\n");
    drop(idle);
}

#[test]
fn four_addresses_of_half_sent_requests_do_not_lock_out_a_fresh_client() {
    let tmp = TempDir::new("conns-addresses");
    let data = tmp.data_dir();
    let srv = Server::start(&data, &[]);
    // 4 addresses x 256 half-sent requests: as many as the default global cap.
    let mut held = Vec::new();
    for last in 2..=5 {
        let from = Ipv4Addr::new(127, 0, 0, last);
        for _ in 0..256 {
            let mut c = connect_from(from, srv.addr, None).unwrap();
            let _ = c.write_all(b"GET /login HTTP/1.1\r\nHost: t\r\nX-Slow: ");
            held.push(c);
        }
    }
    thread::sleep(Duration::from_millis(300));
    let took = fastest_login_page(&srv);
    assert!(
        took < Duration::from_millis(100),
        "login page took {took:?}"
    );
    drop(held);
}

#[test]
fn a_full_server_gives_up_the_slowest_request_not_a_response_being_read() {
    let tmp = TempDir::new("conns-full");
    let data = tmp.data_dir();
    add_user(&data, "reader", "pw-reader-12");
    let site = tmp.path().join("site");
    std::fs::create_dir(&site).unwrap();
    // The largest file served, twice Linux's largest send buffer by default
    // (net.ipv4.tcp_wmem, 4 MiB): half of the answer stays queued in the server while
    // the reader pauses.
    let size = latchkey::internal::MAX_FILE_SIZE as u32;
    let big: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(site.join("big.bin"), &big).unwrap();
    let srv = Server::start(
        &data,
        &[
            "--max-connections",
            "64",
            "--serve-dir",
            site.to_str().unwrap(),
        ],
    );
    let cookie = browser_login(&srv, "reader", "pw-reader-12", false, None)
        .cookie_pair("latchkey_session")
        .expect("session cookie");

    // A legitimate download, read slowly: only its first bytes so far.
    let mut reader = connect_from(Ipv4Addr::LOCALHOST, srv.addr, Some(4096)).unwrap();
    reader
        .write_all(
            format!("GET /big.bin HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut received = vec![0u8; 1024];
    reader.read_exact(&mut received).unwrap();

    // 4 addresses at their cap of half-sent requests, more than the server holds.
    let mut held = Vec::new();
    for last in 2..=5 {
        let from = Ipv4Addr::new(127, 0, 0, last);
        for _ in 0..32 {
            let mut c = connect_from(from, srv.addr, None).unwrap();
            let _ = c.write_all(b"GET /login HTTP/1.1\r\nHost: t\r\nX-Slow: ");
            held.push(c);
        }
    }
    thread::sleep(Duration::from_millis(300));
    let took = fastest_login_page(&srv);
    assert!(
        took < Duration::from_millis(100),
        "login page took {took:?}"
    );

    // The download was not cut: every byte arrives, in order.
    let mut rest = Vec::new();
    reader
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = reader.read(&mut chunk).unwrap();
        assert!(n > 0, "closed in the head");
        received.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", big.len())),
        "{head}"
    );
    rest.extend_from_slice(&received[head_end..]);
    while rest.len() < big.len() {
        let n = reader.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "download cut after {} of {} bytes",
            rest.len(),
            big.len()
        );
        rest.extend_from_slice(&chunk[..n]);
    }
    assert!(rest == big, "download corrupted");
    drop(held);
}

#[test]
fn out_of_descriptors_at_accept_gives_up_an_idle_connection() {
    let tmp = TempDir::new("conns-emfile");
    let data = tmp.data_dir();
    let srv = start_with_nofile(&data, 64, &[]);
    let pid = srv.pid();
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut c = connect_from(Ipv4Addr::LOCALHOST, srv.addr, None).unwrap();
            assert_eq!(
                keep_alive_get(&mut c, "/healthz", ("Accept", "*/*")),
                Some(200)
            );
            c
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    // The limit lowered (at run time, below the connection cap) to what is open.
    set_nofile(pid, lowest_free_descriptor(pid), 64);
    let started = Instant::now();
    assert_eq!(srv.get("/healthz", &[]).text(), "ok\n");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    // The connection idle the longest made room.
    let mut rest = Vec::new();
    assert_eq!(idle[0].read_to_end(&mut rest).unwrap_or(0), 0);
    drop(idle);
}

#[test]
fn a_server_out_of_descriptors_backs_off_without_spinning_and_recovers() {
    let tmp = TempDir::new("conns-backoff");
    let data = tmp.data_dir();
    let srv = start_with_nofile(&data, 64, &[]);
    let pid = srv.pid();
    thread::sleep(Duration::from_millis(100));
    // Not one descriptor left, and no connection to give up.
    set_nofile(pid, lowest_free_descriptor(pid), 64);
    let mut waiting: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = connect_from(Ipv4Addr::LOCALHOST, srv.addr, None).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            c
        })
        .collect();
    let before = cpu_ticks(pid);
    thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    // A loop retrying the backlog on every wake-up would use most of a core.
    assert!(
        used < 20,
        "{used} clock ticks of CPU in 1 s while out of descriptors"
    );
    // Descriptors again: every waiting client is answered, none was lost.
    set_nofile(pid, 64, 64);
    for c in &mut waiting {
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let answer = read_response(c, false);
        assert_eq!((answer.status, answer.text().as_str()), (200, "ok\n"));
    }
}
