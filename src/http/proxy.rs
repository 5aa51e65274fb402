//! Forwarding a request to an upstream and relaying its answer, on the loop thread.
//!
//! A handler answers [`Reply::Forward`](super::Reply::Forward) with the rewritten
//! request head (a [`Forward`]) and a [`ForwardPolicy`] for the response. The server
//! then opens a non-blocking connection to the upstream, registers it in the same poll
//! as the clients, and moves bytes in both directions through two bounded buffers
//! (`Limits::proxy_buffer_bytes` each): a side is not read while the buffer it would
//! fill is full, so a fast sender waits for a slow receiver (back-pressure) and memory
//! stays bounded whatever the body sizes.
//!
//! Framing is the server's on both connections (RFC 9112 §6):
//! - To the upstream: the handler's head, then `Content-Length` or
//!   `Transfer-Encoding: chunked` for the client's body (a chunked body is decoded
//!   strictly and encoded anew, never passed through). A request without a body
//!   keeps its upstream connection, which goes back to a small pool (`http::pool`)
//!   when the exchange ended cleanly; one with a body, or an upgrade, says
//!   `Connection: close` (or `Upgrade`). Only a body-less request with an idempotent
//!   method (RFC 9110 §9.2.2) is sent on a pooled connection, and only such a request
//!   is retried once, on a fresh one, when the pooled connection turns out closed.
//! - To the client: the upstream's status and end-to-end headers as the policy edits
//!   them, then `Content-Length` when the upstream gave one, else chunked (to an
//!   HTTP/1.1 client) or close-delimited (HTTP/1.0). A response to HEAD, a 204 or a 304
//!   has no body. Interim 1xx responses go on to HTTP/1.1 clients, at most
//!   `MAX_INTERIM` per exchange, each once the client's output has room.
//! - An upstream that fails before the response head reaches the client is answered
//!   by the policy ([`ForwardPolicy::failed`]: 502, or 504 on timeout); one that fails
//!   after it closes the client connection, so a cut body is never taken for whole.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::time::Instant;

use super::chunked::{self, CHUNK_OVERHEAD, ChunkError, ChunkedDecoder};
use super::conn::Conn;
use super::error::HttpError;
use super::header::{self, HeaderError, is_control, is_tchar};
use super::limits::Limits;
use super::pool::UpstreamSock;
use super::request::{RequestBody, RequestFacts, Version};
use super::response::{Response, reason};
use super::upstream::{BodyFraming, HOP_BY_HOP, ResponseError, parse_response_head};

/// A request to forward: which upstream, and the head to send it.
///
/// The head is built here with checked parts; the server adds the framing fields
/// (`Content-Length` or `Transfer-Encoding`) and `Connection`.
///
/// ```
/// use latchkey::http::{Forward, ForwardPolicy, HeaderError, ProxyError, Response};
/// struct Plain;
/// impl ForwardPolicy for Plain {
///     fn response_head(&mut self, _status: u16, _headers: &mut Vec<(String, Vec<u8>)>) {}
///     fn failed(&mut self, error: &ProxyError) -> Response {
///         Response::text(error.status(), error.to_string())
///     }
/// }
/// let mut forward = Forward::new(0, "GET", "/app?x=1", Box::new(Plain)).unwrap();
/// forward.header("Host", b"device.lan").unwrap();
/// assert_eq!(forward.header("X-Evil", b"a\r\nb: c"), Err(HeaderError::InvalidValue));
/// assert_eq!(forward.header("Transfer-Encoding", b"chunked"), Err(HeaderError::Reserved));
/// ```
pub struct Forward {
    upstream: usize,
    head: Vec<u8>,
    /// The method gives content a meaning (POST, PUT, PATCH): a request without a body
    /// is sent with `Content-Length: 0` (RFC 9110 §8.6).
    expects_content: bool,
    /// The method is idempotent (RFC 9110 §9.2.2): only such a request may go on a
    /// pooled connection, whose failure before the answer sends it again.
    idempotent: bool,
    /// The protocol to switch to (`websocket`), when the client asked to upgrade.
    upgrade: Option<String>,
    /// The credential the exchange runs on, checked again every second
    /// ([`Handler::still_allowed`](super::Handler::still_allowed)).
    ticket: Option<Vec<u8>>,
    policy: Box<dyn ForwardPolicy>,
}

