//! Responses: a builder that refuses header names and values that could split the
//! response, and the one serialiser that writes them to the wire.

use std::cell::RefCell;
use std::fmt;
use std::sync::OnceLock;

use super::date::IMF_FIXDATE_LEN;
use super::error::HttpError;

/// Why a header was refused by [`Response::set_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The name is empty or holds a byte that is not an RFC 9110 token character.
    InvalidName,
    /// The value holds CR, LF or another control character.
    InvalidValue,
    /// The server sets this header itself (`Content-Length`, `Date`, `Connection`,
    /// `Transfer-Encoding`).
    Reserved,
    /// The status code is outside 200..=599.
    InvalidStatus,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderError::InvalidName => "invalid header name",
            HeaderError::InvalidValue => "invalid header value",
            HeaderError::Reserved => "header is set by the server",
            HeaderError::InvalidStatus => "invalid status code",
        })
    }
}

impl std::error::Error for HeaderError {}

/// Header names the server writes itself; a handler may not set them.
const RESERVED: [&str; 4] = ["content-length", "date", "connection", "transfer-encoding"];

/// Checks one header as [`Response::set_header`] does; `const` so that a
/// [`HeaderBlock`] in a `static` is checked when the program is compiled.
const fn check_header(name: &str, value: &str) -> Result<(), HeaderError> {
    if let Err(error) = check_name(name) {
        return Err(error);
    }
    check_value(value)
}

/// The name half of [`check_header`].
const fn check_name(name: &str) -> Result<(), HeaderError> {
    let name = name.as_bytes();
    if name.is_empty() {
        return Err(HeaderError::InvalidName);
    }
    let mut rest = name;
    while let [b, tail @ ..] = rest {
        if !is_token_byte(*b) {
            return Err(HeaderError::InvalidName);
        }
        rest = tail;
    }
    let mut reserved: &[&str] = &RESERVED;
    while let [word, tail @ ..] = reserved {
        if name.eq_ignore_ascii_case(word.as_bytes()) {
            return Err(HeaderError::Reserved);
        }
        reserved = tail;
    }
    Ok(())
}

/// The value half of [`check_header`]: no control character but HTAB.
const fn check_value(value: &str) -> Result<(), HeaderError> {
    let mut rest = value.as_bytes();
    while let [b, tail @ ..] = rest {
        if (*b < 0x20 && *b != b'\t') || *b == 0x7f {
            return Err(HeaderError::InvalidValue);
        }
        rest = tail;
    }
    Ok(())
}

/// A header name checked like [`Response::set_header`] checks names, once: build it in
/// a `static` with [`HeaderName::new`] and a bad name is a build error. For a header
/// whose value varies per response ([`Response::header_named`]), so only the value is
/// checked per response.
///
/// ```
/// use latchkey::http::{HeaderName, Response};
/// static REMOTE_USER: HeaderName = HeaderName::new("Remote-User");
/// let ok = Response::new(200).header_named(&REMOTE_USER, "ann");
/// assert!(ok.header_error().is_none());
/// let evil = Response::new(200).header_named(&REMOTE_USER, "ann\r\nSet-Cookie: a=b");
/// assert!(evil.header_error().is_some());
/// ```
#[derive(Debug)]
pub struct HeaderName {
    name: &'static str,
}

impl HeaderName {
    /// A checked header name, for a `static`.
    ///
    /// # Panics
    ///
    /// If [`Response::set_header`] would refuse the name; in a `static` that panic
    /// happens while compiling, so it stops the build instead.
    pub const fn new(name: &'static str) -> HeaderName {
        match check_name(name) {
            Ok(()) => HeaderName { name },
            Err(_) => panic!("invalid header name in a HeaderName"),
        }
    }
}

/// Appends `Name: value\r\n`, the value without surrounding blanks.
fn push_header_line(out: &mut Vec<u8>, name: &str, value: &str) {
    // The blanks are ASCII: trimming them on bytes is `trim_matches([' ', '\t'])`.
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let value = value.as_bytes();
    let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |at| at + 1);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.get(start..end).unwrap_or_default());
    out.extend_from_slice(b"\r\n");
}

