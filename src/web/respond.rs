//! Building latchkey's answers: HTML pages with the hardening headers, Flask-JWT's
//! JSON bodies, redirects and error responses.
//!
//! The fixed headers of each kind of answer are [`HeaderBlock`]s, checked when the
//! program is compiled and copied into a response in one piece; only what varies per
//! request (`Location`, `Remote-User`, `Set-Cookie`) goes through
//! [`Response::header`]'s check.

use std::fmt::{self, Write as _};

use crate::http::{HeaderBlock, HeaderName, Response};
use crate::web::errors::WebError;
use crate::web::pages;

/// The Content-Security-Policy of every page: no script at all, styles only from a
/// stylesheet of this origin (latchkey's own, [`pages::style_route`]; a path cannot
/// be named without naming the host, which behind a proxy latchkey does not know),
/// no inline style, forms post only here, no framing, no `<base>`.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers every HTML page carries: the CSP, no framing, no sniffing, no referrer,
/// never cached.
static HTML_HEADERS: HeaderBlock = HeaderBlock::new(&[
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("Vary", "Cookie"),
]);

/// JSON answers may carry or reveal a credential: never cached.
static JSON_HEADERS: HeaderBlock = HeaderBlock::new(&[
    ("Content-Type", "application/json"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
]);

static TEXT_HEADERS: HeaderBlock = HeaderBlock::new(&[
    ("Content-Type", "text/plain; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
]);

static REDIRECT_HEADERS: HeaderBlock = HeaderBlock::new(&[
    ("Cache-Control", "no-store"),
    ("Content-Type", "text/plain; charset=utf-8"),
]);

static NO_STORE: HeaderBlock = HeaderBlock::new(&[("Cache-Control", "no-store")]);

/// The stylesheet's name carries a hash of its content, so it may be cached for good.
static STYLE_HEADERS: HeaderBlock = HeaderBlock::new(&[
    ("Content-Type", "text/css; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "public, max-age=31536000, immutable"),
]);

/// An HTML page with every hardening header (see [`CSP`]).
pub fn html(status: u16, body: String) -> Response {
    html_bytes(status, body.into_bytes())
}

/// [`html`] for a page built as bytes, e.g. in a [`Response::body_buffer`].
pub fn html_bytes(status: u16, body: Vec<u8>) -> Response {
    Response::new(status).header_block(&HTML_HEADERS).body(body)
}

/// The pages' stylesheet, [`pages::STYLE`], served at [`pages::style_route`].
pub fn stylesheet() -> Response {
    Response::new(200)
        .header_block(&STYLE_HEADERS)
        .static_body(pages::STYLE.as_bytes())
}

/// A JSON answer; never cached since it may carry or reveal a credential.
pub fn json(status: u16, value: &serde_json::Value) -> Response {
    json_bytes(status, value.to_string().into_bytes())
}

/// A JSON answer whose body is already serialised.
pub fn json_bytes(status: u16, body: Vec<u8>) -> Response {
    Response::new(status).header_block(&JSON_HEADERS).body(body)
}

/// Flask-JWT's `GET /protected` answer, `{"identity":"<user>","username":"<user>"}`
/// (keys in the order serde_json's map writes them).
///
/// ```
/// let r = latchkey::web::respond::identity("ann \"the admin\"");
/// assert_eq!(r.body_bytes(), br#"{"identity":"ann \"the admin\"","username":"ann \"the admin\""}"#);
/// ```
pub fn identity(user: &str) -> Response {
    let mut body = Response::body_buffer(32 + 2 * user.len());
    body.extend_from_slice(b"{\"identity\":\"");
    if needs_json_escape(user.as_bytes()) {
        json_escape_into(&mut body, user);
        body.extend_from_slice(b"\",\"username\":\"");
        json_escape_into(&mut body, user);
    } else {
        // A user name needs no escape (the users file allows none of the characters
        // that do): looked at once, copied twice.
        body.extend_from_slice(user.as_bytes());
        body.extend_from_slice(b"\",\"username\":\"");
        body.extend_from_slice(user.as_bytes());
    }
    body.extend_from_slice(b"\"}");
    json_bytes(200, body)
}

/// Flask-JWT's error body: `{"description","error","status_code"}` (keys in the order
/// serde_json's map writes them), `description` written straight from its `Display`.
pub fn jwt_error(status: u16, error: &str, description: impl fmt::Display) -> Response {
    let mut body = Response::body_buffer(96);
    body.extend_from_slice(b"{\"description\":\"");
    // Writing into a Vec cannot fail.
    let _ = write!(JsonEscaped(&mut body), "{description}");
    body.extend_from_slice(b"\",\"error\":\"");
    json_escape_into(&mut body, error);
    body.extend_from_slice(b"\",\"status_code\":");
    let _ = write!(JsonEscaped(&mut body), "{status}");
    body.push(b'}');
    json_bytes(status, body)
}

/// Appends `text` as the inside of a JSON string, escaped as serde_json does: `"`, `\`
/// and the control characters (short forms where JSON has them, else `\u00XX`).
///
/// ```
/// let mut out = Vec::new();
/// latchkey::web::respond::json_escape_into(&mut out, "a\"b\\c\nd\u{1}é");
/// assert_eq!(out, "a\\\"b\\\\c\\nd\\u0001é".as_bytes());
/// ```
pub fn json_escape_into(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    // Names and messages seldom need an escape: find that out a word at a time and
    // copy them whole.
    if !needs_json_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(plain_from..at).unwrap_or_default());
        plain_from = at + 1;
        if short.is_empty() {
            let high = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
            let low = HEX.get(usize::from(byte & 0xf)).copied().unwrap_or(b'0');
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', high, low]);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(bytes.get(plain_from..).unwrap_or_default());
}

/// Whether `bytes` holds `"`, `\\` or a control character (below 0x20), checked a
/// 64-bit word at a time.
fn needs_json_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Non-zero top bits exactly where a byte is below `n` (for `n` <= 0x80), or, for
    // the `holds` test, equal to `byte`: `(y - 0x01..) & !y & 0x80..` flags zero bytes.
    let below =
        |word: u64, n: u8| word.wrapping_sub(ONES.wrapping_mul(u64::from(n))) & !word & HIGHS;
    let holds = |word: u64, byte: u8| {
        let y = word ^ ONES.wrapping_mul(u64::from(byte));
        y.wrapping_sub(ONES) & !y & HIGHS
    };
    let (words, rest) = bytes.as_chunks::<8>();
    let mut flags = 0;
    for word in words {
        let word = u64::from_le_bytes(*word);
        flags |= below(word, 0x20) | holds(word, b'"') | holds(word, b'\\');
    }
    flags != 0 || rest.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A `fmt::Write` that JSON-escapes what is written through it.
struct JsonEscaped<'a>(&'a mut Vec<u8>);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        json_escape_into(self.0, s);
        Ok(())
    }
}

