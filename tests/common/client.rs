//! One HTTP/1.1 client, over plain sockets or TLS ([`Tls`]): a request on a fresh
//! connection, a connection that reads pipelined responses off in order, and a client
//! with a browser's cookie jar.

use super::tls::Tls;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// One parsed response.
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.text())
            .finish()
    }
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name`.
    pub(crate) fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not json: {}", self.text()))
    }

    /// The `Set-Cookie` header that sets cookie `name` or `__Host-name`.
    pub(crate) fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers_all("set-cookie").into_iter().find(|c| {
            c.split('=')
                .next()
                .is_some_and(|n| n == name || n == format!("__Host-{name}"))
        })
    }

    /// The `name=value` pair of [`Response::set_cookie`], ready for a Cookie header.
    pub(crate) fn cookie_pair(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .map(|c| c.split(';').next().unwrap().to_owned())
    }

    /// `Location` as a path on the server at `addr`: a relative reference as is, an
    /// absolute URL only if it points back at that server (anything else fails the test).
    pub(crate) fn location_path(&self, addr: SocketAddr) -> String {
        let location = self
            .header("location")
            .unwrap_or_else(|| panic!("no Location in {self:?}"));
        local_path(location, addr)
    }
}

/// Strips `http://127.0.0.1:port` (or `localhost`, or `https://` either) from an
/// absolute URL naming the server at `addr`; panics on any other origin.
pub(crate) fn local_path(location: &str, addr: SocketAddr) -> String {
    if location.starts_with('/') && !location.starts_with("//") {
        return location.to_owned();
    }
    let port = addr.port();
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
    ] {
        if let Some(path) = location.strip_prefix(&origin) {
            if path.is_empty() {
                return "/".to_owned();
            }
            if path.starts_with('/') {
                return path.to_owned();
            }
        }
    }
    panic!("redirect leaves the site: {location:?}");
}

/// One request on a fresh connection (`Connection: close`); reads the whole response.
/// `Host` is the server's address unless `headers` carries one; `Content-Length` is
/// added for a body and for every POST.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    request_over(addr, None, method, target, headers, body)
}

/// [`request`] over TLS when `tls` is given.
pub(crate) fn request_over(
    addr: SocketAddr,
    tls: Option<&Tls>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut conn = Conn::open_over(addr, tls);
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    conn.send(&bytes);
    if method == "HEAD" {
        conn.head_response()
    } else {
        conn.response()
    }
}

/// Reads one response (of a HEAD request if `head`) from `s`.
pub(crate) fn read_response(s: &mut TcpStream, head: bool) -> Response {
    let mut conn = Conn::plain(s.try_clone().unwrap());
    conn.read(head)
}

/// One connection that carries raw requests and reads the responses off it in order,
/// keeping the bytes of any response after the current one (pipelining). Over TLS,
/// `stream` is the socket under it (for timeouts and shutdown; bytes written to it
/// directly bypass TLS).
pub(crate) struct Conn {
    pub stream: TcpStream,
    #[cfg(feature = "tls")]
    tls: Option<Box<rustls::ClientConnection>>,
    pending: Vec<u8>,
}

impl Conn {
    fn plain(stream: TcpStream) -> Conn {
        Conn {
            stream,
            #[cfg(feature = "tls")]
            tls: None,
            pending: Vec::new(),
        }
    }

    /// Connects to `addr`, with reads timing out after 20 s.
    pub(crate) fn open(addr: SocketAddr) -> Conn {
        Conn::open_over(addr, None)
    }

    /// [`Conn::open`], then a TLS handshake when `tls` is given; panics if it fails.
    pub(crate) fn open_over(addr: SocketAddr, tls: Option<&Tls>) -> Conn {
        Conn::try_open_over(addr, tls)
            .unwrap_or_else(|err| panic!("connect {addr} (tls: {tls:?}): {err}"))
    }

