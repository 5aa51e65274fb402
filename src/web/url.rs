//! Percent-decoding and -encoding, query parameters, and request-path
//! normalisation for the static file server.
//!
//! Everything here is strict: a `%` that is not followed by two hex digits, or a
//! decoded result that is not UTF-8, is an error rather than being passed
//! through, because lenient decoders are where smuggling tricks live (`%%32e`,
//! truncated escapes, overlong sequences).

use std::fmt;

/// Why a URL component was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum UrlError {
    /// A `%` not followed by two hex digits (`%G1`, a truncated `%4`).
    InvalidEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// A query parameter name appears more than once (holds the decoded name).
    Duplicate(String),
    /// The path does not start with `/`.
    NotAbsolutePath,
    /// The path has an empty segment (`a//b`, a trailing `/`).
    EmptySegment,
    /// The path has a `.` or `..` segment (raw or percent-encoded).
    DotSegment,
    /// A segment holds a percent-encoded `/`, which would change the segmentation.
    EncodedSlash,
    /// The path holds a backslash, raw or percent-encoded.
    Backslash,
    /// The path holds a control character (NUL, CR, LF, tab, DEL, C1), raw or encoded.
    ControlChar,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::InvalidEscape => f.write_str("invalid percent-escape"),
            UrlError::NotUtf8 => f.write_str("not utf-8"),
            // `{:?}` escapes control characters, so a hostile name cannot forge log lines.
            UrlError::Duplicate(name) => write!(f, "duplicate parameter {name:?}"),
            UrlError::NotAbsolutePath => f.write_str("path does not start with /"),
            UrlError::EmptySegment => f.write_str("empty path segment"),
            UrlError::DotSegment => f.write_str("dot segment in path"),
            UrlError::EncodedSlash => f.write_str("encoded slash in path"),
            UrlError::Backslash => f.write_str("backslash in path"),
            UrlError::ControlChar => f.write_str("control character in path"),
        }
    }
}

impl std::error::Error for UrlError {}

