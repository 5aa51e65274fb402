//! WebSockets through the proxy: a tunnel for logged-in users, refused without a
//! session or from another site's page (cross-site WebSocket hijacking), closed soon
//! after its session is signed out; and server-sent events flowing as produced.

use super::*;
use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2).
fn accept_key(key: &str) -> String {
    let digest = sha1_smol::Sha1::from(format!("{key}{WS_GUID}"))
        .digest()
        .bytes();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// One frame: (opcode, payload). Reads a masked or unmasked frame.
fn read_frame(stream: &mut impl Read) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).ok()?;
    let opcode = head[0] & 0x0f;
    let masked = head[1] & 0x80 != 0;
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut ext = [0u8; 2];
        stream.read_exact(&mut ext).ok()?;
        len = u64::from(u16::from_be_bytes(ext));
    } else if len == 127 {
        let mut ext = [0u8; 8];
        stream.read_exact(&mut ext).ok()?;
        len = u64::from_be_bytes(ext);
    }
    let mut mask = [0u8; 4];
    if masked {
        stream.read_exact(&mut mask).ok()?;
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    stream.read_exact(&mut payload).ok()?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((opcode, payload))
}

/// Writes a final frame; masked (as a client must) when `mask` is given.
fn write_frame(stream: &mut impl Write, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    let mut frame = vec![0x80 | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if payload.len() < 126 {
        frame.push(mask_bit | payload.len() as u8);
    } else {
        frame.push(mask_bit | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    match mask {
        Some(mask) => {
            frame.extend_from_slice(&mask);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => frame.extend_from_slice(payload),
    }
    stream.write_all(&frame).unwrap();
}

/// A WebSocket echo server: completes the handshake, sends the request head it got as
/// its first text message, then echoes every data frame and answers a close with a
/// close. It never closes an idle connection itself. Returns its port and how many
/// handshakes it completed.
fn start_ws_echo() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&handshakes);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let count = Arc::clone(&count);
            std::thread::spawn(move || ws_echo_one(stream, &count));
        }
    });
    (port, handshakes)
}

fn ws_echo_one(stream: TcpStream, count: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let key = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim().to_owned());
    let stream = reader.get_mut();
    let Some(key) = key else {
        // Not an upgrade: the app's page, which opens a WebSocket to /ws.
        let user = echoed_header(&format!("\r\n{head}"), "remote-user").join(",");
        let page = APP_PAGE.replace("USER", &user);
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(answer.as_bytes());
        return;
    };
    count.fetch_add(1, Ordering::SeqCst);
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    );
    stream.write_all(answer.as_bytes()).unwrap();
    write_frame(stream, 1, head.as_bytes(), None);
    while let Some((opcode, payload)) = read_frame(stream) {
        match opcode {
            8 => {
                write_frame(stream, 8, &payload, None);
                return;
            }
            1 | 2 => write_frame(stream, opcode, &payload, None),
            _ => {}
        }
    }
}

/// The app's page for the browser walk: who it was sent, and what its WebSocket echoed.
const APP_PAGE: &str = "<!doctype html><title>app</title>\
<p id=who>USER</p><p id=ws>connecting</p><a id=signout href=/.latchkey/logout>Sign out</a>\
<script>const ws = new WebSocket('ws://' + location.host + '/ws');\
ws.onopen = () => ws.send('ping');\
ws.onmessage = (e) => { if (e.data === 'ping') document.getElementById('ws').textContent = 'echo: ping'; };\
</script>";

/// Opens a WebSocket through latchkey with `headers`; the raw answer head and the
/// stream (ready for frames if the answer was 101).
fn open_ws(srv: &Server, headers: &[(&str, &str)]) -> (String, TcpStream) {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let mut raw = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
        srv.addr
    );
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let mut stream = TcpStream::connect(srv.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 101") {
        let accept = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Accept: "))
            .map(str::to_owned);
        assert_eq!(accept.as_deref(), Some(accept_key(key).as_str()), "{head}");
    }
    (head, stream)
}

