//! Fuzz invariants for proxy_path: arbitrary bytes as a request path through the
//! normaliser that `--public`, the reserved prefix and routing are judged on. It must
//! not panic; an accepted path must be ASCII, start with `/`, hold no `//`, no dot
//! segment (also before a `;`), no `%2F`, no backslash and no control character raw or
//! encoded, and no `#`; it must be its own normal form; it must decode to what the
//! input decodes to, so the application reads the path latchkey judged; and its decoded
//! form must hold no `%` before two hex digits, so decoding twice changes nothing.

use crate::web::proxy::path::normalise;
use crate::web::url::percent_decode;

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(normal) = normalise(path) else {
        return;
    };
    assert!(normal.is_ascii() && normal.starts_with('/'), "{normal:?}");
    assert!(!normal.contains("//") && !normal.contains('#') && !normal.contains('\\'));
    let lower = normal.to_ascii_lowercase();
    for encoded in ["%2f", "%5c", "%00", "%0a", "%0d", "%7f"] {
        assert!(!lower.contains(encoded), "{normal:?} holds {encoded}");
    }
    assert!(!normal.bytes().any(|b| b.is_ascii_control()));
    for segment in normal.split('/') {
        let name = segment.split(';').next().unwrap_or_default();
        assert!(name != "." && name != "..", "dot segment in {normal:?}");
    }
    assert_eq!(
        normalise(&normal).as_deref(),
        Ok(normal.as_str()),
        "not idempotent"
    );
    assert_eq!(
        percent_decode(&normal).ok(),
        percent_decode(path).ok(),
        "{path:?} and {normal:?} decode differently"
    );
    if let Ok(decoded) = percent_decode(&normal) {
        let escape_left = decoded
            .as_bytes()
            .windows(3)
            .any(|w| matches!(w, [b'%', a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit()));
        assert!(!escape_left, "{normal:?} decodes to an escape");
    }
}
