//! Protocol failures and the one place they map to HTTP statuses.

use std::fmt;

/// Why a request could not be served; [`HttpError::status`] gives its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The request head is larger than `Limits::max_head_bytes`.
    HeadTooLarge,
    /// The request has more header fields than `Limits::max_headers`.
    TooManyHeaders,
    /// The declared body is larger than `Limits::max_body_bytes`.
    BodyTooLarge,
    /// The request line or a header line is not valid HTTP/1.x syntax.
    Malformed,
    /// A header value holds a control character.
    InvalidHeaderValue,
    /// `Content-Length` is not a plain decimal number.
    InvalidContentLength,
    /// `Content-Length` appears more than once.
    RepeatedContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` are present (a smuggling attempt).
    LengthAndTransferEncoding,
    /// A chunked body: we only accept bodies with a `Content-Length`.
    ChunkedBody,
    /// A transfer coding other than chunked.
    UnsupportedTransferEncoding,
    /// A streamed chunked body breaks the chunked coding (RFC 9112 §7.1).
    InvalidChunk,
    /// An HTTP/1.1 request without a `Host` header, or with several.
    BadHost,
    /// The head and body did not arrive within `Limits::request_deadline`.
    Timeout,
    /// The offload queue is full; the client should retry shortly.
    Overloaded,
}

impl HttpError {
    /// The status code answering this error.
    ///
    /// ```
    /// use latchkey::http::HttpError;
    /// assert_eq!(HttpError::BodyTooLarge.status(), 413);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            HttpError::HeadTooLarge | HttpError::TooManyHeaders => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::Malformed
            | HttpError::InvalidHeaderValue
            | HttpError::InvalidContentLength
            | HttpError::RepeatedContentLength
            | HttpError::LengthAndTransferEncoding
            | HttpError::InvalidChunk
            | HttpError::BadHost => 400,
            HttpError::ChunkedBody => 411,
            HttpError::UnsupportedTransferEncoding => 501,
            HttpError::Timeout => 408,
            HttpError::Overloaded => 503,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::HeadTooLarge => "request head too large",
            HttpError::TooManyHeaders => "too many headers",
            HttpError::BodyTooLarge => "request body too large",
            HttpError::Malformed => "malformed request",
            HttpError::InvalidHeaderValue => "invalid header value",
            HttpError::InvalidContentLength => "invalid content-length",
            HttpError::RepeatedContentLength => "conflicting content-length",
            HttpError::LengthAndTransferEncoding => "content-length with transfer-encoding",
            HttpError::ChunkedBody => "chunked body not accepted, send content-length",
            HttpError::UnsupportedTransferEncoding => "unsupported transfer-encoding",
            HttpError::InvalidChunk => "invalid chunked body",
            HttpError::BadHost => "missing or repeated host",
            HttpError::Timeout => "request timeout",
            HttpError::Overloaded => "busy, retry shortly",
        })
    }
}

impl std::error::Error for HttpError {}
