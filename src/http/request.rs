//! Request parsing: a pure function from a connection's input bytes to "need more",
//! a complete [`Request`] borrowed from those bytes, or an [`HttpError`].

use std::net::SocketAddr;

use super::error::HttpError;
use super::limits::{HEADER_SLOTS, Limits};

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless keep-alive is asked for.
    Http10,
    /// HTTP/1.1: the connection stays open unless `Connection: close` is sent.
    Http11,
}

/// One parsed request, borrowing the connection's input buffer (no allocation).
/// Its `Debug` output shows the path, header names and body length only, never
/// header values, query or body, which can carry passwords and tokens.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    target: &'a str,
    version: Version,
    headers: &'a [httparse::Header<'a>],
    body: &'a [u8],
    peer: SocketAddr,
    keep_alive: bool,
    tls: bool,
}

impl<'a> Request<'a> {
    /// The method, e.g. `GET` (case-sensitive, as sent).
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The raw request target, e.g. `/login?next=%2F`.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The target up to the first `?` (still percent-encoded).
    pub fn path(&self) -> &'a str {
        self.target
            .split_once('?')
            .map_or(self.target, |(path, _)| path)
    }

    /// The target after the first `?`, if there is one (still percent-encoded).
    pub fn query(&self) -> Option<&'a str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    /// Use [`Request::headers_all`] where a repeated header matters.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers_all(name).next()
    }

    /// The first header named `name` as text, or `None` if absent or not UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Every value of the headers named `name` (ASCII case-insensitive), in order.
    pub fn headers_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.headers
            .iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }

    /// Every header as `(name, value)`, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.headers
            .iter()
            .map(|header| (header.name, header.value))
    }

    /// The body (empty without `Content-Length`).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Whether the request arrived over TLS terminated by this server (not whether a
    /// proxy in front says its client used HTTPS).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The same request, marked as having arrived over TLS terminated here.
    pub(crate) fn over_tls(&self) -> Request<'a> {
        Request { tls: true, ..*self }
    }

    /// The address of the TCP peer (a reverse proxy, if there is one).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the connection stays open after the response.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|header| header.name).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path())
            .field("version", &self.version)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Facts about a parsed request that the server needs after the handler has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts {
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// Whether the method is `HEAD` (the response carries no body).
    pub head_only: bool,
    /// The request's version.
    pub version: Version,
}

/// What [`parse_request`] found at the start of the buffer.
#[derive(Debug)]
pub enum Parsed<R> {
    /// The head is incomplete (and still within the limits).
    NeedMore,
    /// The head is complete and valid but the body is not all there: the request
    /// occupies `total_len` bytes. The caller should not parse again before then.
    NeedBody {
        /// Head plus declared body length (at most head limit plus body limit).
        total_len: usize,
        /// The client sent `Expect: 100-continue` and waits for an interim answer.
        expect_continue: bool,
    },
    /// A request whose body is streamed (see [`Handler::body_streams`]): the head is
    /// complete and the callback has seen it with an empty body; the body follows the
    /// head's `head_len` bytes, delimited as `body` says.
    ///
    /// [`Handler::body_streams`]: super::Handler::body_streams
    Streaming {
        /// Bytes of the buffer the head occupies.
        head_len: usize,
        /// Facts the server needs to answer.
        facts: RequestFacts,
        /// How the body is delimited.
        body: RequestBody,
        /// The client sent `Expect: 100-continue` and waits for an interim answer.
        expect_continue: bool,
        /// The callback's result.
        value: R,
    },
    /// A complete request: `consumed` bytes were used, `value` is what the callback returned.
    Done {
        /// Bytes of the buffer belonging to this request.
        consumed: usize,
        /// Bytes of them that are the body.
        body_len: usize,
        /// Facts the server needs to answer.
        facts: RequestFacts,
        /// The callback's result.
        value: R,
    },
}

