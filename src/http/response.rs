//! Responses: a builder whose headers are checked as they are added
//! ([`header`](super::header)), and the one writer that puts them on the wire.

use std::borrow::Cow;
use std::fmt;

use super::error::HttpError;
use super::header::{self, HeaderError};

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
    /// Checked headers, in the order they were added.
    headers: Vec<(String, String)>,
    body: Cow<'static, [u8]>,
    /// The first refused header (or an invalid status): the response goes out as 500.
    error: Option<HeaderError>,
}

impl Response {
    /// A response with no headers and an empty body. A status outside 200..=599 is
    /// recorded as an error, so the response goes out as 500.
    pub fn new(status: u16) -> Self {
        let error = (!(200..=599).contains(&status)).then_some(HeaderError::InvalidStatus);
        Response {
            status,
            headers: Vec::new(),
            body: Cow::Borrowed(b""),
            error,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into())
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
        let response = Response::text(status, format!("{status} {}\n\n{error}\n", reason(status)));
        match error {
            HttpError::Overloaded => response.header("Retry-After", "1"),
            _ => response,
        }
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Cow::Owned(body.into());
        self
    }

    /// Replaces the body with a static one.
    pub fn static_body(mut self, body: &'static [u8]) -> Self {
        self.body = Cow::Borrowed(body);
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
        header::check(name, value)?;
        let value = value.trim_matches([' ', '\t']);
        self.headers.push((name.to_owned(), value.to_owned()));
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
        &self.body
    }

    /// Appends the response to `out`: status line, the handler's headers, `Date`,
    /// `Content-Length` (the body's, even for `HEAD`), `Connection: <connection>` when
    /// given, the blank line, and the body unless `head_only`. A response with a
    /// recorded header error is sent as a plain 500 instead.
    pub(crate) fn write_to(
        &self,
        out: &mut Vec<u8>,
        head_only: bool,
        connection: Option<&str>,
        date: &str,
    ) {
        if self.error.is_some() {
            let fallback = Response::text(
                500,
                "500 Internal Server Error\n\ninvalid response header\n",
            );
            return fallback.write_to(out, head_only, connection, date);
        }
        let status_line = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        out.extend_from_slice(status_line.as_bytes());
        for (name, value) in &self.headers {
            push_header(out, name, value);
        }
        push_header(out, "Date", date);
        // A 204 or 304 ends at its head whatever its body (RFC 9110 §8.6, §15.3.5,
        // §15.4.5; RFC 9112 §6.3): a body sent after it would be read as the next
        // response.
        let bodiless = matches!(self.status, 204 | 304);
        if !bodiless {
            push_header(out, "Content-Length", &self.body.len().to_string());
        }
        if let Some(connection) = connection {
            push_header(out, "Connection", connection);
        }
        out.extend_from_slice(b"\r\n");
        if !head_only && !bodiless {
            out.extend_from_slice(&self.body);
        }
    }
}

/// Appends `name: value\r\n`.
fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .field("body_len", &self.body.len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// The reason phrase of a status code ("" for codes without a common one: RFC 9112
/// §4 allows an empty reason phrase).
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
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

    fn wire(response: &Response, head_only: bool, connection: Option<&str>) -> String {
        let mut out = Vec::new();
        response.write_to(&mut out, head_only, connection, DATE);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_wire_is_status_line_headers_framing_and_body() {
        let response = Response::html(200, "<p>hi</p>").header("X-A", " 1\t");
        assert_eq!(
            wire(&response, false, None),
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nX-A: 1\r\n\
             Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 9\r\n\r\n<p>hi</p>"
        );
        assert!(
            wire(&response, false, Some("close"))
                .ends_with("\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<p>hi</p>")
        );
        assert!(
            wire(&response, false, Some("keep-alive"))
                .ends_with("\r\nContent-Length: 9\r\nConnection: keep-alive\r\n\r\n<p>hi</p>")
        );
        let text = wire(&Response::new(418), false, None);
        assert!(text.starts_with("HTTP/1.1 418 \r\n"), "{text}");
        assert!(text.ends_with("\r\nContent-Length: 0\r\n\r\n"), "{text}");
    }

    #[test]
    fn headers_keep_the_order_they_were_added_in() {
        let text = wire(
            &Response::new(200)
                .header("X-A", "1")
                .header("X-B", "2")
                .header("X-A", "3"),
            false,
            None,
        );
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\nDate: "),
            "{text}"
        );
    }

    #[test]
    fn crlf_in_value_never_reaches_the_wire() {
        let response = Response::text(200, "x").header("X-Evil", "a\r\nSet-Cookie: s=1");
        assert_eq!(response.header_error(), Some(&HeaderError::InvalidValue));
        let text = wire(&response, false, None);
        assert!(
            text.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\n500 Internal Server Error\n\ninvalid response header\n"));
        assert!(!text.contains("Set-Cookie") && !text.contains("X-Evil"));
        // A later good header does not undo the error.
        let still = Response::new(200).header("X-D", "\n").header("X-E", "1");
        assert!(wire(&still, false, None).starts_with("HTTP/1.1 500 "));
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
        // Refused by set_header leaves the response as it was.
        assert!(response.header_error().is_none());
        assert!(!wire(&response, false, None).contains("Bad Name"));
        assert_eq!(
            Response::new(99).header_error(),
            Some(&HeaderError::InvalidStatus)
        );
        assert!(wire(&Response::new(600), false, None).starts_with("HTTP/1.1 500 "));
    }

    #[test]
    fn head_keeps_length_but_drops_body() {
        let text = wire(&Response::text(200, "hello"), true, Some("close"));
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn error_answers_name_status_reason_and_error() {
        let response = Response::from_error(&HttpError::RepeatedContentLength);
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.body_bytes(),
            b"400 Bad Request\n\nconflicting content-length\n"
        );
        let large = Response::from_error(&HttpError::HeadTooLarge);
        assert_eq!(
            large.body_bytes(),
            b"431 Request Header Fields Too Large\n\nrequest head too large\n"
        );
        let busy = wire(
            &Response::from_error(&HttpError::Overloaded),
            false,
            Some("close"),
        );
        assert!(busy.starts_with(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Retry-After: 1\r\nDate: "
        ));
        assert!(busy.ends_with("\r\n\r\n503 Service Unavailable\n\nbusy, retry shortly\n"));
    }
}
