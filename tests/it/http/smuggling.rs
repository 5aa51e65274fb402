//! The usual request-smuggling shapes against the request parser: each is refused, or
//! read as exactly one request, so no front proxy and latchkey can disagree on where
//! a request ends (RFC 9112 §6.3, §11.2).

use latchkey::http::{HttpError, Limits, Parsed, parse_request};

/// `Ok(consumed)` of a complete request, or the error.
fn consumed(raw: &[u8]) -> Result<usize, HttpError> {
    let peer = "127.0.0.1:9".parse().unwrap();
    match parse_request(raw, peer, &Limits::default(), |_| ())? {
        Parsed::Done { consumed, .. } => Ok(consumed),
        other => panic!("{:?}: incomplete {other:?}", String::from_utf8_lossy(raw)),
    }
}

#[test]
fn smuggling_shapes_are_refused_or_read_as_one_request() {
    use HttpError::*;
    let refused: &[(&[u8], HttpError)] = &[
        // obs-fold, space before the first header, space before the colon
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", Malformed),
        (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", Malformed),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc", Malformed),
        // bare CR inside a value or as the head's end; NUL, DEL, VT, SOH in values
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", InvalidHeaderValue),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\rabc", Malformed),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", InvalidHeaderValue),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", InvalidHeaderValue),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", InvalidHeaderValue),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", InvalidHeaderValue),
        // length ambiguities
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", InvalidContentLength),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
            LengthAndTransferEncoding,
        ),
    ];
    for (raw, want) in refused {
        assert_eq!(
            consumed(raw),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    // Pipelined: exactly the first request (with its declared body) is consumed.
    let first = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    let both = [first.as_slice(), b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"].concat();
    assert_eq!(consumed(&both), Ok(first.len()));
    // Bare-LF and mixed terminators end the head where a front proxy ends it.
    assert_eq!(consumed(b"GET / HTTP/1.1\nHost: a\n\n"), Ok(24));
    assert_eq!(consumed(b"GET / HTTP/1.1\r\nHost: a\r\n\n"), Ok(26));
}