/// Parses the request at the start of `buf` under `limits` and, when it is complete,
/// calls `on_request` with it. Looks at no more than `limits.max_head_bytes` of head and
/// never allocates from a declared length.
///
/// Accepted bodies have a `Content-Length`; any `Transfer-Encoding` is refused (411 for
/// chunked, 501 otherwise), and `Content-Length` with `Transfer-Encoding`, repeated
/// `Content-Length`s or an invalid one are 400.
///
/// ```
/// use latchkey::http::{Limits, Parsed, parse_request};
/// let raw = b"POST /auth?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}";
/// let peer = "127.0.0.1:9".parse().unwrap();
/// let parsed = parse_request(raw, peer, &Limits::default(), |req| {
///     (req.path().to_owned(), req.query().map(str::to_owned), req.body().to_vec())
/// });
/// match parsed {
///     Ok(Parsed::Done { consumed, value, .. }) => {
///         assert_eq!(consumed, raw.len());
///         assert_eq!(value, ("/auth".to_owned(), Some("x=1".to_owned()), b"{}".to_vec()));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse_request<R>(
    buf: &[u8],
    peer: SocketAddr,
    limits: &Limits,
    on_request: impl FnOnce(&Request<'_>) -> R,
) -> Result<Parsed<R>, HttpError> {
    parse_request_or_stream(buf, peer, limits, on_request)
}

/// What [`parse_request_or_stream`] hands a complete request head to. Every
/// `FnOnce(&Request) -> R` is one that streams nothing.
pub trait OnRequest {
    /// What handling a request gives.
    type Value;
    /// Whether the body of `req` (head complete, body unread) is streamed; asked only
    /// for requests with a body.
    fn streams(&mut self, _req: &Request<'_>) -> bool {
        false
    }
    /// Handles the request (complete, or its head when its body is streamed).
    fn take(self, req: &Request<'_>) -> Self::Value;
}

impl<R, F: FnOnce(&Request<'_>) -> R> OnRequest for F {
    type Value = R;
    fn take(self, req: &Request<'_>) -> R {
        self(req)
    }
}

/// How a streamed request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// `Content-Length`: exactly this many bytes (at most `Limits::max_upload_bytes`).
    Length(u64),
    /// `Transfer-Encoding: chunked` (RFC 9112 §7.1).
    Chunked,
}