    /// [`Conn::open_over`], with the connect or handshake error returned.
    pub(crate) fn try_open_over(addr: SocketAddr, tls: Option<&Tls>) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Conn::over(stream, tls)
    }

    /// A connection on `stream`, connected already (bound to some address first, say),
    /// after a TLS handshake on it when `tls` is given.
    pub(crate) fn over(stream: TcpStream, tls: Option<&Tls>) -> io::Result<Conn> {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut conn = Conn::plain(stream);
        if let Some(tls) = tls {
            #[cfg(feature = "tls")]
            {
                conn.tls = Some(Box::new(tls.handshake(&mut conn.stream)?));
            }
            #[cfg(not(feature = "tls"))]
            match *tls {}
        }
        Ok(conn)
    }

    /// The server's certificate chain, leaf first, as DER (empty on a plain connection).
    pub(crate) fn peer_certificates(&self) -> Vec<Vec<u8>> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls
                .peer_certificates()
                .unwrap_or_default()
                .iter()
                .map(|c| c.as_ref().to_vec())
                .collect();
        }
        Vec::new()
    }

    /// The ALPN protocol the server chose, if any (none on a plain connection).
    pub(crate) fn alpn(&self) -> Option<Vec<u8>> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.alpn_protocol().map(<[u8]>::to_vec);
        }
        None
    }

    /// Reads what is there from the connection (through TLS if it has it).
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return rustls::Stream::new(tls.as_mut(), &mut self.stream).read(buf);
        }
        self.stream.read(buf)
    }

    /// Writes `bytes` (through TLS if it has it), with the error.
    pub(crate) fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            let mut stream = rustls::Stream::new(tls.as_mut(), &mut self.stream);
            stream.write_all(bytes)?;
            return stream.flush();
        }
        self.stream.write_all(bytes)
    }

    /// Writes `bytes` as they are.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).unwrap();
    }

    /// The next response on the connection.
    pub(crate) fn response(&mut self) -> Response {
        self.read(false)
    }

    /// The next response, answering a HEAD request: a head without a body.
    pub(crate) fn head_response(&mut self) -> Response {
        self.read(true)
    }

    /// Whatever arrives up to the end of the first response head, as text; stops early
    /// at end of stream or a read error (a server may answer and close while the
    /// request is still being sent), so it may be empty.
    pub(crate) fn raw_head(&mut self) -> String {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = self.read_some(&mut chunk) {
            if n == 0 {
                break;
            }
            self.pending.extend_from_slice(&chunk[..n]);
            if find(&self.pending, b"\r\n\r\n").is_some() {
                break;
            }
        }
        String::from_utf8_lossy(&self.pending).into_owned()
    }

    /// Reads more into `pending`; the number of bytes, 0 at end of stream.
    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 8192];
        let n = self.read_some(&mut chunk).unwrap_or_else(|err| {
            panic!(
                "reading a response: {err}; received so far: {:?}",
                String::from_utf8_lossy(&self.pending)
            )
        });
        self.pending.extend_from_slice(&chunk[..n]);
        n
    }

    /// Takes the first `n` pending bytes, reading until there are that many.
    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.pending.len() < n {
            assert!(self.fill() > 0, "connection closed mid-body");
        }
        self.pending.drain(..n).collect()
    }

    /// Takes one CRLF-terminated line, without the CRLF.
    fn take_line(&mut self) -> String {
        let end = loop {
            if let Some(i) = find(&self.pending, b"\r\n") {
                break i;
            }
            assert!(self.fill() > 0, "connection closed inside a chunked body");
        };
        let line = self.take(end + 2);
        String::from_utf8_lossy(&line[..end]).into_owned()
    }

    /// Reads one response framed as RFC 9112 section 6.3 says: no body for HEAD, 1xx,
    /// 204 and 304; else chunked, else Content-Length, else up to the end of the stream.
    fn read(&mut self, head_only: bool) -> Response {
        let head_end = loop {
            if let Some(i) = find(&self.pending, b"\r\n\r\n") {
                break i + 4;
            }
            assert!(
                self.fill() > 0,
                "connection closed before a full response head: {:?}",
                String::from_utf8_lossy(&self.pending)
            );
        };
        let head = String::from_utf8(self.take(head_end)).unwrap();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad header line {l:?}"));
                (n.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only || status < 200 || status == 204 || status == 304 {
            return response;
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        response.body = if chunked {
            self.read_chunked()
        } else if let Some(len) = response.header("content-length") {
            self.take(len.parse().unwrap())
        } else {
            self.read_to_close()
        };
        response
    }

    /// Reads on to the end of the stream, dropping what comes: `Ok` at a clean end (over
    /// TLS: after the server's close_notify), else the error (over TLS, a TCP close
    /// without close_notify is `UnexpectedEof`: a truncation the client cannot tell
    /// from the end, RFC 8446 §6.1).
    pub(crate) fn end_of_stream(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 8192];
        loop {
            if self.read_some(&mut chunk)? == 0 {
                return Ok(());
            }
        }
    }

    /// A body delimited by the end of the stream; a reset after the data ends it too.
    fn read_to_close(&mut self) -> Vec<u8> {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = self.read_some(&mut chunk) {
            if n == 0 {
                break;
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
        std::mem::take(&mut self.pending)
    }

    /// A chunked body (RFC 9112 section 7.1), trailers read and dropped.
    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.take_line();
            let size_text = line.split(';').next().unwrap().trim();
            let size = usize::from_str_radix(size_text, 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            if size == 0 {
                while !self.take_line().is_empty() {}
                return body;
            }
            body.extend(self.take(size));
            assert_eq!(self.take(2), b"\r\n", "chunk not followed by CRLF");
        }
    }
}

/// The bytes after the responses read so far, then the connection's (through TLS if it
/// has it): for what follows an upgrade.
impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending.is_empty() {
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        self.read_some(buf)
    }
}

