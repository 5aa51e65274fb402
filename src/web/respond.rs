//! Building latchkey's answers: HTML pages with the hardening headers, Flask-JWT's
//! JSON bodies, redirects and error responses. Every header goes through
//! [`Response::header`]'s check.

use std::fmt::{self, Write as _};

use crate::http::Response;
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
const HTML_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("Vary", "Cookie"),
];

/// JSON answers may carry or reveal a credential: never cached.
const JSON_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/json"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
];

const TEXT_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "text/plain; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
];

const REDIRECT_HEADERS: &[(&str, &str)] = &[
    ("Cache-Control", "no-store"),
    ("Content-Type", "text/plain; charset=utf-8"),
];

/// The stylesheet's name carries a hash of its content, so it may be cached for good.
const STYLE_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "text/css; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "public, max-age=31536000, immutable"),
];

/// A new response with `headers`, in order.
fn with_headers(status: u16, headers: &[(&str, &str)]) -> Response {
    headers
        .iter()
        .fold(Response::new(status), |response, (name, value)| {
            response.header(name, value)
        })
}

/// An HTML page with every hardening header (see [`CSP`]).
pub(crate) fn html(status: u16, body: String) -> Response {
    with_headers(status, HTML_HEADERS).body(body)
}

/// The pages' stylesheet, [`pages::STYLE`], served at [`pages::style_route`].
pub(crate) fn stylesheet() -> Response {
    with_headers(200, STYLE_HEADERS).static_body(pages::STYLE.as_bytes())
}

/// A JSON answer; never cached since it may carry or reveal a credential.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response {
    json_bytes(status, value.to_string().into_bytes())
}

/// A JSON answer whose body is already serialised.
pub(crate) fn json_bytes(status: u16, body: Vec<u8>) -> Response {
    with_headers(status, JSON_HEADERS).body(body)
}

/// Flask-JWT's `GET /protected` answer, `{"identity":"<user>","username":"<user>"}`
/// (keys in the order serde_json's map writes them).
pub(crate) fn identity(user: &str) -> Response {
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"identity\":\"");
    json_escape_into(&mut body, user);
    body.extend_from_slice(b"\",\"username\":\"");
    json_escape_into(&mut body, user);
    body.extend_from_slice(b"\"}");
    json_bytes(200, body)
}

/// Flask-JWT's error body: `{"description","error","status_code"}` (keys in the order
/// serde_json's map writes them), `description` written straight from its `Display`.
pub(crate) fn jwt_error(status: u16, error: &str, description: impl fmt::Display) -> Response {
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"description\":\"");
    // Writing into a Vec cannot fail.
    let _ = write!(JsonEscaped(&mut body), "{description}");
    body.extend_from_slice(b"\",\"error\":\"");
    json_escape_into(&mut body, error);
    body.extend_from_slice(format!("\",\"status_code\":{status}}}").as_bytes());
    json_bytes(status, body)
}

/// Appends `text` as the inside of a JSON string (RFC 8259 §7), escaped as serde_json
/// does: `"`, `\\` and the control characters U+0000..U+001F (short forms where JSON
/// has them, else `\u00XX`); everything else, DEL and non-ASCII included, as it is.
pub(crate) fn json_escape_into(out: &mut Vec<u8>, text: &str) {
    // The escaped characters are ASCII, so they never occur inside a multi-byte
    // UTF-8 character: a byte loop keeps every other character whole.
    for &byte in text.as_bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x00..=0x1f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
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
pub(crate) fn text(status: u16, body: &'static str) -> Response {
    with_headers(status, TEXT_HEADERS).static_body(body.as_bytes())
}

/// A redirect; `location` must already be validated (see `web::redirect`).
pub(crate) fn redirect(status: u16, location: &str) -> Response {
    with_headers(status, REDIRECT_HEADERS).header("Location", location)
}

/// The forward-auth answer for a logged-in `user`: 200 with `Remote-User`, never cached.
pub(crate) fn forward_auth_ok(user: &str) -> Response {
    Response::new(200)
        .header("Cache-Control", "no-store")
        .header("Remote-User", user)
}

/// The answer to a refused request, as a short HTML page for browsers; `stylesheet`
/// is the path of [`pages::style_route`] under the prefix.
pub(crate) fn error_page(title: &str, stylesheet: &str, err: &WebError) -> Response {
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
pub(crate) fn error_json(err: &WebError) -> Response {
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
pub(crate) fn reason_phrase(status: u16) -> &'static str {
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

    /// What serde_json writes inside a string for `text`.
    fn serde_escaped(text: &str) -> String {
        let quoted = serde_json::Value::from(text).to_string();
        quoted[1..quoted.len() - 1].to_owned()
    }

    #[test]
    fn json_escape_is_what_serde_json_writes_for_every_ascii_character() {
        for c in (0u8..0x80).map(char::from) {
            for text in [
                c.to_string(),
                format!("a{c}"),
                format!("{c}b"),
                format!("a{c}b"),
            ] {
                let mut out = Vec::new();
                json_escape_into(&mut out, &text);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_escaped(&text),
                    "{c:?}"
                );
            }
        }
    }

    #[test]
    fn json_escape_keeps_non_ascii_text_whole() {
        for text in AWKWARD
            .iter()
            .copied()
            .chain(["é", "\u{80}\u{ff}\u{2028}\u{2029}", "😀\"😀"])
        {
            let mut out = Vec::new();
            json_escape_into(&mut out, text);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_escaped(text),
                "{text:?}"
            );
        }
        let mut out = Vec::new();
        json_escape_into(&mut out, "\u{0}\u{1f}\u{7f}");
        assert_eq!(out, b"\\u0000\\u001f\x7f");
        let mut out = Vec::new();
        json_escape_into(&mut out, "\"\\\n\r\t\u{8}\u{c}/");
        assert_eq!(out, br#"\"\\\n\r\t\b\f/"#);
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

#[cfg(test)]
mod examples {
    #[test]
    fn identity_example() {
        let r = crate::web::respond::identity("ann \"the admin\"");
        assert_eq!(
            r.body_bytes(),
            br#"{"identity":"ann \"the admin\"","username":"ann \"the admin\""}"#
        );
    }

    #[test]
    fn json_escape_into_example() {
        let mut out = Vec::new();
        crate::web::respond::json_escape_into(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "a\\\"b\\\\c\\nd\\u0001é".as_bytes());
    }
}