impl Forward {
    /// Starts the head `METHOD TARGET HTTP/1.1` for upstream number `upstream` (in the
    /// list given to [`Server::upstreams`](super::Server::upstreams)). The method must
    /// be a token and the target printable, without spaces.
    pub fn new(
        upstream: usize,
        method: &str,
        target: &str,
        policy: Box<dyn ForwardPolicy>,
    ) -> Result<Forward, HeaderError> {
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(HeaderError::InvalidName);
        }
        if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(HeaderError::InvalidValue);
        }
        let mut head = Vec::with_capacity(1024);
        head.extend_from_slice(method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(target.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        Ok(Forward {
            upstream,
            head,
            expects_content: matches!(method, "POST" | "PUT" | "PATCH"),
            idempotent: matches!(
                method,
                "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
            ),
            upgrade: None,
            ticket: None,
            policy,
        })
    }

    /// Adds a header field, refusing a name that is not a token, a hop-by-hop or
    /// framing field, and a value with a control character other than HTAB.
    pub fn header(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderError> {
        header::check_forwarded(name, value)?;
        self.head.extend_from_slice(name.as_bytes());
        self.head.extend_from_slice(b": ");
        self.head.extend_from_slice(value.trim_ascii());
        self.head.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The upstream's number.
    pub fn upstream(&self) -> usize {
        self.upstream
    }

    /// Whether the request may go on a pooled connection: a pooled connection the
    /// upstream closed unseen makes the request go again, which RFC 9110 §9.2.2
    /// forbids for a non-idempotent method (a POST may already have been acted on).
    pub(crate) fn may_use_pool(&self) -> bool {
        self.idempotent
    }

    /// Asks the upstream to switch to `protocol` (RFC 9110 §7.8: `Connection: Upgrade`
    /// and `Upgrade: protocol` are sent). If it answers 101, the client gets the 101
    /// and the connection becomes a byte tunnel between the two until either closes,
    /// nothing moves for `Limits::tunnel_idle`, or the ticket is no longer allowed.
    /// The request must have no body.
    pub fn upgrade(&mut self, protocol: &str) -> Result<(), HeaderError> {
        if protocol.is_empty() || !protocol.bytes().all(is_tchar) {
            return Err(HeaderError::InvalidValue);
        }
        self.upgrade = Some(protocol.to_owned());
        Ok(())
    }

    /// The credential this exchange runs on: while it lasts, the server asks the
    /// handler about once a second whether it is still allowed, and cuts the exchange
    /// (a tunnel, a long download or event stream) when it is not.
    pub fn ticket(&mut self, ticket: Vec<u8>) {
        self.ticket = Some(ticket);
    }

    /// The policy, to answer a forward that could not start.
    pub(crate) fn into_policy(self) -> Box<dyn ForwardPolicy> {
        self.policy
    }
}

impl fmt::Debug for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The head carries cookies and tokens: its size only.
        f.debug_struct("Forward")
            .field("upstream", &self.upstream)
            .field("head_len", &self.head.len())
            .finish_non_exhaustive()
    }
}

/// The handler's say over an exchange once it is under way.
pub trait ForwardPolicy {
    /// Edits the upstream's response headers before they go to the client. The
    /// hop-by-hop and framing fields are already gone, and any added later are
    /// dropped; a field whose name is not a token or whose value holds a control
    /// character is dropped too.
    fn response_head(&mut self, status: u16, headers: &mut Vec<(String, Vec<u8>)>);
    /// The answer to the client when the exchange failed before any of the response
    /// reached it; the connection closes after it.
    fn failed(&mut self, error: &ProxyError) -> Response;
}

/// Why an exchange with an upstream failed before the response head reached the client.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProxyError {
    /// The upstream could not be reached (refused, unreachable, or no socket).
    Connect(io::Error),
    /// Nothing moved for `Limits::upstream_timeout` before a response head.
    Timeout,
    /// The response head was invalid.
    Response(ResponseError),
    /// The upstream closed or reset the connection before a complete response head.
    Closed,
    /// More interim (1xx) answers than an exchange may relay.
    TooManyInterim,
}

impl ProxyError {
    /// The status answering this failure: 504 for a timeout, else 502.
    pub fn status(&self) -> u16 {
        match self {
            ProxyError::Timeout => 504,
            _ => 502,
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::Connect(e) => write!(f, "upstream unreachable: {e}"),
            ProxyError::Timeout => f.write_str("upstream timed out"),
            ProxyError::Response(e) => write!(f, "invalid upstream response: {e}"),
            ProxyError::Closed => f.write_str("upstream closed the connection"),
            ProxyError::TooManyInterim => f.write_str("too many interim responses"),
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyError::Connect(e) => Some(e),
            ProxyError::Response(e) => Some(e),
            _ => None,
        }
    }
}

