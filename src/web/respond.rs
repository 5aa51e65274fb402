//! Building latchkey's answers: HTML pages with the hardening headers, Flask-JWT's
//! JSON bodies, redirects and error responses.

use crate::http::Response;
use crate::web::errors::WebError;
use crate::web::pages;

/// Headers every HTML page carries: a strict CSP (no script at all, the one style
/// block by hash), no framing, no sniffing, no referrer, never cached.
pub fn html(status: u16, body: String) -> Response {
    // Built once: the style hash never changes while the binary runs.
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let csp = CSP.get_or_init(|| {
        format!(
            "default-src 'none'; style-src {}; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
            pages::style_csp_source()
        )
    });
    Response::new(status)
        .header("Content-Type", "text/html; charset=utf-8")
        .header("Content-Security-Policy", csp)
        .header("X-Frame-Options", "DENY")
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "no-referrer")
        .header("Cache-Control", "no-store")
        .header("Vary", "Cookie")
        .body(body.into_bytes())
}

/// A JSON answer; never cached since it may carry or reveal a credential.
pub fn json(status: u16, value: &serde_json::Value) -> Response {
    Response::new(status)
        .header("Content-Type", "application/json")
        .header("X-Content-Type-Options", "nosniff")
        .header("Cache-Control", "no-store")
        .body(value.to_string().into_bytes())
}

/// Flask-JWT's error body: `{"status_code", "error", "description"}`.
pub fn jwt_error(status: u16, error: &str, description: &str) -> Response {
    json(
        status,
        &serde_json::json!({ "status_code": status, "error": error, "description": description }),
    )
}

/// A plain-text answer.
pub fn text(status: u16, body: &str) -> Response {
    Response::new(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .header("Cache-Control", "no-store")
        .body(body.as_bytes().to_vec())
}

/// A redirect; `location` must already be validated (see `web::redirect`).
pub fn redirect(status: u16, location: &str) -> Response {
    Response::new(status)
        .header("Location", location)
        .header("Cache-Control", "no-store")
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(Vec::new())
}

/// The answer to a refused request, as a short HTML page for browsers.
pub fn error_page(title: &str, err: &WebError) -> Response {
    let status = err.status();
    let body = pages::message_page(
        title,
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
    with_retry_after(jwt_error(status, error, &err.to_string()), err)
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