/// Checks every header of a block, answering the first [`HeaderError`].
const fn check_headers(headers: &[(&str, &str)]) -> Result<(), HeaderError> {
    let mut rest = headers;
    while let [(name, value), tail @ ..] = rest {
        if let Err(error) = check_header(name, value) {
            return Err(error);
        }
        rest = tail;
    }
    Ok(())
}

/// A fixed set of response headers (the hardening headers of every page, say),
/// checked like [`Response::set_header`] when it is built and serialised once, on
/// first use, so a response takes them all with one copy
/// ([`Response::header_block`]) instead of checking each header every time.
///
/// Build it in a `static` with [`HeaderBlock::new`]: the check then runs when the
/// program is compiled, and a bad header there is a build error. [`HeaderBlock::try_new`]
/// checks at run time instead.
///
/// ```
/// use latchkey::http::{HeaderBlock, HeaderError, Response};
/// static NO_STORE: HeaderBlock = HeaderBlock::new(&[("Cache-Control", "no-store")]);
/// let response = Response::text(200, "hi\n").header_block(&NO_STORE);
/// assert!(response.header_error().is_none());
/// assert_eq!(
///     HeaderBlock::try_new(&[("Content-Length", "1")]).err(),
///     Some(HeaderError::Reserved)
/// );
/// ```
pub struct HeaderBlock {
    headers: &'static [(&'static str, &'static str)],
    wire: OnceLock<Box<[u8]>>,
    /// `HTTP/1.1 200 OK\r\n` and `wire`: the head of a 200 whose first headers these
    /// are, in one piece.
    ok_wire: OnceLock<Box<[u8]>>,
}

impl HeaderBlock {
    /// A block of constant `(name, value)` headers, for a `static`.
    ///
    /// # Panics
    ///
    /// If a header would be refused by [`Response::set_header`]; in a `static` that
    /// panic happens while compiling, so it stops the build instead.
    pub const fn new(headers: &'static [(&'static str, &'static str)]) -> HeaderBlock {
        match check_headers(headers) {
            Ok(()) => HeaderBlock {
                headers,
                wire: OnceLock::new(),
                ok_wire: OnceLock::new(),
            },
            Err(_) => panic!("invalid header in a HeaderBlock"),
        }
    }

    /// A block of `(name, value)` headers, refused as a whole with the first
    /// [`HeaderError`] of any of them.
    pub fn try_new(
        headers: &'static [(&'static str, &'static str)],
    ) -> Result<HeaderBlock, HeaderError> {
        check_headers(headers)?;
        Ok(HeaderBlock {
            headers,
            wire: OnceLock::new(),
            ok_wire: OnceLock::new(),
        })
    }

    /// The `Name: value\r\n` lines, serialised on first use.
    fn wire(&self) -> &[u8] {
        self.wire.get_or_init(|| {
            let mut out = Vec::new();
            for (name, value) in self.headers {
                push_header_line(&mut out, name, value);
            }
            out.into_boxed_slice()
        })
    }

    /// The status line of a 200 and the block's lines, serialised on first use.
    fn ok_wire(&self) -> &[u8] {
        self.ok_wire.get_or_init(|| {
            [STATUS_200.as_bytes(), self.wire()]
                .concat()
                .into_boxed_slice()
        })
    }
}

impl fmt::Debug for HeaderBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("HeaderBlock")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

static TEXT_TYPE: HeaderBlock = HeaderBlock::new(&[("Content-Type", "text/plain; charset=utf-8")]);
static JSON_TYPE: HeaderBlock = HeaderBlock::new(&[("Content-Type", "application/json")]);
static HTML_TYPE: HeaderBlock = HeaderBlock::new(&[("Content-Type", "text/html; charset=utf-8")]);

/// Buffers of dropped responses, kept for the next response of the same thread: the
/// loop thread answers one request at a time, so one spare body and one spare header
/// buffer make a steady stream of dynamic answers allocation-free.
struct Spare {
    body: Vec<u8>,
    headers: Vec<u8>,
}

