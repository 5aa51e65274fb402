//! Just enough RFC 6455 for the deployment tests to prove that a proxy passes a
//! WebSocket through after its auth check: the opening handshake on both sides (§4.1,
//! §4.2.2) and single unfragmented frames (§5.2) of up to 125 bytes, which is all an
//! echo of a short message needs. The server side answers inside the echo upstream
//! (`start_echo_upstream`) when a request asks for an upgrade.

use super::client::{Conn, Response};
use super::tls::Tls;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// The GUID of RFC 6455 §1.3 that the accept value hashes in.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64 of the SHA-1 of the key
/// followed by the GUID (RFC 6455 §4.2.2, item 5.4).
pub(crate) fn websocket_accept(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    STANDARD.encode(sha1.finalize())
}

/// The value of header `name` in a raw request head, if present.
fn head_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Whether a request head asks for a WebSocket (RFC 6455 §4.2.1: `Upgrade: websocket`
/// and a `Sec-WebSocket-Key`).
pub(super) fn wants_websocket(head: &str) -> bool {
    head_header(head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && head_header(head, "sec-websocket-key").is_some()
}

/// The upstream's side: accepts the upgrade, reports in `Echo-Remote-User` the
/// `Remote-User` the proxy sent, then echoes every text frame until the client closes.
pub(super) fn serve_websocket(mut stream: TcpStream, head: &str) {
    let key = head_header(head, "sec-websocket-key").unwrap_or_default();
    let user = head_header(head, "remote-user").unwrap_or_default();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nEcho-Remote-User: {user}\r\n\r\n",
        websocket_accept(key)
    );
    if stream.write_all(response.as_bytes()).is_err() {
        return;
    }
    while let Some((opcode, payload)) = read_frame(&mut stream) {
        let reply = match opcode {
            OP_CLOSE => {
                let _ = stream.write_all(&frame(OP_CLOSE, &payload, None));
                return;
            }
            OP_PING => OP_PONG,
            other => other,
        };
        if stream.write_all(&frame(reply, &payload, None)).is_err() {
            return;
        }
    }
}

/// One frame: FIN set, `opcode`, a payload of at most 125 bytes, masked with `mask`
/// (RFC 6455 §5.3: every client frame is masked, no server frame is).
fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    assert!(payload.len() <= 125, "test frames stay short");
    let mut out = vec![0x80 | opcode];
    let len = u8::try_from(payload.len()).unwrap();
    match mask {
        Some(mask) => {
            out.push(0x80 | len);
            out.extend_from_slice(&mask);
            out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        }
        None => {
            out.push(len);
            out.extend_from_slice(payload);
        }
    }
    out
}

/// Reads one frame (unmasking it if masked); `None` at end of stream, on a read error,
/// or for a frame longer than these tests send.
fn read_frame(stream: &mut impl Read) -> Option<(u8, Vec<u8>)> {
    let mut start = [0u8; 2];
    stream.read_exact(&mut start).ok()?;
    let opcode = start[0] & 0x0F;
    let masked = start[1] & 0x80 != 0;
    let len = usize::from(start[1] & 0x7F);
    if len > 125 {
        return None;
    }
    let mut mask = [0u8; 4];
    if masked {
        stream.read_exact(&mut mask).ok()?;
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).ok()?;
    if masked {
        for (byte, m) in payload.iter_mut().zip(mask.iter().cycle()) {
            *byte ^= m;
        }
    }
    Some((opcode, payload))
}

/// An open WebSocket, client side (over TLS if its connection is).
pub(crate) struct WebSocket {
    /// The `101 Switching Protocols` head, as the proxy relayed it.
    pub handshake: Response,
    stream: Conn,
}

impl WebSocket {
    /// Sends `text` in one masked text frame and returns the text of the frame that
    /// comes back.
    pub(crate) fn echo(&mut self, text: &str) -> String {
        self.stream
            .write_all(&frame(OP_TEXT, text.as_bytes(), Some(*b"mask")))
            .unwrap();
        let (opcode, payload) = read_frame(&mut self.stream).expect("an echoed frame");
        assert_eq!(opcode, OP_TEXT, "the echo is a text frame");
        String::from_utf8(payload).expect("the echo is UTF-8")
    }

    /// The closing handshake (RFC 6455 §5.5.1): our close frame, then the server's.
    pub(crate) fn close(mut self) {
        self.stream
            .write_all(&frame(OP_CLOSE, &[0x03, 0xE8], Some(*b"mask")))
            .unwrap();
        let (opcode, _) = read_frame(&mut self.stream).expect("a close frame in reply");
        assert_eq!(opcode, OP_CLOSE, "the server answers close with close");
    }
}

/// Opens a WebSocket to `path` at `addr` (RFC 6455 §4.1) with `headers` (cookies, a
/// token) added: `Ok` once the `101` carries the right `Sec-WebSocket-Accept`, `Err`
/// with the whole response when the upgrade was refused.
pub(crate) fn websocket_connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocket, Response> {
    websocket_connect_over(addr, None, path, headers)
}

/// [`websocket_connect`] over TLS when `tls` is given (then with an `https://` Origin).
pub(crate) fn websocket_connect_over(
    addr: SocketAddr,
    tls: Option<&Tls>,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocket, Response> {
    let key = STANDARD.encode(*b"latchkey-ws-test");
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {scheme}://{addr}\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut conn = Conn::open_over(addr, tls);
    conn.send(request.as_bytes());
    // A 1xx head has no body; the echo upstream sends nothing after it until spoken to,
    // so no frame bytes can be left inside `conn`.
    let response = conn.response();
    if response.status != 101 {
        return Err(response);
    }
    assert_eq!(
        response.header("sec-websocket-accept"),
        Some(websocket_accept(&key).as_str()),
        "Sec-WebSocket-Accept must answer our key: {response:?}"
    );
    assert!(
        response
            .header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
        "101 names the websocket upgrade: {response:?}"
    );
    Ok(WebSocket {
        handshake: response,
        stream: conn,
    })
}