/// [`parse_request`], except that a request with a body for which `sink.streams` answers
/// true (asked once its head is complete and valid, with an empty body) is handed to
/// `sink.take` at once and answered [`Parsed::Streaming`]: its body may then be
/// chunked, or as long as `limits.max_upload_bytes`. The smuggling defences are the
/// same: `Content-Length` with `Transfer-Encoding`, a repeated or invalid
/// `Content-Length`, a repeated `Transfer-Encoding` or any coding but `chunked` are
/// refused, and so is `Transfer-Encoding` in an HTTP/1.0 request (RFC 9112 §6.1).
pub fn parse_request_or_stream<T: OnRequest>(
    buf: &[u8],
    peer: SocketAddr,
    limits: &Limits,
    mut sink: T,
) -> Result<Parsed<T::Value>, HttpError> {
    let head_window = buf.get(..limits.max_head_bytes).unwrap_or(buf);
    let mut slots = [httparse::EMPTY_HEADER; HEADER_SLOTS];
    let slot_count = limits.max_headers.min(HEADER_SLOTS);
    let mut parsed = httparse::Request::new(slots.get_mut(..slot_count).unwrap_or_default());
    let head_len = match parsed.parse(head_window) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= limits.max_head_bytes {
                Err(HttpError::HeadTooLarge)
            } else {
                Ok(Parsed::NeedMore)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders),
        // httparse (1.10, requests: no obs-fold, invalid headers not ignored) accepts in
        // a value only HTAB, SP..0x7E and 0x80..0xFF, and refuses a line with any other
        // byte: no value handed out below holds CR, LF, NUL or another control byte
        // (`control_bytes_in_values_are_refused` pins this).
        Err(httparse::Error::HeaderValue) => return Err(HttpError::InvalidHeaderValue),
        Err(_) => return Err(HttpError::Malformed),
    };
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(HttpError::Malformed);
    };
    let version = match minor {
        0 => Version::Http10,
        1 => Version::Http11,
        _ => return Err(HttpError::Malformed),
    };
    let headers: &[httparse::Header<'_>] = parsed.headers;

    let mut content_length: Option<&[u8]> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut hosts = 0usize;
    let mut close = false;
    let mut keep_alive_asked = false;
    let mut expect_continue = false;
    for header in headers {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Err(HttpError::RepeatedContentLength);
            }
            content_length = Some(header.value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if transfer_encoding.is_some() {
                return Err(HttpError::UnsupportedTransferEncoding);
            }
            transfer_encoding = Some(header.value);
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue = header
                .value
                .trim_ascii()
                .eq_ignore_ascii_case(b"100-continue");
        }
    }
    if content_length.is_some() && transfer_encoding.is_some() {
        return Err(HttpError::LengthAndTransferEncoding);
    }
    let chunked = match transfer_encoding {
        None => false,
        Some(coding) if coding.trim_ascii().eq_ignore_ascii_case(b"chunked") => true,
        Some(_) => return Err(HttpError::UnsupportedTransferEncoding),
    };
    if chunked && version == Version::Http10 {
        return Err(HttpError::Malformed);
    }
    if hosts > 1 || (version == Version::Http11 && hosts == 0) {
        return Err(HttpError::BadHost);
    }
    let keep_alive = !close && (version == Version::Http11 || keep_alive_asked);
    let facts = RequestFacts {
        keep_alive,
        head_only: method == "HEAD",
        version,
    };
    let largest = limits.max_body_bytes.max(limits.max_upload_bytes);
    let declared = match content_length {
        None => None,
        Some(value) => Some(parse_content_length(value, largest)?),
    };
    let has_body = chunked || declared.is_some_and(|len| len > 0);
    if has_body {
        let head = Request {
            method,
            target,
            version,
            headers,
            body: &[],
            peer,
            keep_alive,
            tls: false,
        };
        if sink.streams(&head) {
            let body = match declared {
                Some(len) if len <= limits.max_upload_bytes => RequestBody::Length(len as u64),
                Some(_) => return Err(HttpError::BodyTooLarge),
                None => RequestBody::Chunked,
            };
            let value = sink.take(&head);
            return Ok(Parsed::Streaming {
                head_len,
                facts,
                body,
                expect_continue: expect_continue && version == Version::Http11,
                value,
            });
        }
    }
    if chunked {
        return Err(HttpError::ChunkedBody);
    }
    let body_len = match declared {
        Some(len) if len > limits.max_body_bytes => return Err(HttpError::BodyTooLarge),
        Some(len) => len,
        None => 0,
    };
    let total_len = head_len.saturating_add(body_len);
    let Some(body) = buf.get(head_len..total_len) else {
        return Ok(Parsed::NeedBody {
            total_len,
            expect_continue: expect_continue && version == Version::Http11,
        });
    };
    let request = Request {
        method,
        target,
        version,
        headers,
        body,
        peer,
        keep_alive,
        tls: false,
    };
    let value = sink.take(&request);
    Ok(Parsed::Done {
        consumed: total_len,
        body_len,
        facts,
        value,
    })
}

