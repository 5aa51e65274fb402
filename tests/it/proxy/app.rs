//! The applications the proxy tests put behind latchkey: one small threaded HTTP/1.1
//! server whose paths each behave one way (echo the request, static, chunked,
//! close-delimited, large, slow, dying midway, invalid), and a dead address.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A running test application.
pub(crate) struct App {
    pub(crate) port: u16,
    /// Requests it has received.
    pub(crate) requests: Arc<AtomicUsize>,
}

impl App {
    pub(crate) fn served(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Starts the application on a free port (a thread per connection, one request per
/// connection, as latchkey's `Connection: close` asks).
pub(crate) fn start_app() -> App {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || serve_one(stream, port, &counter));
        }
    });
    App { port, requests }
}

/// Starts the same application on a Unix socket at `path`; the count of requests.
pub(crate) fn start_unix_app(path: &Path) -> Arc<AtomicUsize> {
    let listener = UnixListener::bind(path).unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || serve_one(stream, 0, &counter));
        }
    });
    requests
}

/// An application that keeps its connections open between requests.
pub(crate) struct KeepAliveApp {
    pub(crate) port: u16,
    /// Connections it accepted.
    pub(crate) connections: Arc<AtomicUsize>,
    /// Requests it answered.
    pub(crate) requests: Arc<AtomicUsize>,
}

/// Starts an HTTP/1.1 application that answers every request on a connection
/// (`200`, body `request N`), closes a connection idle for `idle_close`, and, with
/// `close_after_each`, closes after every answer without saying so.
pub(crate) fn start_keepalive_app(idle_close: Duration, close_after_each: bool) -> KeepAliveApp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (conns, reqs) = (Arc::clone(&connections), Arc::clone(&requests));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            conns.fetch_add(1, Ordering::SeqCst);
            let reqs = Arc::clone(&reqs);
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(idle_close));
                let mut reader = BufReader::new(stream);
                while read_request(&mut reader).is_some() {
                    let n = reqs.fetch_add(1, Ordering::SeqCst) + 1;
                    let body = format!("request {n}");
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    let out = reader.get_mut();
                    if out.write_all(head.as_bytes()).is_err()
                        || out.write_all(body.as_bytes()).is_err()
                    {
                        return;
                    }
                    if close_after_each {
                        return;
                    }
                }
            });
        }
    });
    KeepAliveApp {
        port,
        connections,
        requests,
    }
}

/// A port with nothing listening: connections are refused.
pub(crate) fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// FNV-1a, 64 bits: a checksum of bodies that went through the proxy.
pub(crate) fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The bytes of a generated body of `n` bytes (a repeating pattern, so a shifted or
/// cut body shows).
pub(crate) fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A request as the application received it.
struct Received {
    head: String,
    path: String,
    body: Vec<u8>,
}

fn read_request<S: Read>(reader: &mut BufReader<S>) -> Option<Received> {
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
    let target = head.split(' ').nth(1)?.to_owned();
    let path = target.split('?').next().unwrap_or("").to_owned();
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).ok()?;
            let size = usize::from_str_radix(size_line.trim_end().split(';').next()?, 16).ok()?;
            if size == 0 {
                let mut end = String::new();
                while reader.read_line(&mut end).ok()? > 0 && end != "\r\n" {
                    end.clear();
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            assert_eq!(&chunk[size..], b"\r\n", "chunk not ended by CRLF");
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = header("content-length") {
        body = vec![0; len.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
    }
    Some(Received { head, path, body })
}

fn serve_one<S: Read + Write>(stream: S, port: u16, counter: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    let out = reader.get_mut();
    counter.fetch_add(1, Ordering::SeqCst);
    let query_n = |name: &str| -> usize {
        req.head
            .split(' ')
            .nth(1)
            .and_then(|t| t.split_once('?'))
            .and_then(|(_, q)| {
                q.split('&')
                    .find_map(|p| p.strip_prefix(&format!("{name}=")))
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let reply = |out: &mut S, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(body);
    };
    match req.path.as_str() {
        "/static/app.css" => reply(
            out,
            "200 OK",
            "Content-Type: text/css\r\nCache-Control: public, max-age=600\r\n",
            b"body { color: red }\n",
        ),
        "/chunked" => {
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                  6\r\nhello \r\n8;ext=1\r\nchunked \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
            );
        }
        "/close" => {
            let _ =
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
        }
        "/http10" => {
            let _ = out.write_all(b"HTTP/1.0 200 OK\r\n\r\nold style");
        }
        "/big" => {
            let n = query_n("bytes");
            reply(out, "200 OK", "", &pattern(n));
        }
        "/big-chunked" => {
            let data = pattern(query_n("bytes"));
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            );
            for piece in data.chunks(7_777) {
                let _ = out.write_all(format!("{:x}\r\n", piece.len()).as_bytes());
                let _ = out.write_all(piece);
                let _ = out.write_all(b"\r\n");
            }
            let _ = out.write_all(b"0\r\n\r\n");
        }
        "/zeros" => {
            // A large body written as fast as the reader takes it.
            let n = query_n("bytes");
            let _ = out.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let block = vec![0u8; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let take = left.min(block.len());
                if out.write_all(&block[..take]).is_err() {
                    return;
                }
                left -= take;
            }
        }
        "/204" => {
            let _ = out.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
        "/304" => {
            let _ = out.write_all(
                b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n",
            );
        }
        "/redirect" => reply(
            out,
            "302 Found",
            &format!("Location: http://127.0.0.1:{port}/landing?from=app\r\n"),
            b"",
        ),
        "/elsewhere" => reply(
            out,
            "302 Found",
            "Location: http://example.org/landing\r\n",
            b"",
        ),
        "/cookies" => reply(
            out,
            "200 OK",
            "Set-Cookie: latchkey_session=forged; Path=/\r\n\
             Set-Cookie: __Host-latchkey_session=forged; Path=/; Secure\r\n\
             Set-Cookie: app=1; Path=/\r\n\
             Connection: X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n",
            b"cookies",
        ),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(4));
            reply(out, "200 OK", "", b"too late");
        }
        "/die" => {
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\npartial",
            );
        }
        "/die-chunked" => {
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                  7\r\npartial\r\n",
            );
        }
        "/bad-head" => {
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            );
        }
        "/silent" => {}
        "/events" => {
            // A server-sent event stream: one event every 300 ms, six in all.
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                  Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
            );
            for n in 1..=6 {
                if out
                    .write_all(format!("data: event {n}\n\n").as_bytes())
                    .is_err()
                {
                    return;
                }
                let _ = out.flush();
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        "/early-hints" => {
            let _ = out
                .write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
            reply(out, "200 OK", "", b"after the hints");
        }
        "/upload" => {
            let body = format!("len={} fnv={:016x}", req.body.len(), fnv(&req.body));
            reply(out, "200 OK", "", body.as_bytes());
        }
        _ => {
            let mut body = format!("ECHO UPSTREAM\r\n{}", req.head).into_bytes();
            body.extend_from_slice(format!("body-len={}\r\n", req.body.len()).as_bytes());
            reply(out, "200 OK", "Content-Type: text/plain\r\n", &body);
        }
    }
}