/// Most interim (1xx) answers relayed in one exchange: 100 Continue and a few 103
/// Early Hints are all an application needs (RFC 9110 §15.2); more is a loop or an
/// attack, answered 502.
const MAX_INTERIM: u8 = 16;

/// What is left of the client's body to send.
enum Upload {
    Length(u64),
    Chunked(ChunkedDecoder),
    Done,
}

/// Where the response is.
enum Download {
    /// Waiting for the final response head.
    Head,
    /// Relaying the body; `chunked_out` when it goes to the client chunked.
    Body { relay: Relay, chunked_out: bool },
    /// All of the response is queued for the client.
    Done,
    /// Switched protocols: bytes pass both ways as they are.
    Tunnel,
}

/// How the upstream delimits the body being relayed.
enum Relay {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// One exchange with an upstream, owned by the client connection it serves.
pub(crate) struct Exchange {
    sock: UpstreamSock,
    /// The upstream's index.
    upstream: usize,
    connected: bool,
    /// The connection came from the pool; `retry_head` is the head to send again on a
    /// new connection if it turns out dead before any of the answer arrives.
    reused: bool,
    retry_head: Option<Vec<u8>>,
    /// The request asked to keep the upstream connection (it had no body).
    keep_upstream: bool,
    /// The protocol the request asked to switch to.
    upgrade: Option<String>,
    /// See [`Forward::ticket`].
    pub(crate) ticket: Option<Vec<u8>>,
    /// The response allows keeping the connection: HTTP/1.1, no `Connection: close`,
    /// delimited by length or last chunk.
    reusable_response: bool,
    pub(crate) facts: RequestFacts,
    pub(crate) policy: Box<dyn ForwardPolicy>,
    /// The head, then the body as re-framed; `sent` bytes of it are written.
    to_upstream: Vec<u8>,
    sent: usize,
    upload: Upload,
    /// The upstream stopped taking the request (a write failed): nothing more is sent,
    /// and the client connection closes after the response.
    upload_cut: bool,
    from_upstream: Vec<u8>,
    /// The upstream closed its side (`broken`: with an error, e.g. a reset).
    upstream_eof: bool,
    upstream_broken: bool,
    download: Download,
    /// Part of the response has been queued for the client: a failure now can only
    /// close the connection.
    pub(crate) answered: bool,
    /// Interim (1xx) answers relayed so far, at most [`MAX_INTERIM`].
    interim: u8,
    /// The client connection closes after the response.
    close_client: bool,
    /// When a byte last moved, for `Limits::upstream_timeout`.
    last_progress: Instant,
    /// When the exchange began: its request has been arriving since then.
    started: Instant,
    /// When the whole request had been written to the upstream: the response head is
    /// due `Limits::upstream_timeout` after it, however slowly its bytes come.
    sent_at: Option<Instant>,
}

/// What driving an exchange came to.
pub(crate) enum Outcome {
    /// Waiting for a socket (or for room in a buffer another socket will free).
    Wait,
    /// The turn's read budget is spent with bytes perhaps still waiting: drive it
    /// again after the other ready connections (edge-triggered polling will not
    /// report its sockets again).
    Again,
    /// The response is queued for the client; `close` says the client connection
    /// closes after it, `keep` hands back an upstream connection fit for the pool.
    Finished {
        close: bool,
        keep: Option<(usize, UpstreamSock)>,
    },
    /// A pooled connection was dead: send the request again on a new one.
    Retry,
    /// Close the client connection now (the client went away or broke).
    Close,
    /// The upstream failed after part of the response went out: send what is queued,
    /// then close, so the client sees the body cut short (RFC 9112 §8).
    Cut,
    /// Answer the client with the policy's [`ForwardPolicy::failed`] and close.
    Failed(ProxyError),
    /// The client's streamed body is invalid: answer with this error and close.
    BadBody(HttpError),
}

impl Exchange {
    /// Starts an exchange on `sock` (new and connecting, or `reused` from the pool)
    /// and queues the head. The caller registers [`Exchange::socket`] in the poll.
    pub(crate) fn start(
        forward: Forward,
        sock: UpstreamSock,
        reused: bool,
        body: Option<RequestBody>,
        facts: RequestFacts,
        max_upload: u64,
        now: Instant,
    ) -> Exchange {
        let Forward {
            upstream,
            head,
            expects_content,
            idempotent: _,
            upgrade,
            ticket,
            policy,
        } = forward;
        let mut to_upstream = head;
        let upload = match body {
            None => {
                if expects_content {
                    to_upstream.extend_from_slice(b"Content-Length: 0\r\n");
                }
                Upload::Done
            }
            Some(RequestBody::Length(len)) => {
                to_upstream.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
                if len == 0 {
                    Upload::Done
                } else {
                    Upload::Length(len)
                }
            }
            Some(RequestBody::Chunked) => {
                to_upstream.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                Upload::Chunked(ChunkedDecoder::new(max_upload))
            }
        };
        // Only a request without a body may keep (or reuse) the upstream connection;
        // an upgrade takes the connection for good.
        let keep_upstream = body.is_none() && upgrade.is_none();
        if let Some(protocol) = &upgrade {
            to_upstream.extend_from_slice(b"Connection: Upgrade\r\nUpgrade: ");
            to_upstream.extend_from_slice(protocol.as_bytes());
            to_upstream.extend_from_slice(b"\r\n");
        } else if !keep_upstream {
            to_upstream.extend_from_slice(b"Connection: close\r\n");
        }
        to_upstream.extend_from_slice(b"\r\n");
        Exchange {
            sock,
            upstream,
            connected: reused,
            reused,
            retry_head: reused.then(|| to_upstream.clone()),
            keep_upstream,
            upgrade,
            ticket,
            reusable_response: false,
            facts,
            policy,
            to_upstream,
            sent: 0,
            upload,
            upload_cut: false,
            from_upstream: Vec::new(),
            upstream_eof: false,
            upstream_broken: false,
            download: Download::Head,
            answered: false,
            interim: 0,
            close_client: false,
            last_progress: now,
            started: now,
            sent_at: None,
        }
    }

