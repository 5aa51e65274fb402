//! Security review of `serve --upstream` (issue 16, stages 1 and 2): attacks on the
//! reverse proxy against the real binary, with hostile clients and hostile or buggy
//! applications started here.
//!
//! A test without `#[ignore]` is a regression guard: the attack fails today and must
//! keep failing. A test marked `#[ignore = "FINDING ..."]` demonstrates a weakness: it
//! fails today and passes once the weakness is fixed (then drop the `ignore`).

use crate::common::*;
use crate::proxy::{PREFIX, USER, logged_in, raw_request, start_proxy, token};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------
// A scriptable application: keep-alive, one thread per connection, each request's
// head recorded, the answer written by the test's own closure (raw bytes, any framing).
// ---------------------------------------------------------------------------------

/// One request as the application read it (head only; the closure reads any body).
struct Seen {
    method: String,
    path: String,
    head: String,
}

impl Seen {
    fn header(&self, name: &str) -> Vec<String> {
        echoed_header(&self.head, name)
    }
}

/// What the closure says after answering: keep reading requests on this connection
/// or close it.
#[derive(PartialEq, Eq)]
enum Then {
    KeepOpen,
    Close,
}

type Script = dyn Fn(&Seen, &mut BufReader<TcpStream>) -> Then + Send + Sync;

struct ScriptedApp {
    port: u16,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl ScriptedApp {
    fn start(
        script: impl Fn(&Seen, &mut BufReader<TcpStream>) -> Then + Send + Sync + 'static,
    ) -> Self {
        let script: Arc<Script> = Arc::new(script);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (conns, log) = (Arc::clone(&connections), Arc::clone(&heads));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                conns.fetch_add(1, Ordering::SeqCst);
                let (script, log) = (Arc::clone(&script), Arc::clone(&log));
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut reader = BufReader::new(stream);
                    while let Some(seen) = read_head(&mut reader) {
                        log.lock().unwrap().push(seen.head.clone());
                        if script(&seen, &mut reader) == Then::Close {
                            return;
                        }
                    }
                });
            }
        });
        ScriptedApp {
            port,
            connections,
            heads,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    fn served(&self) -> usize {
        self.heads.lock().unwrap().len()
    }
}

fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut parts = head.split(' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let path = target.split('?').next().unwrap_or("").to_owned();
    Some(Seen { method, path, head })
}

