//! Pipelining against the real binary: requests sent back to back on one connection
//! (cookie `GET /`, bearer `GET /protected`, `GET /verify`, refusals, a large static
//! file) are answered in order, each byte for byte what it is when sent alone; and
//! the exact heads of protocol-error answers.

use crate::common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One response read off a connection that may carry more after it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wire {
    status: u16,
    /// The head with the `Date` value blanked, so two heads compare.
    head: String,
    body: Vec<u8>,
}

/// Reads the next response from `s`, keeping any bytes after it in `pending`.
fn next_response(s: &mut TcpStream, pending: &mut Vec<u8>) -> Wire {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "closed before a head: {:?}",
            String::from_utf8_lossy(pending)
        );
        pending.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(pending[..head_end].to_vec()).unwrap();
    let len: usize = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("every answer has a Content-Length")
        .parse()
        .unwrap();
    while pending.len() < head_end + len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed mid-body");
        pending.extend_from_slice(&chunk[..n]);
    }
    let body = pending[head_end..head_end + len].to_vec();
    pending.drain(..head_end + len);
    let status = head[9..12].parse().unwrap();
    let head = head
        .split("\r\n")
        .map(|l| match l.strip_prefix("Date: ") {
            Some(_) => "Date: -".to_owned(),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    Wire { status, head, body }
}

fn connect(srv: &Server) -> TcpStream {
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn get(path: &str, header: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: a\r\n{header}\r\n\r\n")
}

/// Each request alone on its own keep-alive connection.
fn alone(srv: &Server, request: &str) -> Wire {
    let mut s = connect(srv);
    s.write_all(request.as_bytes()).unwrap();
    next_response(&mut s, &mut Vec::new())
}

#[test]
fn pipelined_answers_come_in_order_and_match_single_answers() {
    let tmp = TempDir::new("pipelining");
    let data = tmp.data_dir();
    add_user(&data, "ops.admin", "pw-ops-1");
    let srv = Server::start(&data, &[]);
    let cookie = browser_login(&srv, "ops.admin", "pw-ops-1", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let token = api_token(&srv, "ops.admin", "pw-ops-1");

    let requests = [
        get("/", &format!("Cookie: {cookie}")),
        get("/protected", &format!("Authorization: JWT {token}")),
        get("/verify", &format!("Cookie: {cookie}")),
        get("/healthz", "Accept: */*"),
        get("/protected", &format!("Authorization: JWT {token}x")),
        get("/", "Cookie: latchkey_session=v1.nope"),
        get("/verify", "Accept: */*"),
        get("/", &format!("Cookie: theme=dark; {cookie}")),
        get("/protected", &format!("Authorization: Bearer  {token} ")),
    ];
    let singles: Vec<Wire> = requests.iter().map(|r| alone(&srv, r)).collect();

    let mut s = connect(&srv);
    s.write_all(requests.concat().as_bytes()).unwrap();
    let mut pending = Vec::new();
    let pipelined: Vec<Wire> = requests
        .iter()
        .map(|_| next_response(&mut s, &mut pending))
        .collect();
    assert!(pending.is_empty());
    // Same answers, byte for byte (the Date aside), whatever was answered before.
    assert_eq!(pipelined, singles);

    let statuses: Vec<u16> = pipelined.iter().map(|w| w.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 401, 302, 401, 200, 200]);
    let page = String::from_utf8(pipelined[0].body.clone()).unwrap();
    assert!(page.contains("<h1>Welcome, ops.admin!</h1>"), "{page}");
    assert_eq!(pipelined[7].body, pipelined[0].body);
    assert_eq!(
        pipelined[1].body,
        br#"{"identity":"ops.admin","username":"ops.admin"}"#
    );
    assert_eq!(pipelined[8].body, pipelined[1].body);
    assert!(pipelined[2].head.contains("\r\nRemote-User: ops.admin\r\n"));
    assert_eq!(
        pipelined[2].head,
        "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nRemote-User: ops.admin\r\n\
         Date: -\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        pipelined[0].head,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Security-Policy: {}\r\nX-Frame-Options: DENY\r\n\
             X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
             Cache-Control: no-store\r\nVary: Cookie\r\nDate: -\r\nContent-Length: {}\r\n\r\n",
            latchkey::internal::CSP,
            pipelined[0].body.len()
        )
    );
    let refused: serde_json::Value = serde_json::from_slice(&pipelined[4].body).unwrap();
    assert_eq!(refused["error"], "Invalid token");
    assert_eq!(refused["status_code"], 401);
}

#[test]
fn a_large_answer_between_small_ones_leaves_them_unchanged() {
    let tmp = TempDir::new("pipelining-big");
    let data = tmp.data_dir();
    add_user(&data, "admin", "pw-admin-1");
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    // Larger than the output buffer a connection keeps between answers (16 KiB).
    let big: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(site.join("big.txt"), &big).unwrap();
    let srv = Server::start(&data, &["--serve-dir", site.to_str().unwrap()]);
    let cookie = browser_login(&srv, "admin", "pw-admin-1", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let token = api_token(&srv, "admin", "pw-admin-1");

    let small = get("/protected", &format!("Authorization: JWT {token}"));
    let large = get("/big.txt", &format!("Cookie: {cookie}"));
    let verify = get("/verify", &format!("Cookie: {cookie}"));
    let mut s = connect(&srv);
    let mut pending = Vec::new();
    for round in 0..3 {
        s.write_all(
            [small.as_str(), &large, &verify, &small]
                .concat()
                .as_bytes(),
        )
        .unwrap();
        let answers: Vec<Wire> = (0..4)
            .map(|_| next_response(&mut s, &mut pending))
            .collect();
        assert_eq!(
            answers[0].body, br#"{"identity":"admin","username":"admin"}"#,
            "round {round}"
        );
        assert_eq!(answers[1].status, 200);
        assert_eq!(answers[1].body, big, "round {round}");
        assert!(answers[2].head.contains("\r\nRemote-User: admin\r\n"));
        assert_eq!(answers[3], answers[0], "round {round}");
    }
}

#[test]
fn protocol_error_answers_are_whole_and_close_the_connection() {
    let tmp = TempDir::new("pipelining-err");
    let data = tmp.data_dir();
    add_user(&data, "admin", "pw-admin-1");
    let srv = Server::start(&data, &[]);
    let mut s = connect(&srv);
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        .unwrap();
    let answer = next_response(&mut s, &mut Vec::new());
    assert_eq!(
        answer.head,
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Date: -\r\nContent-Length: 42\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        answer.body,
        b"400 Bad Request\n\nmissing or repeated host\n"
    );
    let mut s = connect(&srv);
    s.write_all(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let answer = next_response(&mut s, &mut Vec::new());
    assert!(
        answer
            .head
            .ends_with("\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n"),
        "{}",
        answer.head
    );
}