/// A plain-text answer.
pub fn text(status: u16, body: &'static str) -> Response {
    Response::new(status)
        .header_block(&TEXT_HEADERS)
        .static_body(body.as_bytes())
}

/// A redirect; `location` must already be validated (see `web::redirect`).
pub fn redirect(status: u16, location: &str) -> Response {
    Response::new(status)
        .header_block(&REDIRECT_HEADERS)
        .header("Location", location)
}

/// The forward-auth answer for a logged-in `user`: 200 with `Remote-User`, never cached.
pub fn forward_auth_ok(user: &str) -> Response {
    static REMOTE_USER: HeaderName = HeaderName::new("Remote-User");
    Response::new(200)
        .header_block(&NO_STORE)
        .header_named(&REMOTE_USER, user)
}

/// The answer to a refused request, as a short HTML page for browsers; `stylesheet`
/// is the path of [`pages::style_route`] under the prefix.
pub fn error_page(title: &str, stylesheet: &str, err: &WebError) -> Response {
    let status = err.status();
    let body = pages::message_page(
        title,
        stylesheet,
        &format!("{status} {}", reason_phrase(status)),
        &err.to_string(),
    );
    with_retry_after(html(status, body), err)
}

/// The answer to a refused request, in Flask-JWT's JSON shape for API clients.
pub fn error_json(err: &WebError) -> Response {
    let status = err.status();
    let error = match err {
        WebError::Auth(_) => "Invalid token",
        _ => reason_phrase(status),
    };
    with_retry_after(jwt_error(status, error, err), err)
}

fn with_retry_after(resp: Response, err: &WebError) -> Response {
    let resp = match err {
        WebError::MethodNotAllowed(allow) => resp.header("Allow", allow),
        _ => resp,
    };
    match err.retry_after() {
        Some(secs) => resp.header("Retry-After", &secs.to_string()),
        None => resp,
    }
}

/// The standard reason phrase of the statuses latchkey uses.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names and messages that need every kind of JSON escape.
    const AWKWARD: [&str; 5] = [
        "alice",
        "a\"b\\c",
        "tab\there\nnew\rline\u{8}\u{c}",
        "\u{0}\u{1f}\u{7f}",
        "ünïcode 😀 </script>",
    ];

    #[test]
    fn the_word_at_a_time_escape_check_agrees_with_the_byte_rule() {
        let needs = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        for b in 0..=255u8 {
            for len in 1..=17 {
                for at in 0..len {
                    for filler in [b'a', b'!', 0x1f, 0x20, 0x7f, 0x80, 0xff] {
                        let mut bytes = vec![filler; len];
                        bytes[at] = b;
                        let want = bytes.iter().any(|&x| needs(x));
                        assert_eq!(needs_json_escape(&bytes), want, "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn identity_body_is_what_serde_json_writes() {
        for user in AWKWARD {
            let expected = serde_json::json!({ "username": user, "identity": user }).to_string();
            let response = identity(user);
            assert_eq!(
                std::str::from_utf8(response.body_bytes()).unwrap(),
                expected
            );
            let parsed: serde_json::Value = serde_json::from_slice(response.body_bytes()).unwrap();
            assert_eq!(parsed["identity"], user);
        }
    }

    #[test]
    fn jwt_error_body_is_what_serde_json_writes() {
        for text in AWKWARD {
            let expected = serde_json::json!({
                "status_code": 401, "error": text, "description": text
            })
            .to_string();
            let response = jwt_error(401, text, text);
            assert_eq!(response.status(), 401);
            assert_eq!(
                std::str::from_utf8(response.body_bytes()).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn error_json_describes_the_error() {
        let response = error_json(&WebError::RateLimited(7));
        assert_eq!(response.status(), 429);
        let body: serde_json::Value = serde_json::from_slice(response.body_bytes()).unwrap();
        assert_eq!(body["description"], "too many failed logins");
        assert_eq!(body["error"], "Too Many Requests");
        assert_eq!(body["status_code"], 429);
    }

    #[test]
    fn answers_carry_no_unchecked_header() {
        for response in [
            html(200, String::new()),
            json_bytes(200, Vec::new()),
            text(200, "ok\n"),
            redirect(302, "/login"),
            forward_auth_ok("ann"),
            stylesheet(),
        ] {
            assert!(response.header_error().is_none());
        }
        assert!(
            redirect(302, "/\r\nSet-Cookie: a=b")
                .header_error()
                .is_some()
        );
        assert!(forward_auth_ok("a\nb").header_error().is_some());
    }
}
