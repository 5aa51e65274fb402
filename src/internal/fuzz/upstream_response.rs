//! Fuzz invariants for upstream_response: arbitrary bytes through the parser of an
//! upstream's response head. The first byte's low bit says whether the request was
//! HEAD; the rest is what the upstream sent. The parser must not panic, must hand out
//! no hop-by-hop or framing field and no value with a control byte, must report a
//! head length within the input and the head limit, must give no body to HEAD, 1xx,
//! 204 and 304, and must decide on a prefix of the input as on the whole (the proxy
//! parses a growing buffer).

use crate::http::upstream::{
    BodyFraming, HOP_BY_HOP, MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS, parse_response_head,
};

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let (to_head, input) = data
        .split_first()
        .map_or((false, data), |(first, rest)| (first & 1 == 1, rest));
    let outcome = parse_response_head(input, to_head);
    let Ok(Some(head)) = &outcome else {
        if outcome == Ok(None) {
            assert!(
                input.len() < MAX_RESPONSE_HEAD,
                "a full buffer is still partial"
            );
        }
        return;
    };
    assert!(head.head_len <= input.len() && head.head_len <= MAX_RESPONSE_HEAD);
    assert!((100..=599).contains(&head.status));
    assert!(head.headers.len() <= MAX_RESPONSE_HEADERS);
    for (name, value) in &head.headers {
        assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'));
        assert!(
            !HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop)),
            "hop-by-hop field {name:?} handed out"
        );
        assert!(
            value
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)),
            "control byte in {value:?}"
        );
    }
    let bodiless = to_head || head.status < 200 || head.status == 204 || head.status == 304;
    assert_eq!(bodiless, head.body == BodyFraming::None, "{head:?}");
    if head.declared_length.is_some() {
        assert_eq!(head.body, BodyFraming::None);
    }
    // The head alone parses the same; anything shorter is still partial.
    let alone = input.get(..head.head_len).unwrap_or_default();
    assert_eq!(parse_response_head(alone, to_head), Ok(Some(head.clone())));
    if let Some(shorter) = alone.get(..head.head_len.saturating_sub(1)) {
        assert_eq!(parse_response_head(shorter, to_head), Ok(None));
    }
}