    /// The upstream's index.
    pub(crate) fn upstream(&self) -> usize {
        self.upstream
    }

    /// Sends the request again on `sock`, a new connection, after the pooled one
    /// failed before any of the answer arrived. `false` if that cannot be done.
    pub(crate) fn restart(&mut self, sock: UpstreamSock) -> bool {
        let Some(head) = self.retry_head.take() else {
            return false;
        };
        self.sock = sock;
        self.connected = false;
        self.reused = false;
        self.to_upstream = head;
        self.sent = 0;
        self.upload_cut = false;
        self.from_upstream.clear();
        self.upstream_eof = false;
        self.upstream_broken = false;
        self.sent_at = None;
        true
    }

    /// Whether the pooled connection died before any of the answer came, so the
    /// request may go again on a new one.
    fn may_retry(&self) -> bool {
        self.reused && !self.answered && self.from_upstream.is_empty()
    }

    /// The upstream socket, to register in the poll.
    pub(crate) fn socket(&mut self) -> &mut UpstreamSock {
        &mut self.sock
    }

    /// Whether the client's body is still coming.
    fn uploading(&self) -> bool {
        !matches!(self.upload, Upload::Done)
    }

    /// Since when the request has been arriving, while its body is still coming and
    /// nothing of the answer has gone out: such an exchange may be given up for a new
    /// connection like a request arriving for latchkey itself.
    pub(crate) fn arriving_since(&self) -> Option<Instant> {
        (self.uploading() && !self.answered).then_some(self.started)
    }

    /// Whether the connection has switched protocols.
    fn tunnel(&self) -> bool {
        matches!(self.download, Download::Tunnel)
    }

    /// When the exchange times out: `Limits::upstream_timeout` after the request was
    /// sent while no answer has reached the client (trickled head bytes do not move
    /// it), else the idle limit after the last byte moved.
    pub(crate) fn deadline(&self, limits: &Limits) -> Instant {
        match self.sent_at {
            Some(sent) if !self.answered => sent + limits.upstream_timeout,
            _ => self.last_progress + self.idle_limit(limits),
        }
    }

    /// How long the exchange may go without a byte moving.
    fn idle_limit(&self, limits: &Limits) -> std::time::Duration {
        if self.tunnel() {
            limits.tunnel_idle
        } else {
            limits.upstream_timeout
        }
    }