/// Writes through TLS if the connection has it.
impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.try_send(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The cookies a browser would hold for one site.
#[derive(Default, Debug, Clone)]
pub(crate) struct Jar {
    cookies: BTreeMap<String, String>,
}

impl Jar {
    /// Applies every `Set-Cookie` of `response`: an empty value, `Max-Age=0` or an
    /// `Expires` in 1970 deletes.
    pub(crate) fn absorb(&mut self, response: &Response) {
        for set in response.headers_all("set-cookie") {
            let mut parts = set.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let deleting = value.trim().is_empty()
                || parts.any(|attr| {
                    let attr = attr.trim().to_ascii_lowercase();
                    attr == "max-age=0" || (attr.starts_with("expires=") && attr.contains("1970"))
                });
            if deleting {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub(crate) fn insert(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// The `Cookie` header value, empty when the jar is.
    pub(crate) fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Any session cookie, under either name latchkey may use.
    pub(crate) fn session(&self) -> Option<&str> {
        self.get("latchkey_session")
            .or_else(|| self.get("__Host-latchkey_session"))
    }
}

/// A browser's view of one site: every request carries the jar's cookies and every
/// response's `Set-Cookie` lands in the jar.
pub(crate) struct Client {
    pub addr: SocketAddr,
    pub jar: Jar,
    /// TLS to the server, or plain HTTP.
    pub tls: Option<Tls>,
}

impl Client {
    pub(crate) fn new(addr: SocketAddr) -> Client {
        Client::new_over(addr, None)
    }

    /// A client that talks to `addr` over TLS when `tls` is given.
    pub(crate) fn new_over(addr: SocketAddr, tls: Option<Tls>) -> Client {
        Client {
            addr,
            jar: Jar::default(),
            tls,
        }
    }

    /// [`request`] with the jar's cookies, whose `Set-Cookie`s go into the jar.
    pub(crate) fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let cookie = self.jar.header();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("Cookie", &cookie));
        }
        let response = request_over(self.addr, self.tls.as_ref(), method, target, &all, body);
        self.jar.absorb(&response);
        response
    }

    pub(crate) fn get(&mut self, target: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", target, headers, b"")
    }

    pub(crate) fn post(&mut self, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.request("POST", target, headers, body)
    }
}

/// A TCP connection to `to` from `from` (any address of 127.0.0.0/8 is this host's on
/// Linux), so one test can be several clients; `recv_buffer` shrinks its receive
/// buffer first. Connecting and reads time out after 5 s.
pub(crate) fn connect_from(
    from: Ipv4Addr,
    to: SocketAddr,
    recv_buffer: Option<usize>,
) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(&SocketAddr::new(IpAddr::V4(from), 0).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(stream)
}
