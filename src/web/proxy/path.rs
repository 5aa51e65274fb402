//! The path a proxied request is judged on, which is also the path sent upstream.
//!
//! Authentication bypasses in reverse proxies come from judging one path and
//! forwarding another: a rule matched against the query (`/admin?/public`), a
//! client's `X-Forwarded-Uri`, or a path the application reads differently after
//! decoding (`/public/%2e%2e/admin`, `/public%2F..%2Fadmin`, `/public/..;/admin` for
//! Tomcat, `\` for IIS). So the request path is normalised once, here, the
//! normalised form is what `--public`, the reserved prefix and routing are matched
//! against, and it is what the upstream receives:
//! - Percent-encoded unreserved characters (`ALPHA DIGIT - . _ ~`) are decoded
//!   (RFC 3986 §6.2.2.2: the two forms are equivalent); other escapes are kept with
//!   upper-case hex (§6.2.2.1); bytes above ASCII are percent-encoded.
//! - Refused: a target that is not an absolute path (absolute-form, `*`), a fragment
//!   (`#`, which never belongs in a request), an encoded `/` (`%2F`), a backslash raw
//!   or encoded, NUL or any other control character raw or encoded, an invalid
//!   escape, an escaped `%` before two hex digits (`%252F`, decoded twice by some
//!   applications), an empty segment (`//`) other than a trailing `/`, a `.` or `..`
//!   segment raw or encoded (also before a `;` parameter, as in `..;x`), and a path
//!   whose decoded bytes are not UTF-8 (overlong forms of `.` and `/` included).
//!
//! The decoded segments of an accepted path are those of its normal form, one for
//! one, so an application that decodes sees the same path latchkey judged.

use std::fmt;

/// Why a request path was refused (answered 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum PathError {
    /// The target does not start with `/`.
    NotAbsolute,
    /// The target holds a `#`.
    Fragment,
    /// A `%` not followed by two hex digits.
    InvalidEscape,
    /// An escaped `%` followed by two hex digits (`%2541`): decoded twice, as some
    /// applications and frameworks do, it is another path than the one judged.
    DoubleEscape,
    /// A percent-encoded `/`.
    EncodedSlash,
    /// A backslash, raw or encoded.
    Backslash,
    /// A control character, raw or encoded.
    ControlChar,
    /// An empty segment (`//`).
    EmptySegment,
    /// A `.` or `..` segment.
    DotSegment,
    /// The decoded path is not UTF-8.
    NotUtf8,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "path does not start with /",
            PathError::Fragment => "fragment in request target",
            PathError::InvalidEscape => "invalid percent-escape in path",
            PathError::DoubleEscape => "double percent-escape in path",
            PathError::EncodedSlash => "encoded slash in path",
            PathError::Backslash => "backslash in path",
            PathError::ControlChar => "control character in path",
            PathError::EmptySegment => "empty path segment",
            PathError::DotSegment => "dot segment in path",
            PathError::NotUtf8 => "path is not utf-8",
        })
    }
}

impl std::error::Error for PathError {}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn push_escaped(out: &mut String, byte: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
}

/// The normal form of a request path (the target before its `?`), or why it is
/// refused. The normal form of a normal form is itself.
pub(crate) fn normalise(path: &str) -> Result<String, PathError> {
    if path.contains('#') {
        return Err(PathError::Fragment);
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    let mut out = String::with_capacity(path.len());
    let mut segments = rest.split('/').peekable();
    while let Some(raw) = segments.next() {
        out.push('/');
        if raw.is_empty() {
            // Only the last segment may be empty: a trailing `/` (or the root).
            if segments.peek().is_some() {
                return Err(PathError::EmptySegment);
            }
            break;
        }
        let decoded = normalise_segment(raw.as_bytes(), &mut out)?;
        if std::str::from_utf8(&decoded).is_err() {
            return Err(PathError::NotUtf8);
        }
        // Tomcat and others drop a `;` parameter before resolving dot segments.
        let name = decoded.split(|&b| b == b';').next().unwrap_or_default();
        if name == b"." || name == b".." {
            return Err(PathError::DotSegment);
        }
    }
    Ok(out)
}

/// Appends the normal form of one segment to `out` and returns its decoded bytes.
fn normalise_segment(raw: &[u8], out: &mut String) -> Result<Vec<u8>, PathError> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut at = 0;
    while let Some(&byte) = raw.get(at) {
        at += 1;
        let (value, was_escaped) = if byte == b'%' {
            let high = raw.get(at).copied().and_then(hex_value);
            let low = raw.get(at + 1).copied().and_then(hex_value);
            let (Some(high), Some(low)) = (high, low) else {
                return Err(PathError::InvalidEscape);
            };
            at += 2;
            (high << 4 | low, true)
        } else {
            (byte, false)
        };
        match value {
            b'/' if was_escaped => return Err(PathError::EncodedSlash),
            b'\\' => return Err(PathError::Backslash),
            b if b < 0x20 || b == 0x7f => return Err(PathError::ControlChar),
            b if is_unreserved(b) => out.push(char::from(b)),
            // Escaped, or above ASCII: written escaped.
            b if was_escaped || !b.is_ascii() => push_escaped(out, b),
            // Other printable ASCII is kept as sent (sub-delims, `:`, `@`, ...).
            b => out.push(char::from(b)),
        }
        decoded.push(value);
    }
    // Judged on the decoded bytes, so that the two hex digits may themselves come
    // escaped (`%252%35` decodes to `%25`): decoded once more, that is another path.
    let escape_left = decoded
        .windows(3)
        .any(|w| matches!(w, [b'%', a, b] if hex_value(*a).is_some() && hex_value(*b).is_some()));
    if escape_left {
        return Err(PathError::DoubleEscape);
    }
    Ok(decoded)
}