/// Parses a `Content-Length` value: ASCII digits only (no sign, no spaces, no list),
/// answering [`HttpError::BodyTooLarge`] for anything above `max`, however many digits.
fn parse_content_length(value: &[u8], max: usize) -> Result<usize, HttpError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::InvalidContentLength);
    }
    let mut length: usize = 0;
    for &digit in value {
        length = length
            .checked_mul(10)
            .and_then(|l| l.checked_add(usize::from(digit - b'0')))
            .filter(|&l| l <= max)
            .ok_or(HttpError::BodyTooLarge)?;
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }

    fn status_of(raw: &[u8]) -> Result<Option<usize>, HttpError> {
        match parse_request(raw, peer(), &Limits::default(), |_| ())? {
            Parsed::Done { consumed, .. } => Ok(Some(consumed)),
            _ => Ok(None),
        }
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let both = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc";
        assert_eq!(status_of(both), Err(HttpError::LengthAndTransferEncoding));
        let twice =
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
        assert_eq!(status_of(twice), Err(HttpError::RepeatedContentLength));
        let signed = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc";
        assert_eq!(status_of(signed), Err(HttpError::InvalidContentLength));
        let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status_of(chunked), Err(HttpError::ChunkedBody));
    }

    #[test]
    fn huge_length_is_413_without_reading() {
        let raw =
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000000000000000000\r\n\r\nabc";
        assert_eq!(status_of(raw), Err(HttpError::BodyTooLarge));
    }

    #[test]
    fn oversize_head_is_431_and_partial_is_need_more() {
        let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
        assert_eq!(status_of(&raw), Ok(None));
        raw.resize(MAX_TEST_HEAD, b'a');
        assert_eq!(status_of(&raw), Err(HttpError::HeadTooLarge));
    }
    const MAX_TEST_HEAD: usize = crate::http::limits::MAX_HEAD_BYTES;

    #[test]
    fn control_bytes_in_values_are_refused() {
        for byte in (0u8..0x20).filter(|&b| b != b'\t').chain([0x7f]) {
            for value in [vec![byte], vec![b'a', byte, b'b'], vec![b'a', byte]] {
                let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Test: ".to_vec();
                raw.extend_from_slice(&value);
                raw.extend_from_slice(b"\r\n\r\n");
                let outcome = parse_request(&raw, peer(), &Limits::default(), |req| {
                    req.header("x-test").map(<[u8]>::to_vec)
                });
                match outcome {
                    // A bare LF ends the line (as HTTP/1.1 allows): what was handed out
                    // is the value before it, never the byte itself.
                    Ok(Parsed::Done { value, .. }) if byte == b'\n' => {
                        let value = value.unwrap_or_default();
                        assert!(!value.iter().any(|&b| b < 0x20 && b != b'\t'), "{value:?}");
                    }
                    Err(HttpError::InvalidHeaderValue) if byte != b'\n' => {}
                    Err(HttpError::Malformed) if byte == b'\n' => {}
                    other => panic!("byte {byte:#04x} in {value:?}: {other:?}"),
                }
            }
        }
        let tab_and_high = b"GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\xff\r\n\r\n";
        assert_eq!(status_of(tab_and_high), Ok(Some(tab_and_high.len())));
    }

    #[test]
    fn path_and_query_split_at_the_first_question_mark() {
        for (target, path, query) in [
            ("/", "/", None),
            ("/a?b", "/a", Some("b")),
            ("/a?b?c", "/a", Some("b?c")),
            ("/a?", "/a", Some("")),
            ("/%C3%A9?x=%3F", "/%C3%A9", Some("x=%3F")),
        ] {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            let got = parse_request(raw.as_bytes(), peer(), &Limits::default(), |req| {
                (req.path().to_owned(), req.query().map(str::to_owned))
            });
            match got {
                Ok(Parsed::Done { value, .. }) => {
                    assert_eq!(
                        value,
                        (path.to_owned(), query.map(str::to_owned)),
                        "{target}"
                    );
                }
                other => panic!("{target}: {other:?}"),
            }
        }
    }

    #[test]
    fn header_lookup_ignores_case_and_nothing_else() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nCOOKIE: a=1\r\nCookies: b=2\r\ncookie: c=3\r\nX-Cookie: d\r\n\r\n";
        let got = parse_request(raw, peer(), &Limits::default(), |req| {
            req.headers_all("Cookie")
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        });
        match got {
            Ok(Parsed::Done { value, .. }) => assert_eq!(value, [b"a=1".to_vec(), b"c=3".to_vec()]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn http10_closes_unless_asked() {
        let facts = |raw: &[u8]| match parse_request(raw, peer(), &Limits::default(), |_| ()) {
            Ok(Parsed::Done { facts, .. }) => facts.keep_alive,
            other => panic!("{other:?}"),
        };
        assert!(!facts(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(facts(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!facts(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
    }
}
