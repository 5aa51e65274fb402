//! Parsing an upstream's response head: status, the end-to-end headers, and how the
//! body is delimited (RFC 9112 §6.3). A pure function of the bytes received, so the
//! fuzz target and the proxy see the same decisions.
//!
//! The upstream is the application behind the proxy, not the open network, but what
//! it sends is re-framed before it reaches the client, so a confused or hostile
//! application cannot desynchronise the client's connection:
//! - The head is at most [`MAX_RESPONSE_HEAD`] bytes and [`MAX_RESPONSE_HEADERS`]
//!   fields; obsolete line folding, control bytes in values and a status outside
//!   100..=599 are refused.
//! - `Transfer-Encoding` must be exactly `chunked` (it then wins over any
//!   `Content-Length`, which is dropped, §6.3 rule 3); an HTTP/1.0 response with it is
//!   refused (§6.1). Every `Content-Length` must name the same decimal number.
//! - The hop-by-hop fields (RFC 9110 §7.6.1: `Connection` and every field it names,
//!   `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`,
//!   `Upgrade`) and `Content-Length` are not handed out: the proxy writes its own
//!   framing.

use std::fmt;

/// Largest response head accepted from an upstream, in bytes.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// Most header fields in an upstream's response head.
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// The hop-by-hop fields of RFC 9110 §7.6.1, plus `Proxy-Connection` (an old
/// non-standard one) and the framing field `Content-Length`; lower case.
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Why an upstream's response head was refused (answered 502).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The head is larger than [`MAX_RESPONSE_HEAD`].
    HeadTooLarge,
    /// More than [`MAX_RESPONSE_HEADERS`] fields.
    TooManyHeaders,
    /// Not HTTP/1.x syntax, or a header value holds a control byte.
    Malformed,
    /// The status is outside 100..=599.
    BadStatus,
    /// `Content-Length` values that are not one decimal number.
    BadContentLength,
    /// A transfer coding other than `chunked`, or one in an HTTP/1.0 response.
    BadTransferEncoding,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseError::HeadTooLarge => "response head too large",
            ResponseError::TooManyHeaders => "too many response headers",
            ResponseError::Malformed => "malformed response head",
            ResponseError::BadStatus => "invalid status code",
            ResponseError::BadContentLength => "invalid content-length",
            ResponseError::BadTransferEncoding => "unsupported transfer-encoding",
        })
    }
}

impl std::error::Error for ResponseError {}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: a response to HEAD, a 1xx, 204 or 304.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked coding.
    Chunked,
    /// Everything until the upstream closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Bytes of the input the head occupies, blank line included.
    pub head_len: usize,
    /// The status code, 100..=599.
    pub status: u16,
    /// Whether the upstream spoke HTTP/1.1 (else 1.0).
    pub http11: bool,
    /// The end-to-end header fields, in order; names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// How the body is delimited.
    pub body: BodyFraming,
    /// The `Content-Length` of a response without a body (to HEAD, or a 304): the
    /// length the full response would have had, which the client may still want.
    pub declared_length: Option<u64>,
    /// The upstream asked to close the connection (`Connection: close`, or
    /// HTTP/1.0 without keep-alive).
    pub close: bool,
}

/// Parses the response head at the start of `buf`; `Ok(None)` while it is incomplete.
/// `to_head` says the request was HEAD (no body follows whatever the head says).
///
/// ```
/// use latchkey::http::upstream::{BodyFraming, parse_response_head};
/// let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nX-App: 2\r\n\r\nhello";
/// let head = parse_response_head(raw, false).unwrap().unwrap();
/// assert_eq!(head.status, 200);
/// assert_eq!(head.body, BodyFraming::Length(5));
/// assert_eq!(head.headers, vec![("X-App".to_owned(), b"2".to_vec())]);
/// assert!(head.close);
/// assert_eq!(&raw[head.head_len..], b"hello");
/// ```
pub fn parse_response_head(
    buf: &[u8],
    to_head: bool,
) -> Result<Option<ResponseHead>, ResponseError> {
    let window = buf.get(..MAX_RESPONSE_HEAD).unwrap_or(buf);
    let mut slots = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    let head_len = match parsed.parse(window) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= MAX_RESPONSE_HEAD {
                Err(ResponseError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
        Err(_) => return Err(ResponseError::Malformed),
    };
    let (Some(minor), Some(status)) = (parsed.version, parsed.code) else {
        return Err(ResponseError::Malformed);
    };
    if !(100..=599).contains(&status) {
        return Err(ResponseError::BadStatus);
    }
    let http11 = minor == 1;
    let headers: &[httparse::Header<'_>] = parsed.headers;

    // Fields named by `Connection` are hop-by-hop too (RFC 9110 §7.6.1).
    let mut connection_names: Vec<&[u8]> = Vec::new();
    let mut close = !http11;
    let mut lengths: Vec<&[u8]> = Vec::new();
    let mut codings: Vec<&[u8]> = Vec::new();
    for header in headers {
        if header
            .value
            .iter()
            .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(ResponseError::Malformed);
        }
        let name = header.name;
        if name.eq_ignore_ascii_case("connection") {
            for token in list_items(header.value) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    close = false;
                }
                connection_names.push(token);
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            lengths.extend(list_items(header.value));
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            codings.extend(list_items(header.value));
        }
    }
    let length = match lengths.split_first() {
        None => None,
        Some((first, rest)) => {
            if rest.iter().any(|other| other != first) {
                return Err(ResponseError::BadContentLength);
            }
            Some(decimal(first).ok_or(ResponseError::BadContentLength)?)
        }
    };
    let chunked = match codings.as_slice() {
        [] => false,
        [only] if only.eq_ignore_ascii_case(b"chunked") && http11 => true,
        _ => return Err(ResponseError::BadTransferEncoding),
    };
    let no_body = to_head || status < 200 || status == 204 || status == 304;
    let body = if no_body {
        BodyFraming::None
    } else if chunked {
        BodyFraming::Chunked
    } else if let Some(length) = length {
        BodyFraming::Length(length)
    } else {
        BodyFraming::UntilClose
    };
    let declared_length = if no_body && status != 204 && status >= 200 && !chunked {
        length
    } else {
        None
    };
    let end_to_end = headers
        .iter()
        .filter(|h| {
            !HOP_BY_HOP
                .iter()
                .any(|hop| h.name.eq_ignore_ascii_case(hop))
                && !connection_names
                    .iter()
                    .any(|named| named.eq_ignore_ascii_case(h.name.as_bytes()))
        })
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect();
    Ok(Some(ResponseHead {
        head_len,
        status,
        http11,
        headers: end_to_end,
        body,
        declared_length,
        close,
    }))
}

