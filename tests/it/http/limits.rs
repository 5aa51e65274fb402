//! The HTTP server under hostile clients: each test starts a real server on
//! 127.0.0.1:0, attacks it with raw sockets, checks the exact status line, and checks
//! that a normal request is still answered.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use latchkey::http::{Handler, Limits, Reply, Request, Response, Server, ShutdownHandle};

/// Answers `/` with "ok", echoes the path on `/p/...`, sets a CR/LF header on `/evil`,
/// and offloads a job that waits for the test's go-ahead on `/hash`.
struct TestHandler {
    started: Sender<()>,
    gate: Arc<Mutex<Receiver<()>>>,
}

impl Handler for TestHandler {
    type Done = &'static str;

    fn handle(&mut self, req: &Request<'_>) -> Reply<&'static str> {
        match req.path() {
            "/evil" => {
                Reply::Respond(Response::text(200, "evil").header("X-Evil", "a\r\nInjected: yes"))
            }
            "/hash" => {
                let started = self.started.clone();
                let gate = Arc::clone(&self.gate);
                Reply::offload(move || {
                    let _ = started.send(());
                    let _ = gate.lock().map(|gate| gate.recv());
                    "done"
                })
            }
            path if path.starts_with("/p/") => Reply::Respond(Response::text(200, path)),
            _ => Reply::Respond(Response::text(200, "ok")),
        }
    }

    fn complete(&mut self, done: &'static str) -> Response {
        Response::text(200, done)
    }
}

struct Running {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
    server: JoinHandle<io::Result<()>>,
    started: Receiver<()>,
    release: Sender<()>,
}

fn start(limits: Limits) -> Running {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), limits).unwrap();
    let addr = server.local_addr().unwrap();
    let shutdown = server.shutdown_handle();
    let (started_tx, started) = mpsc::channel();
    let (release, gate) = mpsc::channel();
    let handler = TestHandler {
        started: started_tx,
        gate: Arc::new(Mutex::new(gate)),
    };
    let server = thread::spawn(move || server.run(handler));
    Running {
        addr,
        shutdown,
        server,
        started,
        release,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Sends `raw` and reads until the server closes.
fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = connect(addr);
    stream.write_all(raw).unwrap();
    read_all(&mut stream)
}

fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_normal_request_answered(addr: SocketAddr) {
    let answer = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
}

fn status_line(answer: &str) -> &str {
    answer.split("\r\n").next().unwrap_or_default()
}

#[test]
fn huge_content_length_is_413_without_allocating_it() {
    let server = start(Limits::default());
    let answer = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000000000\r\n\r\nabc",
    );
    assert_eq!(status_line(&answer), "HTTP/1.1 413 Content Too Large");
    assert!(answer.contains("Connection: close\r\n"));
    assert_normal_request_answered(server.addr);
}

#[test]
fn short_body_held_open_does_not_stall_other_clients() {
    let server = start(Limits::default());
    let mut holder = connect(server.addr);
    holder
        .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    assert_normal_request_answered(server.addr);
    // The held request is still waiting for its body; finishing it gets its answer.
    holder.write_all(b"defghij").unwrap();
    let mut first = [0u8; 17];
    holder.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
}

#[test]
fn four_hundred_slowloris_sockets_do_not_starve_a_normal_client() {
    let limits = Limits {
        max_connections_per_ip: 2000,
        ..Limits::default()
    };
    let server = start(limits);
    let mut slow: Vec<TcpStream> = (0..400).map(|_| connect(server.addr)).collect();
    for stream in &mut slow {
        stream.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    }
    assert_normal_request_answered(server.addr);
    for stream in &mut slow {
        stream.write_all(b"s").unwrap();
    }
    assert_normal_request_answered(server.addr);
}

/// Writes `raw` from another thread (the server may stop reading and close early).
fn flood(addr: SocketAddr, raw: Vec<u8>) -> (TcpStream, JoinHandle<()>) {
    let stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let handle = thread::spawn(move || {
        let _ = writer.write_all(&raw);
    });
    (stream, handle)
}

#[test]
fn ten_mib_header_line_is_431() {
    let server = start(Limits::default());
    let mut raw = b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: ".to_vec();
    raw.resize(raw.len() + 10 * 1024 * 1024, b'a');
    raw.extend_from_slice(b"\r\n\r\n");
    let (mut stream, writer) = flood(server.addr, raw);
    let answer = read_all(&mut stream);
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    drop(stream);
    let _ = writer.join();
    assert_normal_request_answered(server.addr);
}