fn session_cookie(browser: &Client) -> String {
    format!("latchkey_session={}", browser.jar.session().unwrap())
}

#[test]
fn a_logged_in_browser_gets_a_websocket_tunnel() {
    let (port, handshakes) = start_ws_echo();
    let (_tmp, srv) = start_proxy(port, &[]);
    let browser = logged_in(&srv);
    let cookie = session_cookie(&browser);
    let origin = format!("http://{}", srv.addr);
    let (head, mut ws) = open_ws(
        &srv,
        &[
            ("Cookie", &cookie),
            ("Origin", &origin),
            ("Remote-User", "root"),
        ],
    );
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("Upgrade: websocket\r\n"), "{head}");
    // The upstream's first message is the handshake it received: identity set, the
    // client's forgery and latchkey's cookie gone, the upgrade asked for.
    let (opcode, first) = read_frame(&mut ws).unwrap();
    assert_eq!(opcode, 1);
    let first = String::from_utf8(first).unwrap();
    assert_eq!(echoed_header(&first, "remote-user"), [USER], "{first}");
    assert!(!first.contains("latchkey_session"), "{first}");
    assert_eq!(echoed_header(&first, "upgrade"), ["websocket"], "{first}");
    assert_eq!(echoed_header(&first, "connection"), ["Upgrade"], "{first}");
    // Frames both ways, small and large.
    for message in [b"hello".to_vec(), vec![b'x'; 60_000]] {
        write_frame(&mut ws, 2, &message, Some([1, 2, 3, 4]));
        let (opcode, echoed) = read_frame(&mut ws).unwrap();
        assert_eq!((opcode, echoed.len()), (2, message.len()));
        assert_eq!(echoed, message);
    }
    write_frame(&mut ws, 8, b"\x03\xe8", Some([9, 9, 9, 9]));
    assert_eq!(read_frame(&mut ws).map(|f| f.0), Some(8));
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
    // A bearer token opens one too (no Origin: not a browser).
    let auth = format!("Bearer {}", token(&srv));
    let (head, _ws) = open_ws(&srv, &[("Authorization", &auth)]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

#[test]
fn no_tunnel_without_a_session_or_from_another_site() {
    let (port, handshakes) = start_ws_echo();
    let (_tmp, srv) = start_proxy(
        port,
        &["--allowed-host", "admin.example", "--public", "/ws"],
    );
    // No credentials: the login redirect (even on a public path), never the upstream.
    let (head, _) = open_ws(&srv, &[("Origin", &format!("http://{}", srv.addr))]);
    assert!(head.starts_with("HTTP/1.1 302"), "{head}");
    let (head, _) = open_ws(&srv, &[("Accept", "application/json")]);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // A page of another site opening a WebSocket with the user's cookie: 403.
    let browser = logged_in(&srv);
    let cookie = session_cookie(&browser);
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let (head, _) = open_ws(&srv, &[("Cookie", &cookie), ("Origin", origin)]);
        assert!(head.starts_with("HTTP/1.1 403"), "{origin}: {head}");
    }
    assert_eq!(handshakes.load(Ordering::SeqCst), 0);
    // An allowed host is this site too.
    let (head, _) = open_ws(
        &srv,
        &[("Cookie", &cookie), ("Origin", "https://admin.example")],
    );
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

/// Reads frames until the connection ends; the time that took.
fn time_to_close(ws: &mut TcpStream) -> Duration {
    let started = Instant::now();
    ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match ws.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn the_tunnel_closes_soon_after_logout_or_revocation() {
    let (port, _) = start_ws_echo();
    let (tmp, srv) = start_proxy(port, &[]);
    let mut browser = logged_in(&srv);
    let cookie = session_cookie(&browser);
    let origin = format!("http://{}", srv.addr);
    let (head, mut ws) = open_ws(&srv, &[("Cookie", &cookie), ("Origin", &origin)]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    read_frame(&mut ws).unwrap();
    // Log out with the welcome page's button, as the user would.
    let welcome = browser.get(&format!("{PREFIX}/"), &[]);
    let logout = forms(&welcome.text())
        .into_iter()
        .find(|f| f.action.contains("logout"))
        .expect("logout form");
    let fields: Vec<(&str, &str)> = logout
        .hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let bye = browser.post(
        &format!("{PREFIX}/logout"),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&fields),
    );
    assert_eq!(bye.status, 303, "{bye:?}");
    // Neither peer closes it; latchkey does, at its next check.
    let waited = time_to_close(&mut ws);
    assert!(
        waited < Duration::from_secs(4),
        "tunnel open {waited:?} after logout"
    );
    // Revoked from the command line: the same, once the revocation is reloaded.
    let browser = logged_in(&srv);
    let cookie = session_cookie(&browser);
    let (head, mut ws) = open_ws(&srv, &[("Cookie", &cookie), ("Origin", &origin)]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let data = tmp.path().join("data");
    let run = cli(
        &[
            "session",
            "revoke-all",
            USER,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let waited = time_to_close(&mut ws);
    assert!(
        waited < Duration::from_secs(5),
        "tunnel open {waited:?} after revoke-all"
    );
}

#[test]
fn server_sent_events_flow_as_they_are_produced() {
    let app = start_app();
    // The stream lasts about 1.8 s, longer than the timeout: it is not cut while
    // events flow.
    let (_tmp, srv) = start_proxy(app.port, &["--upstream-timeout", "1s"]);
    let auth = format!("Bearer {}", token(&srv));
    let mut stream = TcpStream::connect(srv.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(
            format!("GET /events HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut received = Vec::new();
    let mut first_event = None;
    let mut buf = [0u8; 4096];
    while !received.ends_with(b"0\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
        if first_event.is_none() && String::from_utf8_lossy(&received).contains("data: event 1") {
            first_event = Some(started.elapsed());
        }
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("Content-Type: text/event-stream"), "{text}");
    for n in 1..=6 {
        assert!(
            text.contains(&format!("data: event {n}\n\n")),
            "event {n} missing: {text}"
        );
    }
    let first = first_event.expect("first event");
    assert!(
        first < Duration::from_millis(1000),
        "first event after {first:?}: buffered?"
    );
    assert!(text.ends_with("0\r\n\r\n"), "stream cut: {text}");
}

/// Chromium through latchkey as the proxy: a deep link, the login form, back on the app's
/// page, its WebSocket working, sign-out, and the back button showing the login page
/// (tests/browser/upstream.mjs). Skips where no browser is installed.
#[test]
fn chromium_walks_through_latchkey_with_a_websocket_on_the_page() {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let (port, handshakes) = start_ws_echo();
    let (tmp, srv) = start_proxy(port, &[]);
    let run = run_browser_script(
        "upstream.mjs",
        &[
            ("BROWSER_TEST_URL", format!("http://{}", srv.addr)),
            ("BROWSER_TEST_START", "/app/page?tab=1".to_owned()),
            ("BROWSER_TEST_PREFIX", PREFIX.to_owned()),
            ("BROWSER_TEST_USER", USER.to_owned()),
            ("BROWSER_TEST_PASSWORD", PASSWORD.to_owned()),
        ],
        &tmp,
    );
    let report = format!(
        "{}\n--- latchkey stderr ---\n{}",
        run.report,
        srv.log.text()
    );
    assert!(
        run.passed,
        "the browser walk through latchkey failed\n{report}"
    );
    assert!(
        run.stdout
            .contains("browser upstream walk: all checks passed"),
        "{report}"
    );
    assert!(handshakes.load(Ordering::SeqCst) >= 1, "{report}");
}