/// Reads the body the head announces (Content-Length or chunked).
fn read_body(seen: &Seen, reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut body = Vec::new();
    if seen
        .header("transfer-encoding")
        .iter()
        .any(|te| te.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return body;
            }
            let size =
                usize::from_str_radix(line.trim_end().split(';').next().unwrap(), 16).unwrap_or(0);
            if size == 0 {
                let mut end = String::new();
                while reader.read_line(&mut end).unwrap_or(0) > 0 && end != "\r\n" {
                    end.clear();
                }
                return body;
            }
            let mut chunk = vec![0; size + 2];
            if reader.read_exact(&mut chunk).is_err() {
                return body;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    if let Some(len) = seen.header("content-length").first() {
        body = vec![0; len.parse().unwrap_or(0)];
        let _ = reader.read_exact(&mut body);
    }
    body
}

/// A keep-alive answer with a body.
fn ok(reader: &mut BufReader<TcpStream>, body: &str) -> Then {
    let out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match reader.get_mut().write_all(out.as_bytes()) {
        Ok(()) => Then::KeepOpen,
        Err(_) => Then::Close,
    }
}

fn send_raw(reader: &mut BufReader<TcpStream>, bytes: &[u8]) -> Then {
    let _ = reader.get_mut().write_all(bytes);
    Then::KeepOpen
}

// ---------------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------------

fn bearer(srv: &Server) -> String {
    format!("Bearer {}", token(srv))
}

fn raw_get(path: &str, auth: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n{extra}\r\n")
}

/// latchkey's resident set, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Whatever the server sends until it closes the connection (or `wait` passes).
fn read_all(stream: &mut TcpStream, wait: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}

/// Where a browser goes for a `Location` on the page `http://pi.lan/x` (WHATWG URL
/// parsing, as far as it matters here: ASCII tab and newlines are removed, `\` counts
/// as `/` in http URLs, `//` starts an authority). `None` when it stays on pi.lan.
fn foreign_host(location: &str) -> Option<String> {
    let cleaned: String = location
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    let rest = cleaned
        .strip_prefix("//")
        .or_else(|| cleaned.strip_prefix("http://"))
        .or_else(|| cleaned.strip_prefix("https://"))?;
    let host = rest.trim_start_matches('/').split(['/', '?', '#']).next()?;
    (host != "pi.lan").then(|| host.to_owned())
}

// ===================================================================================
// Request smuggling between the client and the application.
// ===================================================================================

/// Every framing a front-end and a back-end have disagreed on is refused outright on a
/// proxied route, before anything reaches the application.
#[test]
fn ambiguous_request_framing_never_reaches_the_app() {
    let app = ScriptedApp::start(|seen, r| {
        let body = read_body(seen, r);
        ok(r, &format!("len={}", body.len()))
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let pre = format!("POST /api/x HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n");
    for (label, head_rest, body) in [
        (
            "CL+TE",
            "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
            "0\r\n\r\n",
        ),
        (
            "TE+CL",
            "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
            "0\r\n\r\n",
        ),
        (
            "CL,CL",
            "Content-Length: 4\r\nContent-Length: 5\r\n",
            "abcde",
        ),
        (
            "CL,CL equal",
            "Content-Length: 4\r\nContent-Length: 4\r\n",
            "abcd",
        ),
        ("CL list", "Content-Length: 4, 4\r\n", "abcd"),
        ("CL sign", "Content-Length: +4\r\n", "abcd"),
        ("CL hex", "Content-Length: 0x4\r\n", "abcd"),
        (
            "TE twice",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "0\r\n\r\n",
        ),
        (
            "TE list",
            "Transfer-Encoding: gzip, chunked\r\n",
            "0\r\n\r\n",
        ),
        (
            "TE xchunked",
            "Transfer-Encoding: xchunked\r\n",
            "0\r\n\r\n",
        ),
        (
            "TE chunked,",
            "Transfer-Encoding: chunked,\r\n",
            "0\r\n\r\n",
        ),
        ("TE identity", "Transfer-Encoding: identity\r\n", ""),
        (
            "space before colon",
            "Transfer-Encoding : chunked\r\n",
            "0\r\n\r\n",
        ),
        (
            "obs-fold",
            "X-A: 1\r\n Transfer-Encoding: chunked\r\n",
            "0\r\n\r\n",
        ),
        (
            "obs-fold TE",
            "Transfer-Encoding:\r\n chunked\r\n",
            "0\r\n\r\n",
        ),
        ("NUL in value", "X-A: a\0b\r\nContent-Length: 0\r\n", ""),
        ("bare CR", "X-A: a\rContent-Length: 0\r\n", ""),
    ] {
        let raw = format!("{pre}{head_rest}\r\n{body}");
        let mut conn = Conn::open(srv.addr);
        conn.send(raw.as_bytes());
        let head = conn.raw_head();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(
            (400..=599).contains(&status) && status != 502,
            "{label}: {head:?}"
        );
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{label}: {head:?}"
        );
    }
    // Chunked in HTTP/1.0 (RFC 9112 §6.1), on a proxied route.
    let r = raw_request(
        srv.addr,
        format!("POST /api/x HTTP/1.0\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(app.served(), 0, "{:?}", app.requests());
}

/// A chunked body is decoded strictly and re-framed: the framing tricks that made two
/// decoders disagree are refused, and nothing of them reaches the application.
#[test]
fn bad_chunked_framing_is_refused_and_never_passed_through() {
    let app = ScriptedApp::start(|seen, r| {
        let body = read_body(seen, r);
        ok(
            r,
            &format!("len={} body={}", body.len(), String::from_utf8_lossy(&body)),
        )
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let head = format!(
        "POST /api/x HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for (label, body) in [
        ("bare LF after size", "3\nabc\r\n0\r\n\r\n"),
        ("bare LF after data", "3\r\nabc\n0\r\n\r\n"),
        ("bare LF at the end", "3\r\nabc\r\n0\n\n"),
        ("0x prefix", "0x3\r\nabc\r\n0\r\n\r\n"),
        ("negative", "-3\r\nabc\r\n0\r\n\r\n"),
        ("17 digits", "00000000000000003\r\nabc\r\n0\r\n\r\n"),
        ("overflow", "fffffffffffffffff\r\n"),
        ("space before CRLF", "3 \r\nabc\r\n0\r\n\r\n"),
        ("data longer than size", "3\r\nabcd\r\n0\r\n\r\n"),
        ("LF in extension", "3;a=\nb\r\nabc\r\n0\r\n\r\n"),
        ("NUL in trailer", "3\r\nabc\r\n0\r\nX: \0\r\n\r\n"),
    ] {
        let mut conn = Conn::open(srv.addr);
        conn.send(format!("{head}{body}").as_bytes());
        let all = String::from_utf8_lossy(&read_all(&mut conn.stream, Duration::from_secs(5)))
            .into_owned();
        assert!(
            !all.contains("HTTP/1.1 200"),
            "{label}: the app answered a badly framed body: {all:?}"
        );
    }
    // A well-formed one with extensions and trailers arrives as its data alone.
    let r = raw_request(
        srv.addr,
        format!("{head}3;ext=\"x\"\r\nabc\r\n0\r\nX-Trailer: smuggled\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.text(), "len=3 body=abc", "{r:?}");
}

/// Field names that CGI-style servers read as framing fields (`Content_Length`,
/// `Transfer_Encoding`) are not latchkey's framing and never reach the application.
#[test]
fn underscore_framing_fields_do_not_reach_the_app() {
    let app = ScriptedApp::start(|seen, r| {
        let body = read_body(seen, r);
        ok(r, &format!("len={}", body.len()))
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let raw = format!(
        "POST /api/x HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\nContent-Length: 5\r\n\
         Transfer_Encoding: chunked\r\nContent_Length: 500\r\ncontent-length_: 9\r\n\r\nhello"
    );
    let r = raw_request(srv.addr, raw.as_bytes());
    assert_eq!(r.text(), "len=5", "{r:?}");
    let seen = app.requests().pop().unwrap();
    let names: Vec<String> = seen
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, _)| n.to_ascii_lowercase().replace('_', "-"))
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "content-length").count(),
        1,
        "{seen}"
    );
    assert!(!names.iter().any(|n| n == "transfer-encoding"), "{seen}");
}

/// Targets that are not a path (absolute-form, authority-form, asterisk-form), a
/// second `Host`, and a method that would turn the upstream connection into a tunnel
/// are refused before routing.
#[test]
fn non_path_targets_and_host_tricks_are_refused() {
    let app = ScriptedApp::start(|_, r| ok(r, "app"));
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    for (label, raw) in [
        (
            "absolute-form",
            format!(
                "GET http://127.0.0.1:{}/ HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n\r\n",
                app.port
            ),
        ),
        (
            "absolute-form to prefix",
            format!(
                "GET http://pi.lan{PREFIX}/healthz HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n\r\n"
            ),
        ),
        (
            "authority-form",
            format!(
                "CONNECT 127.0.0.1:{} HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n\r\n",
                app.port
            ),
        ),
        (
            "asterisk-form",
            format!("OPTIONS * HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n\r\n"),
        ),
        (
            "two Host",
            format!(
                "GET / HTTP/1.1\r\nHost: pi.lan\r\nHost: other.lan\r\nAuthorization: {auth}\r\n\r\n"
            ),
        ),
        (
            "no Host in 1.1",
            format!("GET / HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n"),
        ),
        (
            "HTTP/2 preface",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_owned(),
        ),
        (
            "HTTP/1.2",
            format!("GET / HTTP/1.2\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n\r\n"),
        ),
    ] {
        let mut conn = Conn::open(srv.addr);
        conn.send(raw.as_bytes());
        let head = conn.raw_head();
        assert!(head.starts_with("HTTP/1.1 400"), "{label}: {head:?}");
    }
    assert_eq!(app.served(), 0, "{:?}", app.requests());
}

/// After a body the application did not wait for, the rest of that body is never read
/// as a next request: the connection closes after the answer.
#[test]
fn an_early_answer_never_turns_the_rest_of_the_body_into_a_request() {
    let app = ScriptedApp::start(|seen, r| {
        if seen.path == "/early" {
            // Answers at once, without reading the body (and closes, as latchkey's
            // `Connection: close` on a request with a body asks).
            ok(r, "early");
            return Then::Close;
        }
        ok(r, &format!("reached {}", seen.path))
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let smuggled =
        format!("GET /private HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n\r\n");
    let filler = "x".repeat(200_000);
    let body = format!("{smuggled}{filler}");
    let head = format!(
        "POST /early HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
        body.len() + 100
    );
    let mut conn = Conn::open(srv.addr);
    conn.send(head.as_bytes());
    // Part of the body, and then nothing: the app answers before the rest.
    let _ = conn.stream.write_all(&body.as_bytes()[..100_000]);
    let all =
        String::from_utf8_lossy(&read_all(&mut conn.stream, Duration::from_secs(8))).into_owned();
    assert!(all.starts_with("HTTP/1.1 200"), "{all:?}");
    assert!(all.contains("early"), "{all:?}");
    assert!(!all.contains("reached /private"), "{all:?}");
    assert!(
        !app.requests().iter().any(|h| h.starts_with("GET /private")),
        "{:?}",
        app.requests()
    );
}

// ===================================================================================
// A hostile or buggy application: response smuggling and desynchronisation.
// ===================================================================================

/// An application that frames its answers wrongly cannot make latchkey hand the client
/// a second, smuggled response on the same connection, nor leave bytes on a pooled
/// upstream connection for the next user.
#[test]
fn a_confused_apps_extra_bytes_never_become_a_response() {
    let smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED";
    let app = ScriptedApp::start(move |seen, r| {
        let extra = match seen.path.as_str() {
            // More body than the length says.
            "/long" => format!("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello{smuggled}"),
            // A body on a 204 and a 304.
            "/204" => format!(
                "HTTP/1.1 204 No Content\r\nContent-Length: {}\r\n\r\n{smuggled}",
                smuggled.len()
            ),
            "/304" => format!(
                "HTTP/1.1 304 Not Modified\r\nContent-Length: {}\r\n\r\n{smuggled}",
                smuggled.len()
            ),
            // A body on a HEAD answer.
            "/head" => format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{smuggled}",
                smuggled.len()
            ),
            // Data after the last chunk.
            "/chunked" => format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}"
            ),
            // Length and chunked together: chunked wins, the length is not passed on.
            "/cl-te" => format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}"
            ),
            _ => return ok(r, &format!("right answer for {}", seen.path)),
        };
        send_raw(r, extra.as_bytes())
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    for (method, path) in [
        ("GET", "/long"),
        ("GET", "/204"),
        ("GET", "/304"),
        ("HEAD", "/head"),
        ("GET", "/chunked"),
        ("GET", "/cl-te"),
    ] {
        // Pipelined: the client's second answer must be its own.
        let mut conn = Conn::open(srv.addr);
        let first =
            format!("{method} {path} HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\n\r\n");
        let second = raw_get("/next", &auth, "");
        conn.send(format!("{first}{second}").as_bytes());
        let r1 = if method == "HEAD" {
            conn.head_response()
        } else {
            conn.response()
        };
        assert!(!r1.text().contains("SMUGGLED"), "{path}: {r1:?}");
        let r2 = conn.response();
        assert_eq!(r2.text(), "right answer for /next", "{path}: {r2:?}");
        // And whoever comes next, on a connection of their own (the pool's).
        let other = srv.get("/other", &[("Authorization", &auth)]);
        assert_eq!(other.text(), "right answer for /other", "{path}: {other:?}");
    }
}

/// Response heads latchkey cannot frame safely are 502, never relayed.
#[test]
fn unframeable_response_heads_are_502() {
    let app = ScriptedApp::start(|seen, r| {
        let raw: Vec<u8> = match seen.path.as_str() {
            "/two-lengths" => b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc".to_vec(),
            "/te-gzip" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".to_vec(),
            "/te-twice" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n".to_vec(),
            "/te-10" => b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            "/obs-fold" => b"HTTP/1.1 200 OK\r\nX-A: 1\r\n Set-Cookie: latchkey_session=x\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "/space-name" => b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n".to_vec(),
            "/nul" => b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "/huge-head" => {
                let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..400 {
                    h.extend_from_slice(format!("X-{i}: {}\r\n", "a".repeat(100)).as_bytes());
                }
                h.extend_from_slice(b"Content-Length: 0\r\n\r\n");
                h
            }
            "/switch" => b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello".to_vec(),
            "/http09" => b"<html>hello</html>".to_vec(),
            "/status-999" => b"HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n".to_vec(),
            _ => return ok(r, "fine"),
        };
        let _ = r.get_mut().write_all(&raw);
        Then::Close
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    for path in [
        "/two-lengths",
        "/te-gzip",
        "/te-twice",
        "/te-10",
        "/obs-fold",
        "/space-name",
        "/nul",
        "/huge-head",
        "/switch",
        "/http09",
        "/status-999",
    ] {
        let r = srv.get(
            path,
            &[("Authorization", &auth), ("Accept", "application/json")],
        );
        assert_eq!(r.status, 502, "{path}: {r:?}");
        assert!(r.set_cookie("latchkey_session").is_none(), "{path}: {r:?}");
    }
    assert_eq!(srv.get("/", &[("Authorization", &auth)]).text(), "fine");
}

/// A chunked answer that breaks its framing midway is cut, visibly: the client never
/// gets a last chunk that the application did not send.
#[test]
fn a_badly_chunked_answer_is_cut_not_completed() {
    let app = ScriptedApp::start(|seen, r| {
        let raw: &[u8] = match seen.path.as_str() {
            "/bare-lf" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\nabc\r\n0\r\n\r\n",
            "/overlong" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!!\r\n0\r\n\r\n",
            "/bad-size" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n0\r\n\r\n",
            _ => return ok(r, "fine"),
        };
        let _ = r.get_mut().write_all(raw);
        Then::KeepOpen
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    for path in ["/bare-lf", "/overlong", "/bad-size"] {
        let mut conn = Conn::open(srv.addr);
        conn.send(
            format!(
                "{}{}",
                raw_get(path, &auth, ""),
                raw_get("/next", &auth, "")
            )
            .as_bytes(),
        );
        let all = String::from_utf8_lossy(&read_all(&mut conn.stream, Duration::from_secs(5)))
            .into_owned();
        assert!(all.starts_with("HTTP/1.1 200"), "{path}: {all:?}");
        assert!(
            !all.contains("\r\n0\r\n\r\n"),
            "{path}: a cut body was completed: {all:?}"
        );
        assert!(
            !all.contains("fine"),
            "{path}: the next answer followed a cut one: {all:?}"
        );
    }
}

// ===================================================================================
// Paths: --public and the reserved prefix judged on what is forwarded.
// ===================================================================================

#[test]
fn path_tricks_cannot_widen_a_public_prefix() {
    let app = ScriptedApp::start(|seen, r| ok(r, &format!("app saw {}", seen.path)));
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/assets/", "--public", "/health"]);
    let get = |target: &str| {
        raw_request(
            srv.addr,
            format!("GET {target} HTTP/1.1\r\nHost: pi.lan\r\nAccept: text/html\r\n\r\n")
                .as_bytes(),
        )
    };
    for target in [
        "/assets/%2e%2E/admin",
        "/assets/%2E%2e/admin",
        "/assets/.%2E/admin",
        "/assets/%2e./admin",
        "/assets/..%2fadmin",
        "/assets/..%2Fadmin",
        "/assets%2f../admin",
        "/assets/%252e%252e/../admin",
        "/assets/..%00/admin",
        "/assets/%00../admin",
        "/assets/..%0d/admin",
        "/assets/..%09/admin",
        "/assets/%u002e%u002e/admin",
        "/assets/%c0%2e%c0%2e/admin",
        "/assets/%e0%80%ae%e0%80%ae/admin",
        "/assets/%c0%ae%c0%ae/admin",
        "/assets/%c1%9c../admin",
        "/assets/..%5cadmin",
        "/assets/..%5Cadmin",
        "/assets/...;/../admin",
        "/assets/..;jsessionid=1/admin",
        "/assets/.;/../admin",
        "/assets/./admin",
        "/assets//admin",
        "/assets/%2F/admin",
        "/assets/x/..",
        "/assets/x/.",
        "/assets/x/%2e",
        "/health/..",
        "/health/%2e%2e",
        "/health#",
        "/assets/%",
        "/assets/%g0",
    ] {
        let r = get(target);
        assert_eq!(r.status, 400, "{target}: {r:?}");
    }
    // Not public, though an application may read them as public ones: login first.
    for target in [
        "/Assets/x",
        "/ASSETS/x",
        "/assets",
        "/%61ssets",
        "/Health",
        "/health/",
        "/health;x",
        "/health%20",
        "/health.",
        "/health%3B",
        "/admin?/assets/",
        "/admin#/assets/",
        "/admin%23/assets/",
        "/admin%3F/assets/",
    ] {
        let r = get(target);
        assert!(r.status == 302 || r.status == 400, "{target}: {r:?}");
        if r.status == 302 {
            assert!(
                r.header("location")
                    .unwrap()
                    .starts_with(&format!("{PREFIX}/login")),
                "{target}: {r:?}"
            );
        }
    }
    // Percent-encoded unreserved characters are the same path, judged decoded.
    let r = get("/%61ssets/%61pp.js");
    assert_eq!(r.text(), "app saw /assets/app.js", "{r:?}");
    assert_eq!(app.served(), 1, "{:?}", app.requests());
}

/// No spelling of the reserved prefix reaches the application, and no spelling of an
/// application path reaches latchkey's own routes.
#[test]
fn no_spelling_of_the_prefix_reaches_the_app() {
    let app = ScriptedApp::start(|seen, r| ok(r, &format!("app saw {}", seen.path)));
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    for target in [
        "/.latchkey",
        "/.latchkey/",
        "/.latchkey/login",
        "/.latchkey/nothing",
        "/%2elatchkey/login",
        "/%2Elatchkey/auth",
        "/.%6Catchkey/login",
        "/.latchkey%2Flogin",
        "/.latchkey/%2e%2e/admin",
        "/.latchkey/../admin",
        "/.latchkey/..;/admin",
        "/.latchkey//login",
        "/x/../.latchkey/login",
        "/x/%2e%2e/.latchkey/login",
        "/.latchkey\\login",
        "/.latchkey%5clogin",
        "/.latchkey/%00",
    ] {
        let r = raw_request(
            srv.addr,
            raw_get(target, &auth, "Accept: text/html\r\n").as_bytes(),
        );
        assert!(!r.text().contains("app saw"), "{target}: {r:?}");
    }
    assert!(
        !app.requests()
            .iter()
            .any(|h| h.to_ascii_lowercase().contains("latchkey")),
        "{:?}",
        app.requests()
    );
}

/// Neither the query, a fragment, nor any header the client sends moves the decision
/// (the four oauth2-proxy advisories), in any spelling.
#[test]
fn headers_and_queries_never_make_a_path_public() {
    let app = ScriptedApp::start(|seen, r| ok(r, &format!("app saw {}", seen.path)));
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/health", "--public", "/static/"]);
    for (name, value) in [
        ("X-Forwarded-Uri", "/health"),
        ("x_forwarded_uri", "/static/a.css"),
        ("X-Original-URL", "/health"),
        ("X-Original-URI", "/static/x"),
        ("X-Rewrite-URL", "/health"),
        ("X-Forwarded-Prefix", "/static/"),
        ("X-Forwarded-Path", "/health"),
        ("X-Envoy-Original-Path", "/health"),
        ("X-HTTP-Method-Override", "GET"),
        ("Referer", "http://pi.lan/health"),
        ("User-Agent", "GoogleHC/1.0"),
        ("User-Agent", "kube-probe/1.30"),
        ("User-Agent", "ELB-HealthChecker/2.0"),
        ("Remote-User", USER),
        ("X-Forwarded-User", USER),
        ("X-Auth-Request-User", USER),
        ("Forwarded", "for=127.0.0.1;host=pi.lan;proto=https"),
    ] {
        for target in ["/admin", "/admin?/health", "/admin?x=/static/"] {
            let r = raw_request(
                srv.addr,
                format!(
                    "GET {target} HTTP/1.1\r\nHost: pi.lan\r\nAccept: text/html\r\n{name}: {value}\r\n\r\n"
                )
                .as_bytes(),
            );
            assert_eq!(r.status, 302, "{name}: {value} on {target}: {r:?}");
        }
    }
    assert_eq!(app.served(), 0, "{:?}", app.requests());
}

// ===================================================================================
// Identity and forwarding headers.
// ===================================================================================

/// A client cannot name itself to the application: not by case, `_`, duplicates,
/// blanks, continuation lines, nor by listing latchkey's own fields in `Connection`
/// (which would make a naive proxy remove them after adding them).
#[test]
fn no_client_spelling_of_the_user_header_reaches_the_app() {
    let app = ScriptedApp::start(|seen, r| ok(r, &seen.head));
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/open"]);
    let mut browser = logged_in(&srv);
    let forged = "Remote-User: root\r\nremote-user: root\r\nREMOTE_USER: root\r\nRemote_user: root\r\n\
                  X-Forwarded-User: root\r\nX-FORWARDED_USER: root\r\nX-Auth-Request-User: root\r\n\
                  x_auth_request_email: root@x\r\nX-Auth-Request-Access-Token: t\r\nX-WebAuth-User: root\r\n\
                  X-Remote-User: root\r\nX-Auth-User: root\r\nX-Forwarded-Email: root@x\r\n\
                  X-Forwarded-Preferred-Username: root\r\nX-Forwarded-Groups: admin\r\n\
                  Connection: Remote-User, X-Forwarded-For, X-Real-IP, X-Forwarded-Host, Cookie\r\n";
    let cookie = format!(
        "Cookie: latchkey_session={}\r\n",
        browser.jar.session().unwrap()
    );
    let r = raw_request(
        srv.addr,
        format!("GET /page HTTP/1.1\r\nHost: pi.lan\r\n{forged}{cookie}\r\n").as_bytes(),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let head = r.text();
    assert_eq!(echoed_header(&head, "remote-user"), [USER], "{head}");
    for name in [
        "x-forwarded-user",
        "x-auth-request-user",
        "x-auth-request-email",
        "x-auth-request-access-token",
        "x-webauth-user",
        "x-remote-user",
        "x-auth-user",
        "x-forwarded-email",
        "x-forwarded-preferred-username",
        "x-forwarded-groups",
        "connection",
    ] {
        assert!(echoed_header(&head, name).is_empty(), "{name}: {head}");
    }
    assert_eq!(
        echoed_header(&head, "x-forwarded-for"),
        ["127.0.0.1"],
        "{head}"
    );
    assert_eq!(echoed_header(&head, "x-real-ip"), ["127.0.0.1"], "{head}");
    assert_eq!(
        echoed_header(&head, "x-forwarded-host"),
        ["pi.lan"],
        "{head}"
    );
    // Names with blanks or continuation lines are not fields at all: refused.
    for bad in [
        "Remote-User : root\r\n",
        " Remote-User: root\r\n",
        "Remote-User\t: root\r\n",
        "X-A: 1\r\n Remote-User: root\r\n",
        "Remote User: root\r\n",
    ] {
        let r = raw_request(
            srv.addr,
            format!("GET /page HTTP/1.1\r\nHost: pi.lan\r\n{cookie}{bad}\r\n").as_bytes(),
        );
        assert_eq!(r.status, 400, "{bad:?}: {r:?}");
    }
    // A public path gets no identity at all, forged or not, logged in or not.
    let open = browser.get(
        "/open",
        &[("Remote-User", "root"), ("X-Forwarded-User", "root")],
    );
    assert_eq!(open.status, 200, "{open:?}");
    assert!(
        echoed_header(&open.text(), "remote-user").is_empty(),
        "{}",
        open.text()
    );
    assert!(echoed_header(&open.text(), "x-forwarded-user").is_empty());
}

/// A client's X-Forwarded-For, -Host and -Proto are believed only from a trusted proxy;
/// a peer outside the trusted range is judged by its socket address whatever it says.
#[test]
fn forwarding_headers_are_believed_only_from_trusted_peers() {
    let app = ScriptedApp::start(|seen, r| ok(r, &seen.head));
    // 127.0.0.1 (the test client) is not in the trusted range.
    let (_tmp, srv) = start_proxy(app.port, &["--trusted-proxy", "10.0.0.0/8"]);
    let auth = bearer(&srv);
    let r = raw_request(
        srv.addr,
        raw_get(
            "/",
            &auth,
            "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 198.51.100.9\r\nX-Real-IP: 10.0.0.1\r\n\
             X-Forwarded-Proto: https\r\nX-Forwarded-Host: admin.example\r\nForwarded: for=10.0.0.1\r\n",
        )
        .as_bytes(),
    );
    let head = r.text();
    assert_eq!(
        echoed_header(&head, "x-forwarded-for"),
        ["127.0.0.1"],
        "{head}"
    );
    assert_eq!(echoed_header(&head, "x-real-ip"), ["127.0.0.1"], "{head}");
    assert_eq!(
        echoed_header(&head, "x-forwarded-proto"),
        ["http"],
        "{head}"
    );
    assert_eq!(
        echoed_header(&head, "x-forwarded-host"),
        ["pi.lan"],
        "{head}"
    );
    assert!(echoed_header(&head, "forwarded").is_empty(), "{head}");
}

/// latchkey's cookies never reach the application, in any spelling, in any line.
#[test]
fn latchkeys_cookies_never_reach_the_app() {
    let app = ScriptedApp::start(|seen, r| ok(r, &seen.head));
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/open"]);
    let browser = logged_in(&srv);
    let session = browser.jar.session().unwrap().to_owned();
    for path in ["/page", "/open"] {
        let r = raw_request(
            srv.addr,
            format!(
                "GET {path} HTTP/1.1\r\nHost: pi.lan\r\nCookie: a=1;latchkey_session={session}\r\n\
                 cookie: __Host-latchkey_session={session}; b=2\r\nCOOKIE:  latchkey_pre=p ;c=3\r\n\
                 Cookie: __Secure-latchkey_session={session}\r\n\r\n"
            )
            .as_bytes(),
        );
        // Two copies of the session cookie are ambiguous: a login is asked for, or
        // the public path is served; either way no copy reaches the app.
        assert!(!r.text().contains(&session), "{path}: {r:?}");
        assert!(!r.text().contains("latchkey_pre"), "{path}: {r:?}");
    }
    assert!(
        !app.requests().iter().any(|h| h.contains(&session)),
        "{:?}",
        app.requests()
    );
}

/// Whatever cookie the application sets under latchkey's names is dropped, in every
/// spelling a browser would store under the name latchkey reads.
#[test]
fn the_app_cannot_set_or_clear_latchkeys_cookies() {
    let app = ScriptedApp::start(|_, r| {
        send_raw(
            r,
            b"HTTP/1.1 200 OK\r\nSet-Cookie: latchkey_session=forged; Path=/\r\n\
              set-cookie: LATCHKEY_SESSION=forged\r\nSET-COOKIE:  latchkey_session =forged\r\n\
              Set-Cookie: __Host-latchkey_session=forged; Secure; Path=/\r\n\
              Set-Cookie: __HOST-latchkey_session=forged; Secure; Path=/\r\n\
              Set-Cookie: __Secure-latchkey_pre=forged; Secure\r\n\
              Set-Cookie: latchkey_session=; Max-Age=0; Path=/\r\n\
              Set-Cookie: latchkey_pre=x; Path=/.latchkey\r\n\
              Set-Cookie: app=1\r\nContent-Length: 2\r\n\r\nok",
        )
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let r = srv.get("/", &[("Authorization", &bearer(&srv))]);
    assert_eq!(r.headers_all("set-cookie"), ["app=1"], "{r:?}");
}

// ===================================================================================
// Location rewriting.
// ===================================================================================

/// A `Location` at the upstream's address is made local without becoming a link to
/// another site; any other is left as the application wrote it.
#[test]
fn location_rewriting_keeps_redirects_on_the_site() {
    let app = ScriptedApp::start(|seen, r| {
        let port = seen
            .header("x-test-port")
            .first()
            .cloned()
            .unwrap_or_default();
        let location = match seen.path.as_str() {
            "/a" => format!("http://127.0.0.1:{port}//evil.example/x"),
            "/b" => format!("http://127.0.0.1:{port}@evil.example/x"),
            "/c" => format!("http://127.0.0.1:{port}.evil.example/x"),
            "/d" => format!("http://127.0.0.1:{port}0/x"),
            "/e" => format!("HTTP://127.0.0.1:{port}/fine?x=1"),
            "/f" => "//evil.example/x".to_owned(),
            _ => "/".to_owned(),
        };
        send_raw(
            r,
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let port = app.port.to_string();
    let location = |path: &str| {
        let r = srv.get(
            path,
            &[
                ("Authorization", &auth),
                ("X-Test-Port", &port),
                ("Host", "pi.lan"),
            ],
        );
        r.header("location").unwrap_or_default().to_owned()
    };
    // Rewritten only to a path on this site.
    assert_eq!(location("/e"), "/fine?x=1");
    // Not rewritten: each still names a host the application chose, none becomes
    // protocol-relative by losing its scheme and authority.
    for path in ["/a", "/b", "/c", "/d", "/f"] {
        let got = location(path);
        assert!(!got.starts_with('/') || path == "/f", "{path}: {got:?}");
    }
}

// ===================================================================================
// Bounded memory and failures.
// ===================================================================================

/// An application that never reads the request body holds latchkey to its two
/// buffers, and the client gets 504 once nothing has moved for the timeout.
#[test]
fn an_upload_the_app_never_reads_is_held_to_bounded_memory() {
    let app = ScriptedApp::start(|_, r| {
        // Reads the head and then nothing, for a while.
        std::thread::sleep(Duration::from_secs(10));
        let _ = r;
        Then::Close
    });
    let (_tmp, srv) = start_proxy(app.port, &["--upstream-timeout", "2s"]);
    let auth = bearer(&srv);
    let before = rss_kib(srv.pid());
    let mut conn = Conn::open(srv.addr);
    let size = 60 << 20;
    conn.send(
        format!(
            "PUT /firmware HTTP/1.1\r\nHost: pi.lan\r\nAuthorization: {auth}\r\nContent-Length: {size}\r\n\r\n"
        )
        .as_bytes(),
    );
    conn.stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let piece = vec![b'x'; 1 << 20];
    let mut pushed = 0usize;
    let started = Instant::now();
    // Pushed for less than the timeout: after the 504 latchkey drains what comes in.
    while pushed < size && started.elapsed() < Duration::from_millis(1500) {
        match conn.stream.write(&piece) {
            Ok(n) => pushed += n,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let grown = rss_kib(srv.pid()).saturating_sub(before);
    assert!(pushed < size, "the whole body was taken: {pushed}");
    assert!(
        grown < 4 * 1024,
        "latchkey grew by {grown} KiB holding an unread upload"
    );
    let head = conn.raw_head();
    assert!(head.starts_with("HTTP/1.1 504"), "{head:?}");
}

/// A client that does not read a large answer holds latchkey to its buffers too.
#[test]
fn a_client_that_does_not_read_holds_latchkey_to_bounded_memory() {
    let app = ScriptedApp::start(|_, r| {
        let size: usize = 200 << 20;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
        let out = r.get_mut();
        let _ = out.set_write_timeout(Some(Duration::from_secs(3)));
        if out.write_all(head.as_bytes()).is_err() {
            return Then::Close;
        }
        let piece = vec![b'y'; 1 << 20];
        for _ in 0..200 {
            if out.write_all(&piece).is_err() {
                break;
            }
        }
        Then::Close
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let before = rss_kib(srv.pid());
    let mut conn = Conn::open(srv.addr);
    conn.send(raw_get("/big", &auth, "").as_bytes());
    std::thread::sleep(Duration::from_secs(3));
    let grown = rss_kib(srv.pid()).saturating_sub(before);
    assert!(
        grown < 4 * 1024,
        "latchkey grew by {grown} KiB for a client that does not read"
    );
    drop(conn);
}

/// A pooled connection carries one user's request and then another's: nothing of the
/// first (identity, cookies, token) shows in the second.
#[test]
fn a_pooled_connection_carries_nothing_from_one_user_to_the_next() {
    let app = ScriptedApp::start(|seen, r| ok(r, &seen.head));
    let tmp = TempDir::new("proxy-attacks");
    let data = data_dir_with_users(
        &tmp,
        &[
            (USER, crate::proxy::PASSWORD),
            ("bob", "bob's long password"),
        ],
    );
    let upstream = format!("http://127.0.0.1:{}", app.port);
    let srv = Server::start(&data, &["--upstream", &upstream, "--public", "/open"]);
    let alice = logged_in(&srv);
    let alice_cookie = format!(
        "latchkey_session={}; app=alice-pref",
        alice.jar.session().unwrap()
    );
    let r = srv.get("/a", &[("Cookie", &alice_cookie), ("X-Alice", "1")]);
    assert_eq!(echoed_header(&r.text(), "remote-user"), [USER], "{r:?}");
    let bob_token = {
        let body = r#"{"username":"bob","password":"bob's long password"}"#;
        let t = srv.post(
            &format!("{PREFIX}/auth"),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        t.json()["access_token"].as_str().unwrap().to_owned()
    };
    let r = srv.get("/b", &[("Authorization", &format!("Bearer {bob_token}"))]);
    let head = r.text();
    assert_eq!(echoed_header(&head, "remote-user"), ["bob"], "{head}");
    assert!(!head.contains("alice"), "{head}");
    let anon = srv.get("/open", &[]);
    assert!(
        echoed_header(&anon.text(), "remote-user").is_empty(),
        "{anon:?}"
    );
    assert!(!anon.text().contains("bob") && !anon.text().contains("alice"));
    assert_eq!(
        app.connections.load(Ordering::SeqCst),
        1,
        "the pool was not used"
    );
}

/// Host routing follows the Host field only: an X-Forwarded-Host or an absolute
/// target naming another application does not move the request there.
#[test]
fn host_routing_is_not_moved_by_other_fields() {
    let pihole = ScriptedApp::start(|_, r| ok(r, "pihole"));
    let printer = ScriptedApp::start(|_, r| ok(r, "printer"));
    let tmp = TempDir::new("proxy-attacks");
    let data = data_dir_with_users(&tmp, &[(USER, crate::proxy::PASSWORD)]);
    let a = format!("pihole.lan=http://127.0.0.1:{}", pihole.port);
    let b = format!("printer.lan=http://127.0.0.1:{}", printer.port);
    let srv = Server::start(&data, &["--upstream", &a, "--upstream", &b]);
    let auth = bearer(&srv);
    for extra in [
        "X-Forwarded-Host: printer.lan",
        "X-Original-Host: printer.lan",
        "X-Host: printer.lan",
        "Forwarded: host=printer.lan",
    ] {
        let r = raw_request(
            srv.addr,
            format!(
                "GET / HTTP/1.1\r\nHost: pihole.lan\r\nAuthorization: {auth}\r\n{extra}\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_eq!(r.text(), "pihole", "{extra}: {r:?}");
    }
    // Host spellings that name no application are not a default either.
    for host in [
        "printer.lan@pihole.lan",
        "pihole.lan:x",
        "pihole.lan/x",
        "printer.lan pihole.lan",
    ] {
        let r = raw_request(
            srv.addr,
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nAccept: application/json\r\n\r\n").as_bytes(),
        );
        assert!(r.status == 404 || r.status == 400, "{host}: {r:?}");
    }
    assert_eq!(printer.served(), 0);
}

// ===================================================================================
// The review's findings, fixed: each test failed before its fix.
// ===================================================================================

/// RFC 9110 §9.2.2: "A proxy MUST NOT automatically retry non-idempotent requests"
/// (RFC 9112 §9.3.1 allows it for idempotent methods only: GET, HEAD, OPTIONS, TRACE,
/// PUT, DELETE). A body-less POST or PATCH goes out on a pooled connection; the app
/// acts on it and closes before answering; latchkey sends it again on a new
/// connection, so the action (a reboot, a factory reset, a purchase) happens twice.
#[test]
fn a_non_idempotent_request_is_never_sent_twice() {
    let actions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&actions);
    let app = ScriptedApp::start(move |seen, r| {
        if seen.method == "GET" {
            return ok(r, "warm");
        }
        // The action happens, then the app dies before its answer.
        counter.fetch_add(1, Ordering::SeqCst);
        Then::Close
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    // A first request leaves a pooled connection behind.
    assert_eq!(srv.get("/", &[("Authorization", &auth)]).text(), "warm");
    for method in ["POST", "PATCH"] {
        let before = actions.load(Ordering::SeqCst);
        // POST goes with `Content-Length: 0`, PATCH with no length: neither has a body.
        let r = request(
            srv.addr,
            method,
            "/api/reboot",
            &[("Authorization", &auth)],
            b"",
        );
        assert_eq!(r.status, 502, "{method}: {r:?}");
        let done = actions.load(Ordering::SeqCst) - before;
        assert_eq!(done, 1, "{method} /api/reboot was carried out {done} times");
        // Warm the pool again for the next method.
        assert_eq!(srv.get("/", &[("Authorization", &auth)]).text(), "warm");
    }
}

/// An application that answers 1xx without end: each interim head is queued for the
/// client with no regard for the output buffer, so a client that does not read makes
/// latchkey's memory grow without bound (twice what the app sends, with the
/// `Cache-Control` the policy adds to each), and the exchange never times out.
#[test]
fn an_interim_flood_is_held_to_the_proxy_buffers() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let app = ScriptedApp::start(move |_, r| {
        let out = r.get_mut();
        let _ = out.set_write_timeout(Some(Duration::from_secs(2)));
        let hint = format!(
            "HTTP/1.1 103 Early Hints\r\nLink: <{}>; rel=preload\r\n\r\n",
            "a".repeat(4000)
        );
        let mut sent = 0usize;
        while sent < 64 << 20 {
            if out.write_all(hint.as_bytes()).is_err() {
                break;
            }
            sent += hint.len();
        }
        let _ = tx.lock().unwrap().send(sent);
        Then::Close
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let before = rss_kib(srv.pid());
    let mut conn = Conn::open(srv.addr);
    conn.send(raw_get("/", &auth, "").as_bytes());
    // The client reads nothing.
    let sent = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let grown = rss_kib(srv.pid()).saturating_sub(before);
    drop(conn);
    assert!(
        grown < 16 * 1024,
        "latchkey grew by {} MiB while the app sent {} MiB of 103s to a client that reads nothing",
        grown / 1024,
        sent >> 20
    );
}

/// The same 1xx path holds the single event loop: `relay` takes one interim head per
/// turn of `drive_exchange`, which goes round again as long as anything moved, so an
/// app that keeps sending them (faster than latchkey handles one at a time) keeps the
/// loop on its exchange, and every other client (login, other apps) waits. (Ordinary
/// fast downloads, Content-Length or chunked, did not hold it in the same setup: the
/// health checks below were answered in under 30 ms while a GiB went through.)
#[test]
fn an_interim_stream_does_not_hold_the_loop() {
    let stop = Arc::new(AtomicBool::new(false));
    let stop_app = Arc::clone(&stop);
    let app = ScriptedApp::start(move |seen, r| {
        if seen.path != "/stream" {
            return ok(r, "fine");
        }
        // Interim answers as fast as the app can write them (a tight loop or a bug).
        let out = r.get_mut();
        let hint = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
        let burst: Vec<u8> = hint
            .iter()
            .copied()
            .cycle()
            .take(hint.len() * 1000)
            .collect();
        while !stop_app.load(Ordering::SeqCst) {
            if out.write_all(&burst).is_err() {
                break;
            }
        }
        Then::Close
    });
    let (_tmp, srv) = start_proxy(app.port, &["--upstream-timeout", "30s"]);
    let auth = bearer(&srv);
    let mut conn = Conn::open(srv.addr);
    conn.send(raw_get("/stream", &auth, "").as_bytes());
    // The client reads everything as it comes.
    let mut reader = conn.stream.try_clone().unwrap();
    let stop_reader = Arc::clone(&stop);
    let drain = std::thread::spawn(move || {
        let _ = reader.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = vec![0u8; 1 << 16];
        while !stop_reader.load(Ordering::SeqCst) {
            if let Ok(0) = reader.read(&mut buf) {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut worst = Duration::ZERO;
    for _ in 0..3 {
        let started = Instant::now();
        let mut probe = TcpStream::connect(srv.addr).unwrap();
        probe
            .write_all(
                format!("GET {PREFIX}/healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
        let answer = read_all(&mut probe, Duration::from_secs(5));
        let took = started.elapsed();
        worst = worst.max(if answer.is_empty() {
            Duration::from_secs(99)
        } else {
            took
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::SeqCst);
    drop(conn);
    let _ = drain.join();
    assert!(
        worst < Duration::from_secs(1),
        "a health check waited {worst:?} behind one app sending 1xx answers"
    );
}

/// A `Location` at the upstream's address whose path starts with `/\` or `/<TAB>/` is
/// cut down to that path: in the application's own form it pointed at the app, after
/// latchkey's rewrite a browser reads it as `//evil.example` (WHATWG URL: `\` is `/`
/// in http URLs, tabs are removed). An app that builds `base_url + next` with a `next`
/// it checked for `//` (not for `/\`) becomes an open redirect on latchkey's origin.
#[test]
fn a_rewritten_location_never_leaves_the_site() {
    let app = ScriptedApp::start(|seen, r| {
        let port = seen
            .header("x-test-port")
            .first()
            .cloned()
            .unwrap_or_default();
        let location = match seen.path.as_str() {
            "/backslash" => format!("http://127.0.0.1:{port}/\\evil.example/x"),
            "/tab" => format!("http://127.0.0.1:{port}/\t/evil.example/x"),
            "/backslash2" => format!("http://127.0.0.1:{port}\\\\evil.example/x"),
            _ => "/".to_owned(),
        };
        send_raw(
            r,
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let port = app.port.to_string();
    for path in ["/backslash", "/tab", "/backslash2"] {
        let r = srv.get(
            path,
            &[
                ("Authorization", &auth),
                ("X-Test-Port", &port),
                ("Host", "pi.lan"),
            ],
        );
        let location = r.header("location").unwrap_or_default().to_owned();
        // Either left absolute (pointing at the app, as the app wrote it) or made a
        // path on this site; never a path a browser reads as another host.
        let goes = foreign_host(&location);
        assert!(
            goes.is_none() || goes.as_deref() == Some(&format!("127.0.0.1:{port}")),
            "{path}: Location {location:?} sends the browser to {goes:?}"
        );
    }
}

/// RFC 6265bis §5.6: a `Set-Cookie` whose name is empty (`=latchkey_session=forged`)
/// is stored by browsers as a nameless cookie with value `latchkey_session=forged`,
/// and sent back as `Cookie: latchkey_session=forged`. latchkey's filter reads the
/// name as empty and lets it through: the app sets (or, with a duplicate, blocks)
/// latchkey's session cookie on plain HTTP, where its name has no `__Host-` prefix.
#[test]
fn the_app_cannot_plant_latchkeys_cookie_without_a_name() {
    let app = ScriptedApp::start(|_, r| {
        send_raw(
            r,
            b"HTTP/1.1 200 OK\r\nSet-Cookie: =latchkey_session=forged; Path=/\r\n\
              Set-Cookie:  = latchkey_pre=forged\r\nSet-Cookie: app=1\r\nContent-Length: 2\r\n\r\nok",
        )
    });
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let r = srv.get("/", &[("Authorization", &bearer(&srv))]);
    assert_eq!(r.headers_all("set-cookie"), ["app=1"], "{r:?}");
}

/// PROXY.md: "a latchkey token is not passed on". A request with a session cookie and
/// latchkey's bearer token (a page whose script calls the API with the token) is
/// identified by the session, and the token then goes to the application, which can
/// use it against every other application behind latchkey.
#[test]
fn latchkeys_token_never_reaches_the_app_even_with_a_session() {
    let app = ScriptedApp::start(|seen, r| ok(r, &seen.head));
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let mut browser = logged_in(&srv);
    let access = token(&srv);
    let r = browser.get("/page", &[("Authorization", &format!("Bearer {access}"))]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        !r.text().contains(&access),
        "the app received latchkey's token: {}",
        r.text()
    );
}

/// Only `Remote-User` and a fixed list are stripped; the fields that travel with a
/// user header in the common schemes are not: Authelia's `Remote-Groups`,
/// `Remote-Email`, `Remote-Name`; Kubernetes' `X-Remote-Group`, `X-Remote-Extra-*`;
/// Grafana and Gitea's `X-WebAuth-*`; oauth2-proxy's `X-Forwarded-Access-Token`. An
/// app set up to read them (as an app migrated from Authelia is) takes a logged-in
/// user's `Remote-Groups: admins` at its word.
#[test]
fn fields_that_travel_with_the_user_header_are_stripped_too() {
    let app = ScriptedApp::start(|seen, r| ok(r, &seen.head));
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let auth = bearer(&srv);
    let forged = [
        "Remote-Groups",
        "Remote-Email",
        "Remote-Name",
        "Remote_Groups",
        "X-Remote-Group",
        "X-Remote-Extra-Scopes",
        "X-WebAuth-Email",
        "X-WebAuth-Groups",
        "X-WebAuth-Role",
        "X-Forwarded-Access-Token",
    ];
    let extra: String = forged.iter().map(|n| format!("{n}: admins\r\n")).collect();
    let r = raw_request(srv.addr, raw_get("/", &auth, &extra).as_bytes());
    let head = r.text();
    let passed: Vec<&str> = forged
        .iter()
        .copied()
        .filter(|n| !echoed_header(&head, n).is_empty())
        .collect();
    assert!(
        passed.is_empty(),
        "client-forged identity fields reached the app: {passed:?}"
    );
}

/// PROXY.md: "It sends nothing for --upstream-timeout before its response head: 504",
/// and issue 16: "no response head within --upstream-timeout: 504". The timer is
/// reset by every byte, so an app that trickles its head (a byte a second, 16 KiB of
/// it) holds the client, and a slot latchkey never evicts, for hours.
#[test]
fn a_trickled_response_head_still_gets_504() {
    let app = ScriptedApp::start(|_, r| {
        let head = b"HTTP/1.1 200 OK\r\nX-Slow: 1\r\nContent-Length: 2\r\n\r\nok";
        for byte in head {
            if r.get_mut().write_all(&[*byte]).is_err() {
                return Then::Close;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Then::Close
    });
    let (_tmp, srv) = start_proxy(app.port, &["--upstream-timeout", "1s"]);
    let auth = bearer(&srv);
    let started = Instant::now();
    let r = srv.get(
        "/",
        &[("Authorization", &auth), ("Accept", "application/json")],
    );
    let took = started.elapsed();
    assert_eq!(r.status, 504, "after {took:?}: {r:?}");
    assert!(took < Duration::from_secs(4), "504 after {took:?}");
}

/// latchkey's own routes give up the slowest request when the server is full; a
/// proxied request whose body trickles in (one byte per second, on a public upload
/// path or by any logged-in user) is never given up: a few of them fill the server and
/// the login page is refused.
#[test]
fn trickled_uploads_cannot_fill_the_server() {
    let app = ScriptedApp::start(|seen, r| {
        let body = read_body(seen, r);
        ok(r, &format!("len={}", body.len()))
    });
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/drop/", "--max-connections", "4"]);
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(srv.addr).unwrap();
        c.write_all(b"POST /drop/box HTTP/1.1\r\nHost: pi.lan\r\nContent-Length: 1000000\r\n\r\nx")
            .unwrap();
        slow.push(c);
        std::thread::sleep(Duration::from_millis(100));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let mut writers: Vec<TcpStream> = slow.iter().map(|c| c.try_clone().unwrap()).collect();
    let trickle = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            for w in &mut writers {
                let _ = w.write_all(b"x");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let mut probe = TcpStream::connect(srv.addr).unwrap();
    let _ = probe.write_all(
        format!("GET {PREFIX}/login HTTP/1.1\r\nHost: pi.lan\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    let answer = read_all(&mut probe, Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    let _ = trickle.join();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "the login page was refused while 4 trickled uploads held the server: {:?}",
        String::from_utf8_lossy(&answer)
    );
}

/// CONNECT and TRACE never reach the app (a tunnel to its host; an echo of the
/// request, cookies included, to a script), and a path escaped twice (`%252F`, which
/// an app that decodes twice reads as `/`) is refused rather than judged once.
#[test]
fn tunnelling_methods_and_double_escapes_are_refused() {
    let app = ScriptedApp::start(|_, r| ok(r, "app"));
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/static/"]);
    let auth = bearer(&srv);
    for method in ["TRACE", "CONNECT"] {
        let r = request(srv.addr, method, "/", &[("Authorization", &auth)], b"");
        assert_eq!(r.status, 501, "{method}: {r:?}");
    }
    for path in ["/static/..%252Fadmin", "/static/%252e%252e/admin"] {
        let r = srv.get(path, &[]);
        assert_eq!(r.status, 400, "{path}: {r:?}");
    }
    assert_eq!(app.served(), 0, "{:?}", app.requests());
}