#[test]
fn ten_thousand_headers_are_431() {
    let server = start(Limits::default());
    let mut raw = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..10_000 {
        raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let (mut stream, writer) = flood(server.addr, raw);
    let answer = read_all(&mut stream);
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    drop(stream);
    let _ = writer.join();
    assert_normal_request_answered(server.addr);
}

#[test]
fn more_than_max_headers_is_431() {
    let server = start(Limits::default());
    let mut raw = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..64 {
        raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let answer = exchange(server.addr, &raw);
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_normal_request_answered(server.addr);
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let server = start(Limits::default());
    let answer = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(status_line(&answer), "HTTP/1.1 400 Bad Request");
    assert!(
        answer.ends_with("\n\ncontent-length with transfer-encoding\n"),
        "{answer}"
    );
    assert_normal_request_answered(server.addr);
}

#[test]
fn two_different_content_lengths_are_400() {
    let server = start(Limits::default());
    let answer = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
    );
    assert_eq!(status_line(&answer), "HTTP/1.1 400 Bad Request");
    assert!(
        answer.ends_with("400 Bad Request\n\nconflicting content-length\n"),
        "{answer}"
    );
    assert_normal_request_answered(server.addr);
}

#[test]
fn chunked_body_is_411() {
    let server = start(Limits::default());
    let answer = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(status_line(&answer), "HTTP/1.1 411 Length Required");
    assert_normal_request_answered(server.addr);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start(Limits::default());
    let answer = exchange(
        server.addr,
        b"GET /p/one HTTP/1.1\r\nHost: t\r\n\r\nPOST /p/two HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxyGET /p/three HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let one = answer.find("\r\n\r\n/p/one").unwrap();
    let two = answer.find("\r\n\r\n/p/two").unwrap();
    let three = answer.find("\r\n\r\n/p/three").unwrap();
    assert!(one < two && two < three, "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 3);
    assert_normal_request_answered(server.addr);
}

#[test]
fn http11_needs_exactly_one_host() {
    let server = start(Limits::default());
    for raw in [
        b"GET / HTTP/1.1\r\n\r\n".as_slice(),
        b"GET / HTTP/1.1\r\nHost: t\r\nhost: u\r\n\r\n",
    ] {
        let answer = exchange(server.addr, raw);
        assert_eq!(status_line(&answer), "HTTP/1.1 400 Bad Request", "{answer}");
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\n400 Bad Request\n\nmissing or repeated host\n"));
    }
    // HTTP/1.0 predates Host: it may leave it out.
    let answer = exchange(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    assert_normal_request_answered(server.addr);
}

#[test]
fn a_closing_error_is_read_whole_while_the_client_still_sends() {
    let server = start(Limits::default());
    let mut stream = connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    // A body far over the limit keeps coming after the 413: the server drains it
    // (lingers) instead of closing on unread input, which would reset the
    // connection and could destroy the answer before the client reads it.
    let sender = thread::spawn(move || {
        let head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n";
        let _ = writer.write_all(head);
        let chunk = [b'x'; 16 * 1024];
        for _ in 0..32 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{e} after {:?}", String::from_utf8_lossy(&answer)),
        }
    }
    sender.join().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_line(&answer), "HTTP/1.1 413 Content Too Large");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n413 Content Too Large\n\nrequest body too large\n"));
    assert_normal_request_answered(server.addr);
}

#[test]
fn http10_closes_after_the_response() {
    let server = start(Limits::default());
    // read_to_end returning at all shows the server closed the connection.
    let answer = exchange(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    assert!(answer.contains("Connection: close\r\n"));
    assert_normal_request_answered(server.addr);
}

#[test]
fn head_has_content_length_but_no_body() {
    let server = start(Limits::default());
    let answer = exchange(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    assert!(answer.contains("Content-Length: 2\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "{answer}");
    assert_normal_request_answered(server.addr);
}

#[test]
fn header_with_crlf_from_the_handler_is_not_emitted() {
    let server = start(Limits::default());
    let answer = exchange(
        server.addr,
        b"GET /evil HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_line(&answer), "HTTP/1.1 500 Internal Server Error");
    assert!(!answer.contains("Injected"), "{answer}");
    assert!(!answer.contains("X-Evil"), "{answer}");
    assert_normal_request_answered(server.addr);
}

#[test]
fn request_deadline_answers_408() {
    let limits = Limits {
        request_deadline: Duration::from_secs(1),
        ..Limits::default()
    };
    let server = start(limits);
    let answer = exchange(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n");
    assert_eq!(status_line(&answer), "HTTP/1.1 408 Request Timeout");
    assert_normal_request_answered(server.addr);
}

#[test]
fn full_offload_queue_answers_503_while_plain_requests_are_served() {
    let limits = Limits {
        offload_queue: 1,
        ..Limits::default()
    };
    let server = start(limits);
    let hash = b"POST /hash HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let mut first = connect(server.addr);
    first.write_all(hash).unwrap();
    server
        .started
        .recv_timeout(Duration::from_secs(10))
        .unwrap(); // worker is now busy
    let mut second = connect(server.addr);
    second.write_all(hash).unwrap(); // fills the one queue slot
    thread::sleep(Duration::from_millis(100)); // let the loop queue it before the third
    let third = exchange(server.addr, hash);
    assert_eq!(status_line(&third), "HTTP/1.1 503 Service Unavailable");
    assert!(third.contains("Retry-After: 1\r\n"), "{third}");
    assert_normal_request_answered(server.addr);
    server.release.send(()).unwrap();
    server.release.send(()).unwrap();
    for stream in [&mut first, &mut second] {
        let answer = read_all(stream);
        assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
        assert!(answer.ends_with("\r\n\r\ndone"), "{answer}");
    }
}

#[test]
fn shutdown_finishes_the_in_flight_request_and_returns() {
    let server = start(Limits::default());
    let mut client = connect(server.addr);
    client
        .write_all(b"POST /hash HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    server
        .started
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    server.shutdown.shutdown();
    server.release.send(()).unwrap();
    let answer = read_all(&mut client);
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    assert!(server.server.join().unwrap().is_ok());
}

#[test]
fn per_ip_cap_refuses_extra_connections_when_all_are_busy() {
    let limits = Limits {
        max_connections_per_ip: 2,
        ..Limits::default()
    };
    let server = start(limits);
    // Each held connection is mid-request, so none of them may be given up.
    let held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = connect(server.addr);
            c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
            c
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    let mut extra = connect(server.addr);
    let _ = extra.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = extra.read_to_end(&mut out);
    assert!(out.is_empty(), "refused connection got an answer");
    drop(held);
    thread::sleep(Duration::from_millis(100));
    assert_normal_request_answered(server.addr);
}

#[test]
fn per_ip_cap_closes_that_addresses_oldest_idle_connection_for_a_new_one() {
    let limits = Limits {
        max_connections_per_ip: 2,
        ..Limits::default()
    };
    let server = start(limits);
    // The oldest is an idle keep-alive after one answer; the other is mid-request.
    let mut oldest = connect(server.addr);
    oldest
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut answer = vec![0u8; 512];
    let n = oldest.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    thread::sleep(Duration::from_millis(50));
    let mut busy = connect(server.addr);
    busy.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    thread::sleep(Duration::from_millis(100));
    // A third connection from the same address is served...
    assert_normal_request_answered(server.addr);
    // ...in place of the idle one, closed without a word; the busy one is kept.
    assert_eq!(read_all(&mut oldest), "");
    busy.write_all(b"Connection: close\r\n\r\n").unwrap();
    assert_eq!(status_line(&read_all(&mut busy)), "HTTP/1.1 200 OK");
}

#[test]
fn idle_keep_alive_connection_is_closed_silently() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let server = start(limits);
    let mut client = connect(server.addr);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut answer = vec![0u8; 512];
    let n = client.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    // After the idle timeout the server closes without writing anything more.
    assert_eq!(read_all(&mut client), "");
    assert_normal_request_answered(server.addr);
}

#[test]
fn full_server_closes_the_oldest_idle_connection_for_a_new_one() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let server = start(limits);
    let mut idle = connect(server.addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut answer = vec![0u8; 512];
    let n = idle.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    let mut busy = connect(server.addr);
    busy.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    thread::sleep(Duration::from_millis(100));
    assert_normal_request_answered(server.addr);
    assert_eq!(
        read_all(&mut idle),
        "",
        "the idle connection was not the one closed"
    );
    busy.write_all(b"Connection: close\r\n\r\n").unwrap();
    assert_eq!(status_line(&read_all(&mut busy)), "HTTP/1.1 200 OK");
}

#[test]
fn body_at_the_limit_is_read_one_byte_more_is_413() {
    let server = start(Limits::default());
    let limit = latchkey::http::limits::MAX_BODY_BYTES;
    let mut raw = format!(
        "POST /p/big HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {limit}\r\n\r\n"
    )
    .into_bytes();
    raw.resize(raw.len() + limit, b'a');
    let answer = exchange(server.addr, &raw);
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    assert!(answer.ends_with("\r\n\r\n/p/big"), "{answer}");
    let over = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        limit + 1
    );
    let answer = exchange(server.addr, over.as_bytes());
    assert_eq!(status_line(&answer), "HTTP/1.1 413 Content Too Large");
    assert_normal_request_answered(server.addr);
}

#[test]
fn expect_continue_gets_an_interim_answer() {
    let server = start(Limits::default());
    let mut client = connect(server.addr);
    client
        .write_all(b"POST /p/e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut interim = [0u8; 25];
    client.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    client.write_all(b"abc").unwrap();
    assert_eq!(status_line(&read_all(&mut client)), "HTTP/1.1 200 OK");
}

#[test]
fn pipelining_client_that_reads_late_still_gets_every_answer() {
    let server = start(Limits::default());
    const REQUESTS: usize = 20_000;
    let mut raw = Vec::new();
    for _ in 0..REQUESTS {
        raw.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    // The writer blocks once the server stops reading (its output is capped) and the
    // kernel buffers are full; it resumes as this thread reads.
    let (mut stream, writer) = flood(server.addr, raw);
    thread::sleep(Duration::from_millis(200));
    let mut answered = 0;
    let mut carry = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while answered < REQUESTS {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "closed after {answered} answers");
        carry.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&carry).into_owned();
        let complete = text.rfind("\r\n\r\nok").map_or(0, |end| end + 6);
        answered += text[..complete].matches("HTTP/1.1 200 OK\r\n").count();
        carry.drain(..complete);
    }
    assert_eq!(answered, REQUESTS);
    writer.join().unwrap();
    assert_normal_request_answered(server.addr);
}
