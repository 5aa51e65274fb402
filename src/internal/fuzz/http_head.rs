//! Fuzz invariants for http_head: arbitrary bytes through the request-head parser and
//! its limits. The first byte picks a set of limits (default, small, tiny); the rest is
//! the connection's input buffer. The parser must not panic, must never hand out a
//! request whose header names or values carry CR, LF or other control characters, must
//! never accept a repeated `Content-Length` or one together with `Transfer-Encoding`,
//! must stay within the head and body limits, and must decide on a prefix of the
//! input the same way as on the whole (the loop parses a growing buffer). Path, query
//! and header lookup must agree with the target and header list they come from.

use std::net::SocketAddr;
use std::time::Duration;

use crate::http::{Limits, Parsed, parse_request};

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let (selector, input) = data
        .split_first()
        .map_or((0, data), |(first, rest)| (*first, rest));
    let limits = match selector % 3 {
        0 => Limits::default(),
        1 => Limits {
            max_head_bytes: 64,
            max_headers: 4,
            max_body_bytes: 16,
            ..Limits::default()
        },
        _ => Limits {
            max_head_bytes: 24,
            max_headers: 1,
            max_body_bytes: 0,
            request_deadline: Duration::from_secs(1),
            ..Limits::default()
        },
    };
    let peer = SocketAddr::from(([192, 0, 2, 1], 4242));
    let outcome = parse_request(input, peer, &limits, |req| {
        for (name, value) in req.headers() {
            assert!(!name.is_empty(), "empty header name");
            assert!(
                name.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
                "bad header name {name:?}"
            );
            assert!(
                value
                    .iter()
                    .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)),
                "control byte in header value {value:?}"
            );
        }
        // The path is the target up to the first `?`, the query what follows it.
        assert!(!req.path().contains('?'));
        match req.query() {
            Some(query) => assert_eq!(format!("{}?{query}", req.path()), req.target()),
            None => assert_eq!(req.path(), req.target()),
        }
        // A header found by name is the first whose name matches in any ASCII case.
        let first_length = req
            .headers()
            .find(|(name, _)| name.eq_ignore_ascii_case("Content-Length"))
            .map(|(_, value)| value);
        assert_eq!(req.header("CONTENT-length"), first_length);
        for part in [req.method(), req.target()] {
            assert!(
                !part.is_empty()
                    && !part
                        .bytes()
                        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            );
        }
        let lengths: Vec<&[u8]> = req.headers_all("content-length").collect();
        assert!(lengths.len() <= 1, "repeated content-length accepted");
        assert!(
            req.header("transfer-encoding").is_none(),
            "transfer-encoding accepted"
        );
        let declared = lengths.first().map(|value| {
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
        });
        match declared {
            None => assert!(req.body().is_empty()),
            Some(length) => assert_eq!(length, Some(req.body().len()), "body length mismatch"),
        }
        assert!(req.body().len() <= limits.max_body_bytes);
        req.body().len()
    });
    // The loop parses a growing buffer: what a prefix decides must stand for the whole.
    let split = usize::from(selector).wrapping_mul(31) % (input.len() + 1);
    let prefix = input.get(..split).unwrap_or_default();
    let consumed_of = |outcome: &Result<Parsed<usize>, _>| match outcome {
        Ok(Parsed::Done { consumed, .. }) => Some(*consumed),
        _ => None,
    };
    let prefix_outcome = parse_request(prefix, peer, &limits, |req| req.body().len());
    match &prefix_outcome {
        Ok(Parsed::Done { consumed, .. }) => {
            assert_eq!(
                consumed_of(&outcome),
                Some(*consumed),
                "prefix and whole disagree"
            );
        }
        Err(error) => assert_eq!(outcome.as_ref().err(), Some(error), "prefix error not kept"),
        Ok(_) => {}
    }
    match outcome {
        Ok(Parsed::NeedMore) => assert!(input.len() < limits.max_head_bytes),
        Ok(Parsed::NeedBody { total_len, .. }) => {
            assert!(total_len > input.len());
            assert!(total_len <= limits.max_head_bytes + limits.max_body_bytes);
        }
        Ok(Parsed::Done {
            consumed,
            value: body_len,
            ..
        }) => {
            assert!(consumed <= input.len());
            assert!(
                consumed - body_len <= limits.max_head_bytes,
                "head over the limit"
            );
        }
        Ok(Parsed::Streaming { .. }) => panic!("parse_request streamed a body"),
        Err(error) => assert!((400..=599).contains(&error.status())),
    }
}