thread_local! {
    static SPARE: RefCell<Spare> = const {
        RefCell::new(Spare {
            body: Vec::new(),
            headers: Vec::new(),
        })
    };
}

/// Buffers above this are given back to the allocator, not kept: one large answer
/// (a big static file) must not pin its memory for the life of the thread.
const SPARE_MAX: usize = 16 * 1024;

/// Keeps `buf` as the spare in `slot` if it is worth keeping and better than the one
/// there; whatever is not kept is freed.
fn keep_spare(slot: &mut Vec<u8>, mut buf: Vec<u8>) {
    if buf.capacity() <= SPARE_MAX && buf.capacity() > slot.capacity() {
        buf.clear();
        *slot = buf;
    }
}

/// The spare buffer of `pick`, emptied, with room for `capacity` bytes.
fn take_spare(pick: fn(&mut Spare) -> &mut Vec<u8>, capacity: usize) -> Vec<u8> {
    let mut buf = SPARE
        .try_with(|spare| {
            spare
                .try_borrow_mut()
                .map(|mut spare| std::mem::take(pick(&mut spare)))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    buf.clear();
    buf.reserve(capacity);
    buf
}

#[derive(Debug, Clone)]
enum Body {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl Body {
    fn as_slice(&self) -> &[u8] {
        match self {
            Body::Static(bytes) => bytes,
            Body::Owned(bytes) => bytes,
        }
    }
}

/// An HTTP response. Headers are checked as they are added; if the builder form
/// ([`Response::header`]) was given a bad one, the response is sent as a bare 500
/// instead, so a bad header is never emitted.
///
/// ```
/// use latchkey::http::{HeaderError, Response};
/// let ok = Response::text(200, "hi\n").header("Cache-Control", "no-store");
/// assert_eq!(ok.status(), 200);
/// assert!(ok.header_error().is_none());
/// let mut evil = Response::new(302);
/// assert_eq!(evil.set_header("Location", "/\r\nSet-Cookie: x=1"), Err(HeaderError::InvalidValue));
/// ```
/// Its `Debug` output shows the status and sizes only: headers and body can carry
/// session cookies and tokens.
#[derive(Clone)]
pub struct Response {
    status: u16,
    /// The first header block's lines, when it came before any other header.
    block: &'static [u8],
    /// The status line and `block` in one piece, when the status is 200 (else empty).
    ok_head: &'static [u8],
    /// Already validated and serialised `Name: value\r\n` lines, after `block`.
    header_lines: Vec<u8>,
    body: Body,
    error: Option<HeaderError>,
    retry_after: bool,
}

impl Response {
    /// An empty response with `status` (200..=599; others become a 500 when sent).
    pub fn new(status: u16) -> Self {
        let error = (!(200..=599).contains(&status)).then_some(HeaderError::InvalidStatus);
        Response {
            status,
            block: b"",
            ok_head: b"",
            header_lines: Vec::new(),
            body: Body::Static(b""),
            error,
            retry_after: false,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .header_block(&TEXT_TYPE)
            .body(body.into().into_bytes())
    }

    /// An `application/json` response with an already-serialised body.
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Response::new(status).header_block(&JSON_TYPE).body(body)
    }

    /// A `text/html; charset=utf-8` response.
    pub fn html(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status).header_block(&HTML_TYPE).body(body)
    }

    /// A redirect (`status` 301, 302, 303, 307 or 308) to `location`; a location with
    /// control characters turns it into a 500.
    pub fn redirect(status: u16, location: &str) -> Self {
        Response::new(status).header("Location", location)
    }

    /// The plain-text answer to a protocol error, e.g. `400 Bad Request\n\nmalformed request\n`;
    /// a 503 carries `Retry-After: 1`.
    pub fn from_error(error: &HttpError) -> Self {
        let mut response = Response::new(error.status())
            .header_block(&TEXT_TYPE)
            .static_body(error_body(error).as_bytes());
        response.retry_after = *error == HttpError::Overloaded;
        response
    }

    /// An empty buffer with room for `capacity` bytes, for a body to be built in and
    /// given to [`Response::body`]: the buffer of a response dropped earlier on this
    /// thread when there is one, so answering a stream of requests does not allocate.
    ///
    /// ```
    /// use latchkey::http::Response;
    /// let mut body = Response::body_buffer(64);
    /// body.extend_from_slice(b"{}");
    /// let response = Response::json(200, body);
    /// assert_eq!(response.body_bytes(), b"{}");
    /// drop(response);
    /// // The next buffer reuses the dropped response's memory, emptied.
    /// assert!(Response::body_buffer(0).is_empty());
    /// ```
    pub fn body_buffer(capacity: usize) -> Vec<u8> {
        take_spare(|spare| &mut spare.body, capacity)
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Owned(body.into());
        self
    }

    /// Replaces the body with a static one (no copy until it is sent).
    pub fn static_body(mut self, body: &'static [u8]) -> Self {
        self.body = Body::Static(body);
        self
    }

    /// Adds a header, or, if it is invalid, records the error so the response is sent
    /// as a 500 without it.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Err(error) = self.set_header(name, value) {
            self.error.get_or_insert(error);
        }
        self
    }

    /// Adds every header of `block` (checked when the block was built), after those
    /// already added.
    pub fn header_block(mut self, block: &'static HeaderBlock) -> Self {
        let lines = block.wire();
        if self.block.is_empty() && self.header_lines.is_empty() {
            self.block = lines;
            if self.status == 200 {
                self.ok_head = block.ok_wire();
            }
        } else {
            self.header_lines.extend_from_slice(lines);
        }
        self
    }

    /// [`Response::header`] for a name checked when it was built: only `value` is
    /// checked here, as [`Response::set_header`] checks values.
    pub fn header_named(mut self, name: &'static HeaderName, value: &str) -> Self {
        match check_value(value) {
            Ok(()) => self.push_header(name.name, value),
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        self
    }

    /// Adds a header, refusing (and leaving the response unchanged) a name that is not a
    /// token, a value with control characters, or a header the server sets itself.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        check_header(name, value)?;
        self.push_header(name, value);
        Ok(())
    }

    /// Appends a checked header's line.
    fn push_header(&mut self, name: &str, value: &str) {
        // One buffer for the usual few headers instead of a realloc per append: the
        // header buffer of a response dropped earlier, or one allocation.
        if self.header_lines.capacity() == 0 {
            self.header_lines = take_spare(|spare| &mut spare.headers, 128);
        }
        push_header_line(&mut self.header_lines, name, value);
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first invalid header given to [`Response::header`], if any.
    pub fn header_error(&self) -> Option<&HeaderError> {
        self.error.as_ref()
    }

    /// The body bytes.
    pub fn body_bytes(&self) -> &[u8] {
        self.body.as_slice()
    }

    /// Appends the response to `out`: status line, the handler's headers, `Date`,
    /// `Content-Length` (the body's, even for `HEAD`), `Connection` when needed, and the
    /// body unless `head_only`. A response with a recorded header error is sent as 500.
    pub(crate) fn write_to(
        &self,
        out: &mut Vec<u8>,
        head_only: bool,
        close: bool,
        http10_keep_alive: bool,
        date: &[u8; IMF_FIXDATE_LEN],
    ) {
        if self.error.is_some() {
            const BODY: &[u8] = b"500 Internal Server Error\n\ninvalid response header\n";
            let fallback = Response::new(500)
                .header_block(&TEXT_TYPE)
                .static_body(BODY);
            return fallback.write_to(out, head_only, close, http10_keep_alive, date);
        }
        let body = self.body.as_slice();
        let sent_body = if head_only { &[][..] } else { body };
        let framing = Framing::new(date, body.len(), close, http10_keep_alive);
        let framing = framing.as_bytes();
        out.reserve(
            STATUS_LINE_MAX
                + self.block.len()
                + self.header_lines.len()
                + RETRY_AFTER.len()
                + framing.len()
                + sent_body.len(),
        );
        if !self.ok_head.is_empty() {
            out.extend_from_slice(self.ok_head);
        } else {
            match status_line(self.status) {
                Some(line) => out.extend_from_slice(line.as_bytes()),
                None => {
                    out.extend_from_slice(b"HTTP/1.1 ");
                    push_decimal(out, usize::from(self.status));
                    out.push(b' ');
                    out.extend_from_slice(reason(self.status).as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
            out.extend_from_slice(self.block);
        }
        if !self.header_lines.is_empty() {
            out.extend_from_slice(&self.header_lines);
        }
        if self.retry_after {
            out.extend_from_slice(RETRY_AFTER);
        }
        out.extend_from_slice(framing);
        out.extend_from_slice(sent_body);
    }
}

/// Room for the longest status line: `HTTP/1.1 `, three digits, a reason, CRLF.
const STATUS_LINE_MAX: usize = 64;

const RETRY_AFTER: &[u8] = b"Retry-After: 1\r\n";

/// The server's own headers and the blank line, `Date: ..\r\nContent-Length: ..\r\n`
/// then `Connection: ..\r\n` when needed and `\r\n`, assembled on the stack so they
/// reach the output in one copy.
struct Framing {
    bytes: [u8; FRAMING_MAX],
    len: usize,
}

const DATE_PREFIX: &[u8; 6] = b"Date: ";
const LENGTH_PREFIX: &[u8; 18] = b"\r\nContent-Length: ";
/// Where the `Content-Length` digits start.
const DIGITS_AT: usize = DATE_PREFIX.len() + IMF_FIXDATE_LEN + LENGTH_PREFIX.len();
/// The longest ending: `\r\nConnection: keep-alive\r\n\r\n`.
const ENDING_MAX: usize = 28;
/// Up to 20 digits (`usize::MAX`).
const FRAMING_MAX: usize = DIGITS_AT + 20 + ENDING_MAX;

impl Framing {
    fn new(
        date: &[u8; IMF_FIXDATE_LEN],
        content_length: usize,
        close: bool,
        http10_keep_alive: bool,
    ) -> Framing {
        // Each ending padded to the longest, so it is copied as a fixed-size block and
        // only its own length is kept.
        const CLOSE: (&[u8; ENDING_MAX], usize) = (b"\r\nConnection: close\r\n\r\n\0\0\0\0\0", 23);
        const KEEP_ALIVE: (&[u8; ENDING_MAX], usize) = (b"\r\nConnection: keep-alive\r\n\r\n", 28);
        const PLAIN: (&[u8; ENDING_MAX], usize) = (
            b"\r\n\r\n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            4,
        );
        let mut bytes = [0u8; FRAMING_MAX];
        bytes[..6].copy_from_slice(DATE_PREFIX);
        bytes[6..6 + IMF_FIXDATE_LEN].copy_from_slice(date);
        bytes[6 + IMF_FIXDATE_LEN..DIGITS_AT].copy_from_slice(LENGTH_PREFIX);
        let mut digits = 1;
        let mut rest = content_length / 10;
        while rest > 0 {
            digits += 1;
            rest /= 10;
        }
        let mut n = content_length;
        for at in (DIGITS_AT..DIGITS_AT + digits).rev() {
            if let Some(slot) = bytes.get_mut(at) {
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
        }
        let (ending, ending_len) = if close {
            CLOSE
        } else if http10_keep_alive {
            KEEP_ALIVE
        } else {
            PLAIN
        };
        let ending_at = DIGITS_AT + digits;
        if let Some(slot) = bytes.get_mut(ending_at..ending_at + ENDING_MAX) {
            slot.copy_from_slice(ending);
        }
        Framing {
            bytes,
            len: ending_at + ending_len,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        let body = match &mut self.body {
            Body::Owned(bytes) => std::mem::take(bytes),
            Body::Static(_) => Vec::new(),
        };
        let headers = std::mem::take(&mut self.header_lines);
        if body.capacity() == 0 && headers.capacity() == 0 {
            return;
        }
        // Not kept (and so just freed) while the thread is being torn down.
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if body.capacity() > 0 {
                    keep_spare(&mut spare.body, body);
                }
                if headers.capacity() > 0 {
                    keep_spare(&mut spare.headers, headers);
                }
            }
        });
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field(
                "header_bytes",
                &(self.block.len() + self.header_lines.len()),
            )
            .field("body_len", &self.body.as_slice().len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// RFC 9110 `tchar`: header names are tokens, as cookie names are.
const fn is_token_byte(b: u8) -> bool {
    crate::cookie::header::is_tchar(b)
}

const STATUS_200: &str = "HTTP/1.1 200 OK\r\n";

/// The whole status line of the statuses answered most, ready to copy.
fn status_line(status: u16) -> Option<&'static str> {
    Some(match status {
        200 => STATUS_200,
        302 => "HTTP/1.1 302 Found\r\n",
        303 => "HTTP/1.1 303 See Other\r\n",
        401 => "HTTP/1.1 401 Unauthorized\r\n",
        _ => return None,
    })
}

/// The body of [`Response::from_error`]: `<status> <reason>\n\n<error>\n`, spelled
/// out so an error answer costs no formatting (a test checks it against the parts).
fn error_body(error: &HttpError) -> &'static str {
    match error {
        HttpError::HeadTooLarge => {
            "431 Request Header Fields Too Large\n\nrequest head too large\n"
        }
        HttpError::TooManyHeaders => "431 Request Header Fields Too Large\n\ntoo many headers\n",
        HttpError::BodyTooLarge => "413 Content Too Large\n\nrequest body too large\n",
        HttpError::Malformed => "400 Bad Request\n\nmalformed request\n",
        HttpError::InvalidHeaderValue => "400 Bad Request\n\ninvalid header value\n",
        HttpError::InvalidContentLength => "400 Bad Request\n\ninvalid content-length\n",
        HttpError::RepeatedContentLength => "400 Bad Request\n\nconflicting content-length\n",
        HttpError::LengthAndTransferEncoding => {
            "400 Bad Request\n\ncontent-length with transfer-encoding\n"
        }
        HttpError::ChunkedBody => {
            "411 Length Required\n\nchunked body not accepted, send content-length\n"
        }
        HttpError::UnsupportedTransferEncoding => {
            "501 Not Implemented\n\nunsupported transfer-encoding\n"
        }
        HttpError::BadHost => "400 Bad Request\n\nmissing or repeated host\n",
        HttpError::Timeout => "408 Request Timeout\n\nrequest timeout\n",
        HttpError::Overloaded => "503 Service Unavailable\n\nbusy, retry shortly\n",
    }
}

/// The reason phrase of a status code ("" for codes without a common one).
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(response: &Response, head_only: bool, close: bool) -> String {
        let mut out = Vec::new();
        response.write_to(
            &mut out,
            head_only,
            close,
            false,
            b"Thu, 01 Jan 1970 00:00:00 GMT",
        );
        String::from_utf8(out).unwrap()
    }

    /// The head as it was spelled out before the framing was assembled on the stack.
    fn spelled_out(response: &Response, close: bool, http10_keep_alive: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        )
        .into_bytes();
        out.extend_from_slice(response.block);
        out.extend_from_slice(&response.header_lines);
        if response.retry_after {
            out.extend_from_slice(b"Retry-After: 1\r\n");
        }
        out.extend_from_slice(b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: ");
        out.extend_from_slice(response.body_bytes().len().to_string().as_bytes());
        out.extend_from_slice(if close {
            b"\r\nConnection: close\r\n\r\n".as_slice()
        } else if http10_keep_alive {
            b"\r\nConnection: keep-alive\r\n\r\n"
        } else {
            b"\r\n\r\n"
        });
        out
    }

    #[test]
    fn the_wire_is_the_spelled_out_head_and_body_for_every_length_and_ending() {
        let mut lengths = vec![0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65_535, 65_536];
        lengths.extend((0..20).map(|p| 10usize.pow(p) - 1));
        for len in lengths.iter().copied().filter(|&l| l <= 1 << 20) {
            let response = Response::html(200, vec![b'x'; len]).header("X-A", "1");
            for (close, keep_alive) in [(false, false), (true, false), (false, true)] {
                let mut expected = spelled_out(&response, close, keep_alive);
                let head = expected.clone();
                expected.extend_from_slice(response.body_bytes());
                let mut out = Vec::new();
                response.write_to(
                    &mut out,
                    false,
                    close,
                    keep_alive,
                    b"Thu, 01 Jan 1970 00:00:00 GMT",
                );
                assert_eq!(out, expected, "length {len}");
                let mut out = Vec::new();
                response.write_to(
                    &mut out,
                    true,
                    close,
                    keep_alive,
                    b"Thu, 01 Jan 1970 00:00:00 GMT",
                );
                assert_eq!(out, head, "HEAD, length {len}");
            }
        }
        // The longest Content-Length there is still fits the framing buffer.
        let framing = Framing::new(b"Thu, 01 Jan 1970 00:00:00 GMT", usize::MAX, false, true);
        let text = String::from_utf8(framing.as_bytes().to_vec()).unwrap();
        assert!(text.ends_with(&format!(
            "Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            usize::MAX
        )));
        let busy = Response::from_error(&HttpError::Overloaded);
        let mut out = Vec::new();
        busy.write_to(
            &mut out,
            false,
            true,
            false,
            b"Thu, 01 Jan 1970 00:00:00 GMT",
        );
        let mut expected = spelled_out(&busy, true, false);
        expected.extend_from_slice(busy.body_bytes());
        assert_eq!(out, expected);
    }

    #[test]
    fn reused_buffers_carry_nothing_of_the_responses_before() {
        let big = Response::json(200, vec![b'9'; 4000])
            .header("X-Long", &"v".repeat(300))
            .header("X-Other", "w");
        drop(big);
        let mut body = Response::body_buffer(2);
        assert!(body.is_empty());
        body.extend_from_slice(b"{}");
        let small = Response::json(200, body).header("X-Short", "1");
        let text = wire(&small, false, false);
        assert!(
            text.ends_with(
                "X-Short: 1\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 2\r\n\r\n{}"
            ),
            "{text}"
        );
        assert!(!text.contains("X-Long") && !text.contains("999"));
        // A buffer too large to keep is given back, not kept for the thread's life.
        drop(Response::json(200, vec![0; SPARE_MAX + 1]));
        assert!(Response::body_buffer(0).capacity() <= SPARE_MAX);
    }

    #[test]
    fn named_headers_are_checked_like_any_header() {
        static NAME: HeaderName = HeaderName::new("X-User");
        let ok = Response::new(200).header_named(&NAME, " ann\t");
        let by_name = Response::new(200).header("X-User", " ann\t");
        assert_eq!(wire(&ok, false, false), wire(&by_name, false, false));
        for evil in ["a\r\nSet-Cookie: x=1", "a\nb", "\0", "a\x7f"] {
            let refused = Response::new(200).header_named(&NAME, evil);
            assert_eq!(refused.header_error(), Some(&HeaderError::InvalidValue));
            assert!(wire(&refused, false, false).starts_with("HTTP/1.1 500 "));
        }
        assert_eq!(check_name("Content-Length"), Err(HeaderError::Reserved));
        assert_eq!(check_name("Bad Name"), Err(HeaderError::InvalidName));
    }

    #[test]
    fn crlf_in_value_never_reaches_the_wire() {
        let response = Response::text(200, "x").header("X-Evil", "a\r\nSet-Cookie: s=1");
        assert_eq!(response.header_error(), Some(&HeaderError::InvalidValue));
        let text = wire(&response, false, false);
        assert!(
            text.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{text}"
        );
        assert!(!text.contains("Set-Cookie"));
    }

    #[test]
    fn reserved_and_bad_names_are_refused() {
        let mut response = Response::new(200);
        assert_eq!(
            response.set_header("Content-Length", "1"),
            Err(HeaderError::Reserved)
        );
        assert_eq!(
            response.set_header("Bad Name", "1"),
            Err(HeaderError::InvalidName)
        );
        assert_eq!(response.set_header("", "1"), Err(HeaderError::InvalidName));
        assert_eq!(
            Response::new(99).header_error(),
            Some(&HeaderError::InvalidStatus)
        );
    }

    #[test]
    fn head_keeps_length_but_drops_body() {
        let text = wire(&Response::text(200, "hello"), true, true);
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn header_blocks_are_checked_like_single_headers() {
        assert_eq!(
            HeaderBlock::try_new(&[("X-Ok", "1"), ("X-Evil", "a\r\nSet-Cookie: s=1")]).err(),
            Some(HeaderError::InvalidValue)
        );
        assert_eq!(
            HeaderBlock::try_new(&[("Bad Name", "1")]).err(),
            Some(HeaderError::InvalidName)
        );
        const RESERVED_CASES: [&[(&str, &str)]; 4] = [
            &[("Content-Length", "1")],
            &[("date", "1")],
            &[("CONNECTION", "1")],
            &[("Transfer-Encoding", "1")],
        ];
        for headers in RESERVED_CASES {
            assert_eq!(
                HeaderBlock::try_new(headers).err(),
                Some(HeaderError::Reserved),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn header_blocks_keep_the_order_headers_were_added_in() {
        static BLOCK: HeaderBlock = HeaderBlock::new(&[("X-A", " 1 "), ("X-B", "2")]);
        let first = wire(
            &Response::new(200).header_block(&BLOCK).header("X-C", "3"),
            false,
            false,
        );
        assert!(
            first.contains("\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n"),
            "{first}"
        );
        let after = wire(
            &Response::new(200).header("X-C", "3").header_block(&BLOCK),
            false,
            false,
        );
        assert!(
            after.contains("\r\nX-C: 3\r\nX-A: 1\r\nX-B: 2\r\n"),
            "{after}"
        );
        let evil = Response::new(200).header_block(&BLOCK).header("X-D", "\n");
        assert!(wire(&evil, false, false).starts_with("HTTP/1.1 500 "));
    }

    #[test]
    fn status_lines_are_the_same_spelled_out_or_built() {
        for status in [200, 302, 303, 401] {
            let line = status_line(status).unwrap();
            assert_eq!(line, format!("HTTP/1.1 {status} {}\r\n", reason(status)));
        }
        let text = wire(&Response::new(418), false, false);
        assert!(text.starts_with("HTTP/1.1 418 \r\n"), "{text}");
    }

    #[test]
    fn every_error_body_names_its_status_reason_and_error() {
        for error in [
            HttpError::HeadTooLarge,
            HttpError::TooManyHeaders,
            HttpError::BodyTooLarge,
            HttpError::Malformed,
            HttpError::InvalidHeaderValue,
            HttpError::InvalidContentLength,
            HttpError::RepeatedContentLength,
            HttpError::LengthAndTransferEncoding,
            HttpError::ChunkedBody,
            HttpError::UnsupportedTransferEncoding,
            HttpError::BadHost,
            HttpError::Timeout,
            HttpError::Overloaded,
        ] {
            let status = error.status();
            let expected = format!("{status} {}\n\n{error}\n", reason(status));
            assert_eq!(error_body(&error), expected);
            assert_eq!(Response::from_error(&error).status(), status);
        }
    }

    #[test]
    fn error_body_names_the_status_and_reason() {
        let response = Response::from_error(&HttpError::RepeatedContentLength);
        assert_eq!(
            response.body_bytes(),
            b"400 Bad Request\n\nconflicting content-length\n"
        );
        let busy = wire(&Response::from_error(&HttpError::Overloaded), false, false);
        assert!(busy.contains("Retry-After: 1\r\n"));
    }
}
