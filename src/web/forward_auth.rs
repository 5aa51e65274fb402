//! Forward auth: a reverse proxy asks whether the request it holds may go through.
//! `GET /verify` answers nginx `auth_request`; `GET /forward-auth` answers Caddy
//! `forward_auth` and Traefik `ForwardAuth`. A yes is 200 with the user in
//! `Remote-User`; a no carries the login page's URL, back to the original one.

use crate::http::{Request, Response};
use crate::web::app::App;
use crate::web::auth;
use crate::web::errors::{AuthError, WebError};
use crate::web::log::{self, Event};
use crate::web::{redirect, respond};

impl App {
    /// Forward auth. `browser_redirect` false: nginx `auth_request` (200 or 401, never
    /// a 3xx, which nginx turns into 500); true: Caddy `forward_auth` / Traefik
    /// `ForwardAuth`, whose non-2xx answer goes to the browser as is.
    pub(super) fn verify(&self, req: &Request<'_>, browser_redirect: bool) -> Response {
        let now = self.now();
        let secure_here = self.secure(req);
        let secure = secure_here || forwarded_https(req);
        let mut result = self
            .authenticator()
            .request(req, auth::session_cookie_name(secure), now);
        if result.is_err() && secure != secure_here {
            result = self
                .authenticator()
                .request(req, auth::session_cookie_name(false), now);
        }
        match result {
            Ok(identity) => respond::forward_auth_ok(identity.user()),
            Err(e) => {
                if !matches!(e, AuthError::NoCredentials) {
                    let ip = auth::client_ip(req, &self.cfg.trusted_proxies);
                    log::event(now, Event::TokenRejected, ip, None, Some(&e.to_string()));
                }
                let next = original_url(req)
                    .and_then(|u| redirect::safe_next(&u, &self.cfg.allowed_hosts))
                    .unwrap_or_else(|| "/".to_owned());
                let login = self.login_url(&next);
                if browser_redirect && !Self::is_api_request(req) {
                    respond::redirect(302, &login)
                } else {
                    respond::error_json(&WebError::Auth(e)).header("Location", &login)
                }
            }
        }
    }
}

/// Whether the proxy says the original request was HTTPS (forward-auth requests come
/// from the proxy itself, which is what sets these headers).
fn forwarded_https(req: &Request<'_>) -> bool {
    req.header_str("x-forwarded-proto")
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The URL the proxy was asked for, from the headers nginx, Caddy and Traefik set.
fn original_url(req: &Request<'_>) -> Option<String> {
    if let Some(u) = req.header_str("x-original-url") {
        return Some(u.to_owned());
    }
    if let Some(u) = req.header_str("x-original-uri") {
        return Some(u.to_owned());
    }
    let uri = req.header_str("x-forwarded-uri")?;
    match (
        req.header_str("x-forwarded-proto"),
        req.header_str("x-forwarded-host"),
    ) {
        (Some(proto), Some(host)) => Some(format!("{proto}://{host}{uri}")),
        _ => Some(uri.to_owned()),
    }
}