/// Whether the normalised `path` is `public` or under it: an entry ending in `/` is a
/// prefix, any other entry is matched exactly.
pub(crate) fn is_public(path: &str, public: &[String]) -> bool {
    public.iter().any(|entry| {
        if entry.ends_with('/') {
            path.starts_with(entry.as_str())
        } else {
            path == entry
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        for (path, normal) in [
            ("/", "/"),
            ("/a/b/", "/a/b/"),
            ("/a/b", "/a/b"),
            ("/%41%7e%2D", "/A~-"),
            ("/a%20b", "/a%20b"),
            ("/%c3%a9t%C3%A9", "/%C3%A9t%C3%A9"),
            ("/a;b=c/d:e@f!$&'()*+,=", "/a;b=c/d:e@f!$&'()*+,="),
            ("/.well-known/x", "/.well-known/x"),
            ("/a/...", "/a/..."),
            ("/%2e%2e%2e", "/..."),
            ("/a%3F/b", "/a%3F/b"),
            ("/100%25", "/100%25"),
            ("/100%25-off", "/100%25-off"),
            ("/a%25zz", "/a%25zz"),
        ] {
            let got = normalise(path).unwrap();
            assert_eq!(got, normal, "{path}");
            assert_eq!(normalise(&got).as_deref(), Ok(normal), "{path}");
        }
    }

    #[test]
    fn every_bypass_shape_is_refused() {
        for (path, error) in [
            ("admin", PathError::NotAbsolute),
            ("*", PathError::NotAbsolute),
            ("http://evil/admin", PathError::NotAbsolute),
            ("/public#/../admin", PathError::Fragment),
            ("/public/%2e%2e/admin", PathError::DotSegment),
            ("/public/%2E./admin", PathError::DotSegment),
            ("/public/../admin", PathError::DotSegment),
            ("/public/./admin", PathError::DotSegment),
            ("/public/..", PathError::DotSegment),
            ("/public/..;/admin", PathError::DotSegment),
            ("/public/.;x/admin", PathError::DotSegment),
            ("/public/..%3b/admin", PathError::DotSegment),
            ("/public%2f..%2fadmin", PathError::EncodedSlash),
            ("/public%2F..%2Fadmin", PathError::EncodedSlash),
            ("/public\\..\\admin", PathError::Backslash),
            ("/public%5c..%5cadmin", PathError::Backslash),
            ("/public%00/admin", PathError::ControlChar),
            ("/public%0a", PathError::ControlChar),
            ("/public%7F", PathError::ControlChar),
            ("//admin", PathError::EmptySegment),
            ("/public//admin", PathError::EmptySegment),
            ("/public/%", PathError::InvalidEscape),
            ("/public/%2", PathError::InvalidEscape),
            ("/public/%zz", PathError::InvalidEscape),
            ("/public/%%32e", PathError::InvalidEscape),
            ("/public%252F..%252Fadmin", PathError::DoubleEscape),
            ("/public/%252e%252e/admin", PathError::DoubleEscape),
            ("/a%25a1", PathError::DoubleEscape),
            ("/fu26F%252%351tm", PathError::DoubleEscape),
            ("/a%25%34%31", PathError::DoubleEscape),
            ("/public/%c0%ae%c0%ae/admin", PathError::NotUtf8),
            ("/public/%c0%af", PathError::NotUtf8),
        ] {
            assert_eq!(normalise(path), Err(error), "{path}");
        }
    }

    #[test]
    fn raw_non_ascii_is_escaped_like_its_encoded_form() {
        assert_eq!(normalise("/caf\u{e9}").unwrap(), "/caf%C3%A9");
        assert_eq!(
            normalise("/caf\u{e9}").unwrap(),
            normalise("/caf%c3%a9").unwrap()
        );
    }

    #[test]
    fn public_entries_match_exactly_or_as_prefix() {
        let public = vec!["/health".to_owned(), "/assets/".to_owned()];
        assert!(is_public("/health", &public));
        assert!(!is_public("/health/", &public));
        assert!(!is_public("/healthz", &public));
        assert!(is_public("/assets/", &public));
        assert!(is_public("/assets/a/b.css", &public));
        assert!(!is_public("/assets", &public));
        assert!(!is_public("/assetsx/a", &public));
    }

    #[test]
    fn bypass_spellings_and_public_prefixes() {
        assert_eq!(
            normalise("/st%61tic/caf%c3%a9/").unwrap(),
            "/static/caf%C3%A9/"
        );
        assert_eq!(
            normalise("/static/%2e%2e/admin"),
            Err(PathError::DotSegment)
        );
        assert_eq!(
            normalise("/static%2F..%2Fadmin"),
            Err(PathError::EncodedSlash)
        );
        assert_eq!(normalise("/static/..;/admin"), Err(PathError::DotSegment));
        assert_eq!(normalise("//admin"), Err(PathError::EmptySegment));
        let public = ["/favicon.ico".to_owned(), "/static/".to_owned()];
        assert!(is_public("/favicon.ico", &public) && is_public("/static/app.js", &public));
        assert!(!is_public("/favicon.ico.bak", &public) && !is_public("/static", &public));
    }
}
