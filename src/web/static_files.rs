//! The admin page's static files (`--serve-dir`), for logged-in users only.
//!
//! A request path can never leave the directory: segments are percent-decoded and
//! checked (no `..`, no encoded `/` or `\`, no control characters) by
//! [`url::safe_relative_path`], and the final file's canonical path must still lie
//! inside the directory's canonical path, which also stops symlinks pointing out.

use std::fs;
use std::path::Path;

use crate::http::Response;
use crate::web::errors::WebError;
use crate::web::url;

/// Largest file served; an admin page's assets are small and the answer is buffered.
pub const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

/// Answers `route` (a path such as `/css/site.css`) from `dir`.
pub(crate) fn serve(dir: &Path, route: &str) -> Result<Response, WebError> {
    let segments = url::safe_relative_path(route).map_err(|_| WebError::NotFound)?;
    // Dot files (.htaccess, .git) are never part of an admin page.
    if segments.iter().any(|s| s.starts_with('.')) {
        return Err(WebError::NotFound);
    }
    let root = fs::canonicalize(dir).map_err(|_| WebError::Internal)?;
    let mut path = root.clone();
    for s in &segments {
        path.push(s);
    }
    let mut real = fs::canonicalize(&path).map_err(|_| WebError::NotFound)?;
    if !real.starts_with(&root) {
        return Err(WebError::NotFound);
    }
    if real.is_dir() {
        real = fs::canonicalize(real.join("index.html")).map_err(|_| WebError::NotFound)?;
        if !real.starts_with(&root) {
            return Err(WebError::NotFound);
        }
    }
    // A symlink (`g -> .git`) must not reach a dot file the request could not name.
    let hidden = real.strip_prefix(&root).map_or(true, |rel| {
        rel.components()
            .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."))
    });
    if hidden {
        return Err(WebError::NotFound);
    }
    let meta = fs::metadata(&real).map_err(|_| WebError::NotFound)?;
    if !meta.is_file() || meta.len() > MAX_FILE_SIZE {
        return Err(WebError::NotFound);
    }
    // HEAD answers are cut by the HTTP layer, which keeps the GET's Content-Length.
    let body = fs::read(&real).map_err(|_| WebError::Internal)?;
    // The admin page is for the logged-in user only: nothing is cached or shared.
    Ok(Response::new(200)
        .header("Content-Type", content_type(&real))
        .header("X-Content-Type-Options", "nosniff")
        .header("X-Frame-Options", "DENY")
        .header("Referrer-Policy", "no-referrer")
        .header("Cache-Control", "no-store")
        .header("Vary", "Cookie")
        .body(body))
}

/// The `Content-Type` for a file name's extension.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}
