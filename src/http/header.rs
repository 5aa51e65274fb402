//! Validation of the headers a handler puts on a response, so that no header can
//! split the response or smuggle a second one.
//!
//! - A field name is a `token` (RFC 9110 §5.1, §5.6.2): one or more `tchar`s.
//! - A field value holds no CR, LF, NUL or other control character (RFC 9110 §5.5:
//!   "Field values containing CR, LF, or NUL characters are invalid and dangerous");
//!   HTAB is the one control character allowed. Blanks around the value are not
//!   part of it (§5.5) and are left off when the header is written.
//! - The framing headers are the server's own: a handler may not set them.

use std::fmt;

/// Why a header (or the status) was refused by [`Response::set_header`]
/// (or [`Response::new`]).
///
/// [`Response::set_header`]: super::Response::set_header
/// [`Response::new`]: super::Response::new
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

/// Header names the server writes itself (message framing, RFC 9112 §6); a handler
/// may not set them.
const RESERVED: [&str; 4] = ["content-length", "date", "connection", "transfer-encoding"];

/// Checks a header a handler wants to send: a token name that is not reserved, and a
/// value without control characters.
pub(crate) fn check(name: &str, value: &str) -> Result<(), HeaderError> {
    check_name(name)?;
    check_value(value)
}

/// Checks a header of a request forwarded to an upstream: a token name that is not a
/// hop-by-hop or framing field (the server frames the request itself), and a value
/// without control characters.
pub(crate) fn check_forwarded(name: &str, value: &[u8]) -> Result<(), HeaderError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(HeaderError::InvalidName);
    }
    if super::upstream::HOP_BY_HOP
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop))
    {
        return Err(HeaderError::Reserved);
    }
    if value.iter().any(|&b| is_control(b)) {
        return Err(HeaderError::InvalidValue);
    }
    Ok(())
}

/// A control byte other than HTAB (RFC 9110 §5.5).
pub(crate) fn is_control(b: u8) -> bool {
    b.is_ascii_control() && b != b'\t'
}

fn check_name(name: &str) -> Result<(), HeaderError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(HeaderError::InvalidName);
    }
    if RESERVED
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
    {
        return Err(HeaderError::Reserved);
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), HeaderError> {
    if value.bytes().any(is_control) {
        return Err(HeaderError::InvalidValue);
    }
    Ok(())
}

/// RFC 9110 §5.6.2 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tokens() {
        const TCHAR_PUNCTUATION: &[u8] = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || TCHAR_PUNCTUATION.contains(&b);
            assert_eq!(is_tchar(b), want, "{b:#04x}");
            if let Ok(name) = std::str::from_utf8(&[b'X', b]) {
                let verdict = check(name, "1");
                assert_eq!(verdict.is_ok(), want, "{name:?}: {verdict:?}");
            }
        }
        assert_eq!(check("", "1"), Err(HeaderError::InvalidName));
        assert_eq!(check("Bad Name", "1"), Err(HeaderError::InvalidName));
        assert_eq!(check("Bad:Name", "1"), Err(HeaderError::InvalidName));
        assert_eq!(check("Näme", "1"), Err(HeaderError::InvalidName));
        assert_eq!(check("X-Ok", "1"), Ok(()));
    }

    #[test]
    fn framing_headers_are_reserved_in_any_case() {
        for name in [
            "Content-Length",
            "content-length",
            "date",
            "DATE",
            "Connection",
            "Transfer-Encoding",
        ] {
            assert_eq!(check(name, "1"), Err(HeaderError::Reserved), "{name}");
        }
        assert_eq!(check("Content-Lengths", "1"), Ok(()));
    }

    #[test]
    fn values_hold_no_control_character_but_tab() {
        for b in (0u8..0x20).chain([0x7f]) {
            for value in [
                format!("{}", char::from(b)),
                format!("a{}b", char::from(b)),
                format!("a{}", char::from(b)),
            ] {
                let verdict = check("X-Test", &value);
                if b == b'\t' {
                    assert_eq!(verdict, Ok(()));
                } else {
                    assert_eq!(verdict, Err(HeaderError::InvalidValue), "{value:?}");
                }
            }
        }
        assert_eq!(
            check("Location", "/\r\nSet-Cookie: x=1"),
            Err(HeaderError::InvalidValue)
        );
        // Text above ASCII (obs-text on the wire) and the empty value are allowed.
        assert_eq!(check("X-Test", "ünïcode 😀 ~"), Ok(()));
        assert_eq!(check("X-Test", ""), Ok(()));
    }
}