/// Value of one ASCII hex digit, or `None`.
fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_as_space`) into bytes.
pub(crate) fn decode_bytes(input: &[u8], plus_as_space: bool) -> Result<Vec<u8>, UrlError> {
    let mut decoded = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'%' => {
                let (high, low, tail) = match rest {
                    [high, low, tail @ ..] => (*high, *low, tail),
                    _ => return Err(UrlError::InvalidEscape),
                };
                let (Some(high), Some(low)) = (hex_value(high), hex_value(low)) else {
                    return Err(UrlError::InvalidEscape);
                };
                decoded.push(high << 4 | low);
                rest = tail;
            }
            b'+' if plus_as_space => decoded.push(b' '),
            other => decoded.push(other),
        }
    }
    Ok(decoded)
}

/// Decodes `%XX` escapes and `+` (when `plus_as_space`) into a UTF-8 string.
pub(crate) fn decode_string(input: &[u8], plus_as_space: bool) -> Result<String, UrlError> {
    String::from_utf8(decode_bytes(input, plus_as_space)?).map_err(|_| UrlError::NotUtf8)
}

/// Percent-decodes `input` strictly (`+` stays a `+`, as in a URL path).
pub(crate) fn percent_decode(input: &str) -> Result<String, UrlError> {
    decode_string(input.as_bytes(), false)
}

/// Whether a byte is an RFC 3986 "unreserved" character, the only ones that
/// never need escaping in any URL component.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `byte` as `%XX` (upper-case hex).
pub(crate) fn push_escaped(out: &mut String, byte: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so the result
/// is safe as a query value or form field (e.g. a path inside `?next=`).
pub(crate) fn percent_encode_component(input: &str) -> String {
    let mut out = String::with_capacity(input.len() * 3);
    for &byte in input.as_bytes() {
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else {
            push_escaped(&mut out, byte);
        }
    }
    out
}

/// Looks up `name` in a query string (without the leading `?`), decoding as
/// `application/x-www-form-urlencoded` (`+` is a space).
///
/// Every parameter is decoded, so a malformed escape anywhere is an error, and a
/// name given twice (even spelled differently, like `next` and `n%65xt`) is
/// [`UrlError::Duplicate`] rather than silently picking one. A parameter without
/// `=` has an empty value; empty pieces (`a=1&&b=2`) are skipped.
pub(crate) fn query_param(query: &str, name: &str) -> Result<Option<String>, UrlError> {
    let mut found: Option<String> = None;
    let mut seen: Vec<String> = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let decoded_name = decode_string(raw_name.as_bytes(), true)?;
        let decoded_value = decode_string(raw_value.as_bytes(), true)?;
        if seen.contains(&decoded_name) {
            return Err(UrlError::Duplicate(decoded_name));
        }
        if decoded_name == name {
            found = Some(decoded_value);
        }
        seen.push(decoded_name);
    }
    Ok(found)
}

/// Splits a raw (still percent-encoded) request path into decoded segments that
/// are safe to join under a directory root.
///
/// The path must start with `/`; `/` alone yields no segments. Rejected, each
/// with its own [`UrlError`]: empty segments (`a//b`, a trailing `/`), `.` and
/// `..` segments (also when percent-encoded), an encoded `/` (`%2F`, `%2f`),
/// backslashes (raw or `%5C`), control characters (raw or encoded, including
/// NUL), invalid escapes and non-UTF-8. Hidden names such as `.htaccess` are
/// allowed here; whether to serve them is the file server's policy.
pub(crate) fn safe_relative_path(path: &str) -> Result<Vec<String>, UrlError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(UrlError::NotAbsolutePath);
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        if raw.is_empty() {
            return Err(UrlError::EmptySegment);
        }
        if raw.contains('\\') {
            return Err(UrlError::Backslash);
        }
        let bytes = decode_bytes(raw.as_bytes(), false)?;
        // Checked on bytes first so the error names the real problem, not "not utf-8".
        if bytes.contains(&b'/') {
            return Err(UrlError::EncodedSlash);
        }
        if bytes.contains(&b'\\') {
            return Err(UrlError::Backslash);
        }
        let segment = String::from_utf8(bytes).map_err(|_| UrlError::NotUtf8)?;
        if segment.chars().any(char::is_control) {
            return Err(UrlError::ControlChar);
        }
        if segment == "." || segment == ".." {
            return Err(UrlError::DotSegment);
        }
        segments.push(segment);
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_bad_escapes() {
        assert_eq!(percent_decode("%"), Err(UrlError::InvalidEscape));
        assert_eq!(percent_decode("a%4"), Err(UrlError::InvalidEscape));
        assert_eq!(percent_decode("%G1"), Err(UrlError::InvalidEscape));
        assert_eq!(percent_decode("%1G"), Err(UrlError::InvalidEscape));
        assert_eq!(percent_decode("%%32e"), Err(UrlError::InvalidEscape));
    }

    #[test]
    fn decode_handles_case_and_utf8() {
        assert_eq!(percent_decode("%2f%2F%c3%A9").unwrap(), "//é");
        assert_eq!(percent_decode("%c0%af"), Err(UrlError::NotUtf8));
        assert_eq!(percent_decode("a+b").unwrap(), "a+b");
    }

    #[test]
    fn encode_round_trips_every_byte_class() {
        let input = "aZ09-._~ /?#&=+%\u{0}\r\n\\é😀";
        let encoded = percent_encode_component(input);
        assert!(encoded.bytes().all(|b| is_unreserved(b) || b == b'%'));
        assert_eq!(percent_decode(&encoded).unwrap(), input);
    }

    #[test]
    fn query_param_decodes_plus_and_escapes() {
        assert_eq!(
            query_param("q=a+b%2Bc", "q").unwrap().as_deref(),
            Some("a b+c")
        );
        assert_eq!(
            query_param("flag&q=1", "flag").unwrap().as_deref(),
            Some("")
        );
        assert_eq!(query_param("", "q").unwrap(), None);
        assert_eq!(query_param("&&q=1&", "q").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn query_param_rejects_duplicates_even_when_encoded_differently() {
        assert_eq!(
            query_param("next=/a&n%65xt=/b", "next"),
            Err(UrlError::Duplicate("next".into()))
        );
        // Also a duplicate of a parameter we did not ask for: the query is ambiguous.
        assert_eq!(
            query_param("a=1&a=2", "next"),
            Err(UrlError::Duplicate("a".into()))
        );
    }

    #[test]
    fn query_param_rejects_malformed_elsewhere() {
        assert_eq!(
            query_param("x=%zz&next=/", "next"),
            Err(UrlError::InvalidEscape)
        );
        assert_eq!(query_param("next=%ff", "next"), Err(UrlError::NotUtf8));
    }

    #[test]
    fn safe_relative_path_accepts_plain_paths() {
        assert_eq!(safe_relative_path("/").unwrap(), Vec::<String>::new());
        assert_eq!(safe_relative_path("/index.html").unwrap(), ["index.html"]);
        assert_eq!(
            safe_relative_path("/a/.b/c..d").unwrap(),
            ["a", ".b", "c..d"]
        );
        assert_eq!(safe_relative_path("/%C3%A9t%C3%A9").unwrap(), ["été"]);
    }

    #[test]
    fn safe_relative_path_rejects_traversal_and_smuggling() {
        let cases: &[(&str, UrlError)] = &[
            ("index.html", UrlError::NotAbsolutePath),
            ("", UrlError::NotAbsolutePath),
            ("/a//b", UrlError::EmptySegment),
            ("//etc/passwd", UrlError::EmptySegment),
            ("/a/", UrlError::EmptySegment),
            ("/..", UrlError::DotSegment),
            ("/a/../b", UrlError::DotSegment),
            ("/./a", UrlError::DotSegment),
            ("/%2e%2e/a", UrlError::DotSegment),
            ("/.%2E/a", UrlError::DotSegment),
            ("/%2e", UrlError::DotSegment),
            ("/a%2fb", UrlError::EncodedSlash),
            ("/..%2f..%2fetc", UrlError::EncodedSlash),
            ("/a\\b", UrlError::Backslash),
            ("/..\\..\\etc", UrlError::Backslash),
            ("/a%5cb", UrlError::Backslash),
            ("/a%5C..", UrlError::Backslash),
            ("/a%00.html", UrlError::ControlChar),
            ("/a\u{0}b", UrlError::ControlChar),
            ("/a%0d%0ab", UrlError::ControlChar),
            ("/a%09", UrlError::ControlChar),
            ("/a%7f", UrlError::ControlChar),
            ("/a%c2%85", UrlError::ControlChar),
            ("/a%zz", UrlError::InvalidEscape),
            ("/a%2", UrlError::InvalidEscape),
            ("/%c0%ae%c0%ae/etc", UrlError::NotUtf8),
        ];
        for (path, expected) in cases {
            assert_eq!(safe_relative_path(path).as_ref(), Err(expected), "{path:?}");
        }
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn percent_decode_example() {
        use crate::web::url::{UrlError, percent_decode};
        assert_eq!(percent_decode("/a%20b+c").unwrap(), "/a b+c");
        assert_eq!(percent_decode("%G1"), Err(UrlError::InvalidEscape));
        assert_eq!(percent_decode("%4"), Err(UrlError::InvalidEscape));
        assert_eq!(percent_decode("%ff"), Err(UrlError::NotUtf8));
    }

    #[test]
    fn percent_encode_component_example() {
        use crate::web::url::{percent_decode, percent_encode_component};
        let encoded = percent_encode_component("/admin?x=1&y=2 é");
        assert_eq!(encoded, "%2Fadmin%3Fx%3D1%26y%3D2%20%C3%A9");
        assert_eq!(percent_decode(&encoded).unwrap(), "/admin?x=1&y=2 é");
    }

    #[test]
    fn query_param_example() {
        use crate::web::url::{UrlError, query_param};
        assert_eq!(
            query_param("next=%2Fadmin&x=1", "next").unwrap().as_deref(),
            Some("/admin")
        );
        assert_eq!(query_param("x=1", "next").unwrap(), None);
        assert_eq!(
            query_param("next=/a&next=//evil.com", "next"),
            Err(UrlError::Duplicate("next".into()))
        );
    }

    #[test]
    fn safe_relative_path_example() {
        use crate::web::url::{UrlError, safe_relative_path};
        assert_eq!(
            safe_relative_path("/css/site%20a.css").unwrap(),
            ["css", "site a.css"]
        );
        assert_eq!(
            safe_relative_path("/css/%2e%2e/secret"),
            Err(UrlError::DotSegment)
        );
        assert_eq!(safe_relative_path("/a%2Fb"), Err(UrlError::EncodedSlash));
    }
}