/// The items of a comma-separated list field (RFC 9110 §5.6.1), blanks trimmed and
/// empty items skipped.
pub fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

/// A `Content-Length` value: 1 to 19 ASCII digits (so it fits a `u64`).
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str, to_head: bool) -> Result<Option<ResponseHead>, ResponseError> {
        parse_response_head(raw.as_bytes(), to_head)
    }

    fn framing(raw: &str) -> Result<BodyFraming, ResponseError> {
        Ok(head(raw, false)?.expect("complete head").body)
    }

    #[test]
    fn framing_follows_rfc_9112_section_6_3() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Ok(BodyFraming::Length(12))
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(BodyFraming::Chunked)
        );
        // Transfer-Encoding wins over Content-Length, which is not passed on.
        let both = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: Chunked\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(both.body, BodyFraming::Chunked);
        assert!(both.headers.is_empty());
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\n\r\n"),
            Ok(BodyFraming::UntilClose)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\n\r\n"),
            Ok(BodyFraming::UntilClose)
        );
        for no_body in [
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\n",
        ] {
            assert_eq!(framing(no_body), Ok(BodyFraming::None), "{no_body}");
        }
        let to_head = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert_eq!(to_head.body, BodyFraming::None);
        assert_eq!(to_head.declared_length, Some(5));
        // Equal repeated lengths are one length (RFC 9110 §8.6).
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\nContent-Length: 4\r\n\r\n"),
            Ok(BodyFraming::Length(4))
        );
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for (raw, error) in [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                ResponseError::BadContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n",
                ResponseError::BadContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                ResponseError::BadContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                ResponseError::BadTransferEncoding,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                ResponseError::BadTransferEncoding,
            ),
            (
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                ResponseError::BadTransferEncoding,
            ),
            ("HTTP/1.1 600 Odd\r\n\r\n", ResponseError::BadStatus),
            ("HTTP/1.1 099 Odd\r\n\r\n", ResponseError::BadStatus),
            ("HTTP/2 200 OK\r\n\r\n", ResponseError::Malformed),
            (
                "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
                ResponseError::Malformed,
            ),
            (
                "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
                ResponseError::Malformed,
            ),
        ] {
            assert_eq!(head(raw, false).map(|_| ()), Err(error), "{raw:?}");
        }
    }

    #[test]
    fn hop_by_hop_fields_stay_behind() {
        let parsed = head(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n\
             x-secret: 1\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Connection: close\r\n\
             TE: trailers\r\nSet-Cookie: a=1\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            parsed.headers,
            vec![("Set-Cookie".to_owned(), b"a=1".to_vec())]
        );
        assert!(!parsed.close);
    }

    #[test]
    fn partial_and_oversize_heads() {
        assert_eq!(head("HTTP/1.1 200 OK\r\nX: 1\r\n", false), Ok(None));
        let mut big = "HTTP/1.1 200 OK\r\nX: ".to_owned();
        big.push_str(&"a".repeat(MAX_RESPONSE_HEAD));
        assert_eq!(head(&big, false), Err(ResponseError::HeadTooLarge));
        let mut many = "HTTP/1.1 200 OK\r\n".to_owned();
        for i in 0..=MAX_RESPONSE_HEADERS {
            many.push_str(&format!("X-{i}: 1\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(head(&many, false), Err(ResponseError::TooManyHeaders));
    }
}