    fn pending_upstream(&self) -> usize {
        self.to_upstream.len().saturating_sub(self.sent)
    }
}

/// Moves the exchange of `conn` as far as it goes. `scratch` is where reads land.
/// Bytes read from either socket count against `budget`, the connection's read
/// budget for this turn of the loop, so one busy exchange cannot hold the loop.
pub(crate) fn drive(
    conn: &mut Conn,
    scratch: &mut [u8],
    limits: &Limits,
    now: Instant,
    draining: bool,
    budget: &mut usize,
) -> Outcome {
    let Some(mut exchange) = conn.exchange.take() else {
        return Outcome::Close;
    };
    let outcome = drive_exchange(&mut exchange, conn, scratch, limits, now, draining, budget);
    match outcome {
        // The server still needs the exchange: to wait, to come back, to answer with
        // its policy, or to send its request again.
        Outcome::Wait | Outcome::Again | Outcome::Failed(_) | Outcome::Retry => {
            conn.exchange = Some(exchange)
        }
        Outcome::Finished { close, keep: None } => {
            // Not after HEAD: an app that wrongly sends a body with its answer would
            // leave it to be read as the next user's response.
            let reusable = exchange.keep_upstream
                && !exchange.facts.head_only
                && exchange.reusable_response
                && !exchange.upload_cut
                && !exchange.upstream_eof
                && exchange.from_upstream.is_empty()
                && exchange.pending_upstream() == 0;
            let keep = reusable.then_some((exchange.upstream, exchange.sock));
            return Outcome::Finished { close, keep };
        }
        _ => {}
    }
    outcome
}

fn drive_exchange(
    x: &mut Exchange,
    conn: &mut Conn,
    scratch: &mut [u8],
    limits: &Limits,
    now: Instant,
    draining: bool,
    budget: &mut usize,
) -> Outcome {
    let cap = limits.proxy_buffer_bytes.max(CHUNK_OVERHEAD + 1);
    loop {
        if *budget == 0 {
            return Outcome::Again;
        }
        let mut moved = false;
        if !x.connected {
            match x.sock.connect_status() {
                Ok(true) => {
                    x.connected = true;
                    moved = true;
                }
                Ok(false) => {}
                Err(e) => return Outcome::Failed(ProxyError::Connect(e)),
            }
        }
        // Client → its input buffer, while its body is coming (or the tunnel is open)
        // and there is room.
        if (x.uploading() || x.tunnel()) && !x.upload_cut && conn.input.len() < cap {
            match read_some(&mut conn.sock, &mut conn.input, cap, scratch) {
                ReadResult::Got(n) => {
                    // A TLS client's records that held no plaintext (`Got(0)`) cost too.
                    *budget = budget.saturating_sub(n.max(RECORDS_WITHOUT_PLAINTEXT));
                    moved = true;
                }
                ReadResult::Blocked => {}
                ReadResult::Eof if x.tunnel() => {
                    // The client is done: pass on what it sent last (a close frame),
                    // then close both.
                    x.to_upstream.extend_from_slice(&conn.input);
                    let _ = write_some(&mut x.sock, &x.to_upstream[x.sent..]);
                    return Outcome::Close;
                }
                // The client went away in the middle of its body.
                ReadResult::Eof | ReadResult::Failed => return Outcome::Close,
            }
        }
        // In a tunnel, the client's bytes go to the upstream as they are.
        if x.tunnel() && !x.upload_cut && !conn.input.is_empty() {
            let take = cap
                .saturating_sub(x.pending_upstream())
                .min(conn.input.len());
            if take > 0 {
                x.to_upstream.extend(conn.input.drain(..take));
                moved = true;
            }
        }
        // Client input → the upstream's buffer, re-framed.
        if x.uploading() && !x.upload_cut && !conn.input.is_empty() {
            let room = cap.saturating_sub(x.pending_upstream());
            match take_body(x, &mut conn.input, room) {
                Ok(true) => moved = true,
                Ok(false) => {}
                Err(error) => {
                    return if x.answered {
                        Outcome::Close
                    } else {
                        Outcome::BadBody(error)
                    };
                }
            }
        }
        // The upstream's buffer → the upstream.
        if x.connected && !x.upload_cut && x.pending_upstream() > 0 {
            match write_some(&mut x.sock, &x.to_upstream[x.sent..]) {
                Ok(0) => {}
                Ok(n) => {
                    x.sent += n;
                    moved = true;
                    if x.sent == x.to_upstream.len() {
                        x.to_upstream.clear();
                        x.sent = 0;
                    } else if x.sent >= cap / 2 {
                        x.to_upstream.drain(..x.sent);
                        x.sent = 0;
                    }
                }
                // The upstream will take no more (it may have answered already).
                Err(_) => {
                    x.upload_cut = true;
                    moved = true;
                }
            }
        }
        // The upstream → its response buffer.
        let reading = x.connected
            && !x.upstream_eof
            && !matches!(x.download, Download::Done)
            && x.from_upstream.len() < cap;
        if reading {
            match read_some(&mut x.sock, &mut x.from_upstream, cap, scratch) {
                ReadResult::Got(n) => {
                    *budget = budget.saturating_sub(n);
                    moved = true;
                }
                ReadResult::Blocked => {}
                ReadResult::Eof => {
                    x.upstream_eof = true;
                    moved = true;
                }
                ReadResult::Failed => {
                    x.upstream_eof = true;
                    x.upstream_broken = true;
                    moved = true;
                }
            }
        }
        // The response buffer → the client's output.
        match relay(x, conn, cap, draining) {
            Ok(true) => moved = true,
            Ok(false) => {}
            Err(outcome) => return outcome,
        }
        // The client's output → the client.
        if conn.pending_output() > 0 {
            let before = conn.pending_output();
            if conn.flush(now).is_err() {
                return Outcome::Close;
            }
            moved |= conn.pending_output() < before;
        }
        if x.sent_at.is_none() && x.connected && !x.uploading() && x.pending_upstream() == 0 {
            x.sent_at = Some(now);
        }
        if moved {
            x.last_progress = now;
        } else {
            break;
        }
        if matches!(x.download, Download::Done) {
            break;
        }
    }
    if matches!(x.download, Download::Done) {
        // A body the upstream did not wait for is left unread: the connection cannot
        // carry another request after it.
        let close = x.close_client || x.uploading() || x.upload_cut;
        return Outcome::Finished { close, keep: None };
    }
    Outcome::Wait
}

enum ReadResult {
    Got(usize),
    Blocked,
    Eof,
    Failed,
}

/// One read from `sock` appended to `buf`, up to `cap` bytes in `buf`.
fn read_some(
    sock: &mut impl Read,
    buf: &mut Vec<u8>,
    cap: usize,
    scratch: &mut [u8],
) -> ReadResult {
    let room = cap.saturating_sub(buf.len()).min(scratch.len());
    let Some(space) = scratch.get_mut(..room).filter(|space| !space.is_empty()) else {
        return ReadResult::Blocked;
    };
    match sock.read(space) {
        Ok(0) => ReadResult::Eof,
        Ok(n) => {
            buf.extend_from_slice(space.get(..n).unwrap_or_default());
            ReadResult::Got(n)
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => ReadResult::Blocked,
        // EINTR, or from a TLS client: records read, no plaintext yet (see
        // `transport`). The caller comes back, charged for it.
        Err(e) if e.kind() == ErrorKind::Interrupted => ReadResult::Got(0),
        Err(_) => ReadResult::Failed,
    }
}

/// What a read that took TLS records but gave no plaintext costs the read budget.
const RECORDS_WITHOUT_PLAINTEXT: usize = 16 * 1024;

/// One write of `bytes`; `Ok(0)` when the socket would block.
fn write_some(sock: &mut impl Write, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match sock.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(0),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Moves body bytes from the client's `input` into the upstream's buffer (at most
/// about `room` bytes), re-framing a chunked body. `Ok(true)` if anything moved.
fn take_body(x: &mut Exchange, input: &mut Vec<u8>, room: usize) -> Result<bool, HttpError> {
    match &mut x.upload {
        Upload::Done => Ok(false),
        Upload::Length(left) => {
            let take = usize::try_from(*left)
                .unwrap_or(usize::MAX)
                .min(input.len())
                .min(room);
            if take == 0 {
                return Ok(false);
            }
            x.to_upstream.extend(input.drain(..take));
            *left -= take as u64;
            if *left == 0 {
                x.upload = Upload::Done;
            }
            Ok(true)
        }
        Upload::Chunked(decoder) => {
            if room <= CHUNK_OVERHEAD {
                return Ok(false);
            }
            let out = &mut x.to_upstream;
            let progress = decoder
                .decode(input, room - CHUNK_OVERHEAD, |data| {
                    chunked::encode_chunk(out, data);
                })
                .map_err(|error| match error {
                    ChunkError::BodyTooLarge => HttpError::BodyTooLarge,
                    _ => HttpError::InvalidChunk,
                })?;
            input.drain(..progress.consumed);
            if progress.done {
                x.to_upstream.extend_from_slice(chunked::LAST_CHUNK);
                x.upload = Upload::Done;
            }
            Ok(progress.consumed > 0)
        }
    }
}

/// Moves what the upstream sent into the client's output: the response head once it
/// is complete, then the body as far as the output has room. `Ok(true)` if anything
/// moved; `Err` ends the exchange.
fn relay(x: &mut Exchange, conn: &mut Conn, cap: usize, draining: bool) -> Result<bool, Outcome> {
    match &mut x.download {
        Download::Done => Ok(false),
        Download::Tunnel => {
            let take = cap
                .saturating_sub(conn.pending_output())
                .min(x.from_upstream.len());
            conn.output.extend(x.from_upstream.drain(..take));
            if x.from_upstream.is_empty() && x.upstream_eof {
                // The upstream is done: send what is left, then close.
                return Err(Outcome::Cut);
            }
            Ok(take > 0)
        }
        Download::Head => {
            // The next head waits while the client's output is full: interim answers
            // queued for a client that does not read are bounded like a body.
            if conn.pending_output() >= cap {
                return Ok(false);
            }
            let head = match parse_response_head(&x.from_upstream, x.facts.head_only) {
                Ok(Some(head)) => head,
                Ok(None) if x.upstream_eof && x.may_retry() => return Err(Outcome::Retry),
                Ok(None) if x.upstream_eof => return Err(Outcome::Failed(ProxyError::Closed)),
                Ok(None) => return Ok(false),
                Err(e) => return Err(Outcome::Failed(ProxyError::Response(e))),
            };
            x.from_upstream.drain(..head.head_len);
            let mut headers = head.headers;
            if head.status == 101 {
                // Only an upgrade that was asked for (RFC 9110 §15.2.2), by an HTTP/1.1
                // client.
                let Some(protocol) = x.upgrade.clone() else {
                    return Err(Outcome::Failed(ProxyError::Response(
                        ResponseError::BadStatus,
                    )));
                };
                if x.facts.version != Version::Http11 {
                    return Err(Outcome::Failed(ProxyError::Response(
                        ResponseError::BadStatus,
                    )));
                }
                x.policy.response_head(head.status, &mut headers);
                let out = &mut conn.output;
                out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
                write_fields(out, &headers);
                out.extend_from_slice(b"Connection: Upgrade\r\nUpgrade: ");
                out.extend_from_slice(protocol.as_bytes());
                out.extend_from_slice(b"\r\n\r\n");
                x.answered = true;
                x.download = Download::Tunnel;
                return Ok(true);
            }
            x.policy.response_head(head.status, &mut headers);
            if head.status < 200 {
                x.interim += 1;
                if x.interim > MAX_INTERIM {
                    return Err(Outcome::Failed(ProxyError::TooManyInterim));
                }
                // Interim answers (100 Continue, 103 Early Hints) go on to HTTP/1.1
                // clients (RFC 9110 §15.2: HTTP/1.0 ones cannot take them).
                if x.facts.version == Version::Http11 {
                    let out = &mut conn.output;
                    out.extend_from_slice(
                        format!("HTTP/1.1 {} {}\r\n", head.status, reason(head.status)).as_bytes(),
                    );
                    write_fields(out, &headers);
                    out.extend_from_slice(b"\r\n");
                }
                return Ok(true);
            }
            x.reusable_response = head.http11
                && !head.close
                && matches!(
                    head.body,
                    BodyFraming::None | BodyFraming::Length(_) | BodyFraming::Chunked
                );
            let to_client_11 = x.facts.version == Version::Http11;
            let until_close = matches!(head.body, BodyFraming::Chunked | BodyFraming::UntilClose);
            let chunked_out = until_close && to_client_11;
            x.close_client = !x.facts.keep_alive || draining || (until_close && !to_client_11);
            let out = &mut conn.output;
            out.extend_from_slice(
                format!("HTTP/1.1 {} {}\r\n", head.status, reason(head.status)).as_bytes(),
            );
            write_fields(out, &headers);
            match head.body {
                BodyFraming::Length(len) => {
                    out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
                }
                BodyFraming::None => {
                    if let Some(len) = head.declared_length {
                        out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
                    }
                }
                BodyFraming::Chunked | BodyFraming::UntilClose => {
                    if chunked_out {
                        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                    }
                }
            }
            if x.close_client {
                out.extend_from_slice(b"Connection: close\r\n");
            } else if !to_client_11 {
                out.extend_from_slice(b"Connection: keep-alive\r\n");
            }
            out.extend_from_slice(b"\r\n");
            x.answered = true;
            x.download = match head.body {
                BodyFraming::None => Download::Done,
                BodyFraming::Length(0) => Download::Done,
                BodyFraming::Length(len) => Download::Body {
                    relay: Relay::Length(len),
                    chunked_out: false,
                },
                // The response's own limit is the client's to judge: no cap here.
                BodyFraming::Chunked => Download::Body {
                    relay: Relay::Chunked(ChunkedDecoder::new(u64::MAX)),
                    chunked_out,
                },
                BodyFraming::UntilClose => Download::Body {
                    relay: Relay::UntilClose,
                    chunked_out,
                },
            };
            Ok(true)
        }
        Download::Body { relay, chunked_out } => {
            let chunked_out = *chunked_out;
            let room = cap.saturating_sub(conn.pending_output());
            let out = &mut conn.output;
            let mut finished = false;
            let moved = match relay {
                Relay::Length(left) => {
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(x.from_upstream.len())
                        .min(room);
                    out.extend(x.from_upstream.drain(..take));
                    *left -= take as u64;
                    finished = *left == 0;
                    if !finished && x.from_upstream.is_empty() && x.upstream_eof {
                        return Err(Outcome::Cut);
                    }
                    take > 0
                }
                Relay::Chunked(decoder) => {
                    if room <= CHUNK_OVERHEAD {
                        return Ok(false);
                    }
                    let progress = decoder
                        .decode(&x.from_upstream, room - CHUNK_OVERHEAD, |data| {
                            if chunked_out {
                                chunked::encode_chunk(out, data);
                            } else {
                                out.extend_from_slice(data);
                            }
                        })
                        .map_err(|_| Outcome::Cut)?;
                    x.from_upstream.drain(..progress.consumed);
                    finished = progress.done;
                    if !finished && x.from_upstream.is_empty() && x.upstream_eof {
                        return Err(Outcome::Cut);
                    }
                    progress.consumed > 0
                }
                Relay::UntilClose => {
                    let take = x
                        .from_upstream
                        .len()
                        .min(room.saturating_sub(CHUNK_OVERHEAD));
                    let data = x.from_upstream.get(..take).unwrap_or_default();
                    if chunked_out {
                        chunked::encode_chunk(out, data);
                    } else {
                        out.extend_from_slice(data);
                    }
                    x.from_upstream.drain(..take);
                    if x.from_upstream.is_empty() && x.upstream_eof {
                        // A reset is not an end: the body may be cut.
                        if x.upstream_broken {
                            return Err(Outcome::Cut);
                        }
                        finished = true;
                    }
                    take > 0
                }
            };
            if finished {
                if chunked_out {
                    out.extend_from_slice(chunked::LAST_CHUNK);
                }
                x.download = Download::Done;
                return Ok(true);
            }
            Ok(moved)
        }
    }
}

/// Appends the fields that may go to the client: token names that are not hop-by-hop
/// or framing, values without control characters.
fn write_fields(out: &mut Vec<u8>, fields: &[(String, Vec<u8>)]) {
    for (name, value) in fields {
        let sendable = !name.is_empty()
            && name.bytes().all(is_tchar)
            && !HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop))
            && !value.iter().any(|&b| is_control(b));
        if sendable {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.trim_ascii());
            out.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quiet;
    impl ForwardPolicy for Quiet {
        fn response_head(&mut self, _status: u16, _headers: &mut Vec<(String, Vec<u8>)>) {}
        fn failed(&mut self, error: &ProxyError) -> Response {
            Response::new(error.status())
        }
    }

    #[test]
    fn the_forwarded_head_is_checked_as_it_is_built() {
        assert!(Forward::new(0, "GET /x", "/", Box::new(Quiet)).is_err());
        assert!(Forward::new(0, "GET", "/a b", Box::new(Quiet)).is_err());
        assert!(Forward::new(0, "GET", "/a\r\n", Box::new(Quiet)).is_err());
        let mut forward = Forward::new(0, "PUT", "/firmware?v=2", Box::new(Quiet)).unwrap();
        for name in [
            "Content-Length",
            "connection",
            "Keep-Alive",
            "TE",
            "Upgrade",
        ] {
            assert_eq!(
                forward.header(name, b"1"),
                Err(HeaderError::Reserved),
                "{name}"
            );
        }
        assert_eq!(forward.header("X A", b"1"), Err(HeaderError::InvalidName));
        assert_eq!(
            forward.header("X-A", b"1\n"),
            Err(HeaderError::InvalidValue)
        );
        forward.header("X-A", b" \xffok\t ").unwrap();
        assert_eq!(
            forward.head,
            b"PUT /firmware?v=2 HTTP/1.1\r\nX-A: \xffok\r\n"
        );
    }

    #[test]
    fn failures_before_the_head_are_502_or_504() {
        assert_eq!(ProxyError::Timeout.status(), 504);
        assert_eq!(ProxyError::Closed.status(), 502);
        let refused = ProxyError::Connect(ErrorKind::ConnectionRefused.into());
        assert_eq!(refused.status(), 502);
        assert!(std::error::Error::source(&refused).is_some());
        assert_eq!(
            ProxyError::Response(ResponseError::Malformed).to_string(),
            "invalid upstream response: malformed response head"
        );
    }
}
