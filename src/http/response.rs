//! Responses: a builder that refuses header names and values that could split the
//! response, and the one serialiser that writes them to the wire.

use std::fmt;

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
    /// Already validated and serialised `Name: value\r\n` lines.
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
            header_lines: Vec::new(),
            body: Body::Static(b""),
            error,
            retry_after: false,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into().into_bytes())
    }

    /// An `application/json` response with an already-serialised body.
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Response::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }

    /// A `text/html; charset=utf-8` response.
    pub fn html(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(body)
    }

    /// A redirect (`status` 301, 302, 303, 307 or 308) to `location`; a location with
    /// control characters turns it into a 500.
    pub fn redirect(status: u16, location: &str) -> Self {
        Response::new(status).header("Location", location)
    }

    /// The plain-text answer to a protocol error, e.g. `400 Bad Request\n\nmalformed request\n`;
    /// a 503 carries `Retry-After: 1`.
    pub fn from_error(error: &HttpError) -> Self {
        let status = error.status();
        let mut response =
            Response::text(status, format!("{status} {}\n\n{error}\n", reason(status)));
        response.retry_after = *error == HttpError::Overloaded;
        response
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

    /// Adds a header, refusing (and leaving the response unchanged) a name that is not a
    /// token, a value with control characters, or a header the server sets itself.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(HeaderError::InvalidName);
        }
        if ["content-length", "date", "connection", "transfer-encoding"]
            .iter()
            .any(|reserved| name.eq_ignore_ascii_case(reserved))
        {
            return Err(HeaderError::Reserved);
        }
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(HeaderError::InvalidValue);
        }
        // One allocation for the usual few headers instead of a realloc per append.
        if self.header_lines.capacity() == 0 {
            self.header_lines.reserve(128);
        }
        self.header_lines.extend_from_slice(name.as_bytes());
        self.header_lines.extend_from_slice(b": ");
        self.header_lines
            .extend_from_slice(value.trim_matches([' ', '\t']).as_bytes());
        self.header_lines.extend_from_slice(b"\r\n");
        Ok(())
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
        date: &[u8],
    ) {
        if self.error.is_some() {
            const BODY: &[u8] = b"500 Internal Server Error\n\ninvalid response header\n";
            let fallback = Response::new(500)
                .header("Content-Type", "text/plain; charset=utf-8")
                .static_body(BODY);
            return fallback.write_to(out, head_only, close, http10_keep_alive, date);
        }
        let body = self.body.as_slice();
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, usize::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.header_lines);
        if self.retry_after {
            out.extend_from_slice(b"Retry-After: 1\r\n");
        }
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\nContent-Length: ");
        push_decimal(out, body.len());
        out.extend_from_slice(b"\r\n");
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if http10_keep_alive {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(body);
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("header_bytes", &self.header_lines.len())
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

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
