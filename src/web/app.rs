//! The latchkey application: routing and the handlers of every route, on top of the
//! HTTP layer's [`Handler`] trait.
//!
//! Password checks are the only slow work; they go to the HTTP layer's worker thread
//! ([`Reply::Offload`]) after the brute-force regulation has had its say, and come back
//! to [`App::complete`] on the loop thread.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::cookie;
use crate::cookie::set_cookie::{SameSite, SetCookie, cookie_name};
use crate::http::{Handler, Reply, Request, Response};
use crate::jwt::{self, TokenType};
use crate::password;
use crate::ratelimit::{RateConfig, RateLimiter};
use crate::store::Store;
use crate::web::auth::{self, Authenticator, Identity, Keys, PRESESSION_COOKIE, SESSION_COOKIE};
use crate::web::config::{Config, SecureMode};
use crate::web::errors::{AuthError, WebError};
use crate::web::log::{self, Event};
use crate::web::proxy::Proxy;
use crate::web::{form, pages, redirect, respond, static_files, url};

/// What the worker thread hands back after checking a password.
pub struct LoginDone {
    how: LoginVia,
    username: String,
    ip: IpAddr,
    /// The stored hash that was checked, so a concurrent password change is noticed.
    checked_hash: Option<String>,
    ok: bool,
    /// A fresh hash at the current cost when the stored one was weaker.
    rehash: Option<String>,
}

enum LoginVia {
    Form {
        next: String,
        remember: bool,
        secure: bool,
        presession: String,
    },
    Api,
}

/// The running service's state.
pub struct App {
    cfg: Config,
    /// Derived from the store's keyring when the app was made; a key rotation on disk
    /// reloads the store's keyring but not these.
    keys: Keys,
    /// Users, revocations and the hash cost, kept in step with the data directory.
    store: Store,
    limiter: RateLimiter,
    next_prune: u64,
    /// Client addresses (by [`address_key`]) with a password check in flight, and
    /// when it was queued (monotonic millis). The limiter counts a failure only when
    /// the check comes back, so without this one address could queue a burst of
    /// guesses at once, all passing the limiter before the first failure is counted.
    in_flight: HashMap<IpAddr, u64>,
    /// `/login` and the stylesheet's path under the prefix, built once.
    login_path: String,
    stylesheet_path: String,
    /// The application behind latchkey (`--upstream`), if any.
    proxy: Option<Proxy>,
}

/// After this long an in-flight entry is forgotten: its answer was dropped (client
/// gone, queue full) and will never reach `finish_login`. Above the 10 s request
/// deadline, so a live check is never overtaken.
const IN_FLIGHT_STALE_MS: u64 = 15_000;

/// Entries kept before stale ones are swept.
const IN_FLIGHT_SWEEP_AT: usize = 1024;

/// The address as the limiter counts it: IPv4 as is, IPv6 by its /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}

/// Seconds between two prunings of expired revocations.
const PRUNE_EVERY: u64 = 600;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds on a monotonic clock: lockout windows must not move when the wall
/// clock is stepped (NTP on a router that booted in 1970).
fn monotonic_millis() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl App {
    /// A service over a loaded store.
    pub fn new(cfg: Config, store: Store) -> App {
        let rate = RateConfig {
            hashes_per_sec: cfg.logins_per_second,
            hash_burst: cfg.logins_per_second.saturating_mul(2),
            ..RateConfig::default()
        };
        App {
            keys: Keys::new(store.keyring()),
            store,
            limiter: RateLimiter::new(rate),
            next_prune: 0,
            in_flight: HashMap::new(),
            login_path: format!("{}/login", cfg.prefix),
            stylesheet_path: format!("{}{}", cfg.prefix, pages::style_route()),
            proxy: cfg.proxy.clone().map(|proxy| Proxy::new(proxy, &cfg)),
            cfg,
        }
    }

    /// Now, in unix seconds.
    fn now(&self) -> u64 {
        now_secs()
    }

    fn route<'r>(&self, path: &'r str) -> Option<&'r str> {
        if self.cfg.prefix.is_empty() {
            return Some(path);
        }
        match path.strip_prefix(self.cfg.prefix.as_str()) {
            Some("") => Some("/"),
            Some(rest) if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    /// The answer to a refused request, as a short page for browsers.
    fn error_page(&self, err: &WebError) -> Response {
        respond::error_page(&self.cfg.title, &self.stylesheet_path, err)
    }

    fn authenticator(&self) -> Authenticator<'_> {
        Authenticator {
            keys: &self.keys,
            users: self.store.users(),
            revoked: self.store.revocations(),
        }
    }

    /// Whether cookies of this request's answer are Secure.
    fn secure(&self, req: &Request<'_>) -> bool {
        match self.cfg.cookie_secure {
            SecureMode::Always => true,
            SecureMode::Never => false,
            // Only a trusted proxy's header counts: from anyone else the answer is
            // no whatever the headers say, so they are not gathered.
            SecureMode::Auto => {
                self.peer_trusted(req)
                    && crate::web::client_ip::forwarded_proto_is_https(
                        req.peer().ip(),
                        &req.headers_all("x-forwarded-proto")
                            .filter_map(|v| std::str::from_utf8(v).ok())
                            .collect::<Vec<_>>(),
                        &self.cfg.trusted_proxies,
                    )
            }
        }
    }

    fn dispatch(&mut self, req: &Request<'_>) -> Result<Reply<LoginDone>, WebError> {
        let Some(route) = self.route(req.path()) else {
            return Err(WebError::NotFound);
        };
        let get = matches!(req.method(), "GET" | "HEAD");
        let post = req.method() == "POST";
        let respond = |r: Response| Ok(Reply::Respond(r));
        match route {
            "/healthz" if get => respond(respond::text(200, "ok\n")),
            "/login" if get => respond(self.login_page(req, None, 200, "")),
            "/login" if post => self.login_post(req),
            "/logout" if get || post => respond(self.logout(req)?),
            "/auth" if post => self.auth_post(req),
            "/auth/refresh" if post => respond(self.refresh(req)?),
            "/protected" if get => respond(self.protected(req)),
            "/verify" if get || post => respond(self.verify(req, false)),
            "/forward-auth" if get || post => respond(self.verify(req, true)),
            "/login" | "/auth" | "/auth/refresh" => Err(WebError::MethodNotAllowed("POST")),
            "/healthz" | "/protected" => Err(WebError::MethodNotAllowed("GET, HEAD")),
            // Public: the login page needs it before anyone is logged in.
            _ if get && route == pages::style_route() => respond(respond::stylesheet()),
            _ if get => respond(self.protected_page(req, route)),
            _ => Err(WebError::MethodNotAllowed("GET, HEAD")),
        }
    }

    fn is_api_request(req: &Request<'_>) -> bool {
        req.header("authorization").is_some()
            || req
                .header_str("accept")
                .is_some_and(|a| a.contains("application/json"))
            || req
                .header_str("content-type")
                .is_some_and(|c| c.starts_with("application/json"))
    }

    /// Refuses a state-changing request that a browser says came from another site.
    fn refuse_cross_site(&self, req: &Request<'_>) -> Result<(), WebError> {
        if req
            .header_str("sec-fetch-site")
            .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"))
        {
            return Err(WebError::CrossSite);
        }
        // `Origin: null` carries no information: browsers send it for same-origin
        // POSTs from pages with `Referrer-Policy: no-referrer` (ours), and a sandboxed
        // cross-site frame's request is caught by Sec-Fetch-Site above or, in browsers
        // without it, by the CSRF token every browser request still needs.
        if let Some(origin) = req.header("origin").filter(|o| *o != b"null") {
            let host = req
                .header_str("x-forwarded-host")
                .filter(|_| self.peer_trusted(req));
            let host = host.or_else(|| req.header_str("host")).unwrap_or("");
            if !origin_matches(origin, host, &self.cfg.allowed_hosts) {
                return Err(WebError::CrossSite);
            }
        }
        Ok(())
    }

    fn peer_trusted(&self, req: &Request<'_>) -> bool {
        self.cfg.trusted_proxies.contains(req.peer().ip())
    }

    /// Browsers always send `Sec-Fetch-Site` or `Origin` with a form POST, and a page
    /// of another site cannot make them leave both out; a script (curl, the benchmark
    /// harness) sends neither and cannot be forged by a web page, so it needs no token.
    fn is_browser(req: &Request<'_>) -> bool {
        req.header("sec-fetch-site").is_some()
            || req.header("origin").is_some()
            || req.header("cookie").is_some()
    }

    fn presession(&self, req: &Request<'_>, secure: bool) -> Option<String> {
        let name = cookie_name(PRESESSION_COOKIE, secure);
        match auth::cookie_value(req, &name) {
            Ok(Some(v)) => Some(v.to_owned()),
            _ => None,
        }
    }

    fn login_page(
        &self,
        req: &Request<'_>,
        error: Option<&str>,
        status: u16,
        username: &str,
    ) -> Response {
        let secure = self.secure(req);
        let existing = self.presession(req, secure);
        let presession = match existing
            .clone()
            .map_or_else(cookie::csrf::new_presession, Ok)
        {
            Ok(p) => p,
            Err(_) => return self.error_page(&WebError::Internal),
        };
        let next = url::query_param(req.query().unwrap_or(""), "next")
            .ok()
            .flatten()
            .and_then(|n| redirect::safe_next(&n, &self.cfg.allowed_hosts))
            .unwrap_or_else(|| "/".to_owned());
        self.render_login(
            &presession,
            existing.is_none(),
            secure,
            &next,
            error,
            status,
            username,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn render_login(
        &self,
        presession: &str,
        set_presession: bool,
        secure: bool,
        next: &str,
        error: Option<&str>,
        status: u16,
        username: &str,
    ) -> Response {
        let csrf = cookie::csrf::token(presession, &self.keys.csrf);
        let body = pages::login_page(&pages::LoginPage {
            title: &self.cfg.title,
            next,
            csrf_token: &csrf,
            error,
            username,
            action: &self.login_path,
            stylesheet: &self.stylesheet_path,
        });
        let mut resp = respond::html(status, body);
        if set_presession {
            let set = SetCookie::new(PRESESSION_COOKIE, presession)
                .secure(secure)
                .same_site(SameSite::Lax)
                .build();
            if let Ok(line) = set {
                resp = resp.header("Set-Cookie", &line);
            }
        }
        resp
    }

    fn login_post(&mut self, req: &Request<'_>) -> Result<Reply<LoginDone>, WebError> {
        self.refuse_cross_site(req)?;
        if !req.header_str("content-type").is_some_and(|c| {
            c.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        }) {
            return Err(WebError::UnsupportedMediaType);
        }
        let form = form::parse_form(req.body())?;
        let username = form
            .get("username")
            .ok_or(WebError::MissingField("username"))?
            .to_owned();
        let password = form
            .get("password")
            .ok_or(WebError::MissingField("password"))?
            .to_owned();
        let remember = form
            .get("remember")
            .is_some_and(|v| !v.is_empty() && v != "0");
        let next = form
            .get("next")
            .and_then(|n| redirect::safe_next(n, &self.cfg.allowed_hosts))
            .unwrap_or_else(|| "/".to_owned());
        let secure = self.secure(req);
        let presession = self.presession(req, secure);
        if Self::is_browser(req) {
            let token = form.get("csrf").ok_or(WebError::Csrf)?;
            let pre = presession.as_deref().ok_or(WebError::Csrf)?;
            cookie::csrf::verify(token, pre, &self.keys.csrf).map_err(|_| WebError::Csrf)?;
        }
        let how = LoginVia::Form {
            next,
            remember,
            secure,
            presession: match presession {
                Some(p) => p,
                None => cookie::csrf::new_presession().map_err(|_| WebError::Internal)?,
            },
        };
        self.start_login(req, how, username, password)
    }

    fn auth_post(&mut self, req: &Request<'_>) -> Result<Reply<LoginDone>, WebError> {
        self.refuse_cross_site(req)?;
        if !req.header_str("content-type").is_some_and(|c| {
            c.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        }) {
            return Err(WebError::Json("content type must be application/json"));
        }
        let value: serde_json::Value = serde_json::from_slice(req.body())
            .map_err(|_| WebError::Json("body is not valid json"))?;
        let obj = value
            .as_object()
            .ok_or(WebError::Json("body must be a json object"))?;
        let field = |name: &'static str| match obj.get(name) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(WebError::Json(if name == "username" {
                "username must be a string"
            } else {
                "password must be a string"
            })),
            None => Err(WebError::Json(if name == "username" {
                "missing username"
            } else {
                "missing password"
            })),
        };
        let username = field("username")?;
        let password = field("password")?;
        self.start_login(req, LoginVia::Api, username, password)
    }

    /// Regulates, then hands the password check to the worker thread.
    fn start_login(
        &mut self,
        req: &Request<'_>,
        how: LoginVia,
        username: String,
        password: String,
    ) -> Result<Reply<LoginDone>, WebError> {
        let ip = auth::client_ip(req, &self.cfg.trusted_proxies);
        let now_ms = monotonic_millis();
        if let Err(denied) = self.limiter.check(ip, &username, now_ms) {
            // Not logged: the lock was logged when it started, and a flood of refused
            // attempts must not become a flood of log lines on a router's flash.
            return Err(WebError::RateLimited(denied.retry_after_secs));
        }
        let address = address_key(ip);
        if self
            .in_flight
            .get(&address)
            .is_some_and(|&queued| now_ms.saturating_sub(queued) < IN_FLIGHT_STALE_MS)
        {
            return Err(WebError::Busy(1));
        }
        if let Err(denied) = self.limiter.take_hash_budget(now_ms) {
            return Err(WebError::Busy(denied.retry_after_secs));
        }
        if self.in_flight.len() >= IN_FLIGHT_SWEEP_AT {
            self.in_flight
                .retain(|_, queued| now_ms.saturating_sub(*queued) < IN_FLIGHT_STALE_MS);
        }
        self.in_flight.insert(address, now_ms);
        self.reload_users_if_changed();
        let stored = self.store.users().get(&username).map(|u| u.hash.clone());
        let policy = self.store.policy();
        Ok(Reply::Offload(Box::new(move || {
            let (ok, rehash) = match &stored {
                Some(hash) => {
                    let ok = password::verify(password.as_bytes(), hash).unwrap_or(false);
                    let rehash = (ok && password::needs_rehash(hash, &policy))
                        .then(|| password::hash(password.as_bytes(), &policy).ok())
                        .flatten();
                    (ok, rehash)
                }
                None => {
                    password::dummy_verify(password.as_bytes(), &policy);
                    (false, None)
                }
            };
            LoginDone {
                how,
                username,
                ip,
                checked_hash: stored,
                ok,
                rehash,
            }
        })))
    }

    fn finish_login(&mut self, done: LoginDone) -> Response {
        let now = self.now();
        self.in_flight.remove(&address_key(done.ip));
        // The password may have changed or the user been deleted while hashing, or
        // since the last tick: `user passwd` writes its revocation cutoff right after
        // the new hash, and a token minted from the old one a second later, before
        // the tick notices, would outlive the cutoff (tokens carry no epoch).
        self.reload_users_if_changed();
        let current = self.store.users().get(&done.username);
        let still_valid =
            done.ok && current.is_some_and(|u| Some(&u.hash) == done.checked_hash.as_ref());
        if !still_valid {
            let lock = self
                .limiter
                .record_failure(done.ip, &done.username, monotonic_millis());
            log::event(now, Event::LoginFailed, done.ip, Some(&done.username), None);
            if lock.is_some() {
                // One line per lock, the moment it starts (fail2ban counts these).
                log::event(
                    now,
                    Event::LoginThrottled,
                    done.ip,
                    Some(&done.username),
                    None,
                );
            }
            return match done.how {
                LoginVia::Api => respond::jwt_error(401, "Bad Request", "Invalid credentials"),
                LoginVia::Form {
                    next,
                    secure,
                    presession,
                    ..
                } => self.render_login(
                    &presession,
                    true,
                    secure,
                    &next,
                    Some("Invalid username or password"),
                    401,
                    &done.username,
                ),
            };
        }
        self.limiter
            .record_success(done.ip, &done.username, monotonic_millis());
        log::event(now, Event::LoginOk, done.ip, Some(&done.username), None);
        let epoch = current.map_or(0, |u| u.epoch);
        if let Some(hash) = done.rehash {
            self.upgrade_hash(&done.username, hash);
        }
        match done.how {
            LoginVia::Api => self.issue_tokens(&done.username, now, true),
            LoginVia::Form {
                next,
                remember,
                secure,
                ..
            } => {
                let ttl = if remember {
                    self.cfg.remember_ttl
                } else {
                    self.cfg.session_ttl
                };
                let Ok(session) = cookie::Session::new(&done.username, now, ttl, remember, epoch)
                else {
                    return self.error_page(&WebError::Internal);
                };
                let name = auth::session_cookie_name(secure);
                let value = cookie::seal(&session, name, self.keys.session.current());
                let set = SetCookie::new(SESSION_COOKIE, &value)
                    .secure(secure)
                    .same_site(self.same_site())
                    .max_age(remember.then_some(ttl));
                let resp = respond::redirect(303, &next);
                match set.build() {
                    Ok(line) => resp.header("Set-Cookie", &line),
                    Err(_) => self.error_page(&WebError::Internal),
                }
            }
        }
    }

    fn reload_users_if_changed(&mut self) {
        if let Err(e) = self.store.reload_users() {
            eprintln!("latchkey: keeping the users loaded before: {e}");
        }
    }

    fn upgrade_hash(&mut self, user: &str, hash: String) {
        // A failed upgrade leaves the weaker hash, which still verifies.
        let _ = self.store.rehash(user, &hash);
    }

    fn same_site(&self) -> SameSite {
        if self.cfg.same_site_strict {
            SameSite::Strict
        } else {
            SameSite::Lax
        }
    }

    fn issue_tokens(&self, user: &str, now: u64, with_refresh: bool) -> Response {
        let key = self.keys.token.current();
        let access = auth::new_claims(user, now, self.cfg.token_ttl, TokenType::Access);
        let mut body = serde_json::Map::new();
        match access {
            Ok(c) => body.insert("access_token".into(), json!(jwt::sign(&c, key))),
            Err(_) => {
                return respond::jwt_error(500, "Internal Server Error", "randomness unavailable");
            }
        };
        if let (true, Some(ttl)) = (with_refresh, self.cfg.refresh_ttl)
            && let Ok(c) = auth::new_claims(user, now, ttl, TokenType::Refresh)
        {
            body.insert("refresh_token".into(), json!(jwt::sign(&c, key)));
        }
        respond::json(200, &serde_json::Value::Object(body))
    }

    fn refresh(&self, req: &Request<'_>) -> Result<Response, WebError> {
        if self.cfg.refresh_ttl.is_none() {
            return Err(WebError::NotFound);
        }
        // The body is read whatever its content type, so a cross-site text/plain
        // form could post here; nothing it gets back is readable, but refuse it.
        self.refuse_cross_site(req)?;
        let from_body;
        let token = match req.header("authorization") {
            Some(h) => auth::bearer_token(h)?,
            None => {
                let v: serde_json::Value = serde_json::from_slice(req.body())
                    .map_err(|_| WebError::Json("body is not valid json"))?;
                from_body = v
                    .get("refresh_token")
                    .and_then(|t| t.as_str())
                    .ok_or(WebError::Json("missing refresh_token"))?
                    .to_owned();
                &from_body
            }
        };
        let now = self.now();
        let ip = auth::client_ip(req, &self.cfg.trusted_proxies);
        let user = self
            .authenticator()
            .token(token, TokenType::Refresh, now)
            .inspect_err(|e| {
                log::event(now, Event::TokenRejected, ip, None, Some(&e.to_string()));
            })?;
        Ok(self.issue_tokens(user, now, false))
    }

    /// Flask-JWT's `GET /protected`: bearer tokens only.
    fn protected(&self, req: &Request<'_>) -> Response {
        let now = self.now();
        let Some(header) = req.header("authorization") else {
            return respond::jwt_error(
                401,
                "Authorization Required",
                "Request does not contain an access token",
            )
            .header("WWW-Authenticate", "JWT realm=\"Login Required\"");
        };
        let result = auth::bearer_token(header)
            .and_then(|t| self.authenticator().token(t, TokenType::Access, now));
        match result {
            Ok(user) => respond::identity(user),
            Err(e) => {
                let ip = auth::client_ip(req, &self.cfg.trusted_proxies);
                log::event(now, Event::TokenRejected, ip, None, Some(&e.to_string()));
                let error = if matches!(e, AuthError::BadAuthorizationHeader) {
                    "Invalid JWT header"
                } else {
                    "Invalid token"
                };
                respond::jwt_error(401, error, &e)
                    .header("WWW-Authenticate", "JWT realm=\"Login Required\"")
            }
        }
    }

    /// `GET /` and, with `--serve-dir`, every other path: logged-in users only.
    fn protected_page(&self, req: &Request<'_>, route: &str) -> Response {
        let now = self.now();
        let secure = self.secure(req);
        match self
            .authenticator()
            .request(req, auth::session_cookie_name(secure), now)
        {
            Ok(identity) => self.serve_page(route, &identity),
            Err(e) => {
                if !matches!(e, AuthError::NoCredentials) {
                    let ip = auth::client_ip(req, &self.cfg.trusted_proxies);
                    log::event(now, Event::TokenRejected, ip, None, Some(&e.to_string()));
                }
                if Self::is_api_request(req) {
                    respond::error_json(&WebError::Auth(e))
                } else {
                    let mut here = req.path().to_owned();
                    if let Some(q) = req.query() {
                        here.push('?');
                        here.push_str(q);
                    }
                    respond::redirect(302, &self.login_url(&here))
                }
            }
        }
    }

    fn login_url(&self, next: &str) -> String {
        format!(
            "{}?next={}",
            self.login_path,
            url::percent_encode_component(next)
        )
    }

    fn serve_page(&self, route: &str, identity: &Identity) -> Response {
        match &self.cfg.serve_dir {
            Some(dir) => static_files::serve(dir, route).unwrap_or_else(|e| self.error_page(&e)),
            None if route == "/" => {
                // The sign-out token binds to the session, so one lifted from another
                // session cannot end this one. A bearer token has no session: its
                // token binds to nothing and no logout accepts it.
                let csrf = match identity {
                    Identity::Session(s) => cookie::csrf::session_token(&s.sid, &self.keys.csrf),
                    Identity::Token(_) => cookie::csrf::token_text("", &self.keys.csrf),
                };
                let page = pages::welcome_page(
                    &self.cfg.title,
                    &self.stylesheet_path,
                    identity.user(),
                    &format!("{}/logout", self.cfg.prefix),
                    csrf.as_str(),
                );
                respond::html(200, page)
            }
            None => self.error_page(&WebError::NotFound),
        }
    }

    fn logout(&mut self, req: &Request<'_>) -> Result<Response, WebError> {
        self.refuse_cross_site(req)?;
        // A GET carries neither a token nor an Origin; a sibling subdomain's link
        // (same-site, so the Lax cookie goes along) must not end the session either.
        if req.method() != "POST"
            && req.header_str("sec-fetch-site").is_some_and(|s| {
                !(s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none"))
            })
        {
            return Err(WebError::CrossSite);
        }
        let now = self.now();
        let secure = self.secure(req);
        let name = auth::session_cookie_name(secure);
        // The name is copied out: revoking below needs `self` mutably.
        let session = self
            .authenticator()
            .session(req, name, now)
            .map(|s| (s.sid, s.expires_at, s.user.to_owned()));
        if let Ok((sid, expires_at, user)) = &session {
            if req.method() == "POST" && Self::is_browser(req) {
                let form = form::parse_form(req.body())?;
                let token = form.get("csrf").ok_or(WebError::Csrf)?;
                cookie::csrf::verify_session(token, sid, &self.keys.csrf)
                    .map_err(|_| WebError::Csrf)?;
            }
            let ip = auth::client_ip(req, &self.cfg.trusted_proxies);
            if self
                .store
                .revocations_mut()
                .revoke_session(*sid, *expires_at, now)
                .is_err()
            {
                return Err(WebError::Internal);
            }
            log::event(now, Event::Logout, ip, Some(user), None);
        }
        let clear = SetCookie::new(SESSION_COOKIE, "")
            .secure(secure)
            .same_site(self.same_site())
            .removal()
            .build();
        let resp = respond::redirect(303, &self.login_path);
        Ok(match clear {
            Ok(line) => resp.header("Set-Cookie", &line),
            Err(_) => resp,
        })
    }

    /// Forward auth. `browser_redirect` false: nginx `auth_request` (200 or 401, never
    /// a 3xx, which nginx turns into 500); true: Caddy `forward_auth` / Traefik
    /// `ForwardAuth`, whose non-2xx answer goes to the browser as is.
    fn verify(&self, req: &Request<'_>, browser_redirect: bool) -> Response {
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

/// Whether an `Origin` header names this site (`host`) or an allowed host.
fn origin_matches(origin: &[u8], host: &str, allowed: &[String]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let rest = rest.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let bare = |h: &str| {
        h.rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(h.to_owned(), |(h, _)| h.to_owned())
    };
    rest == host || allowed.iter().any(|a| bare(&rest) == *a || rest == *a)
}

impl Handler for App {
    type Done = LoginDone;

    fn handle(&mut self, req: &Request<'_>) -> Reply<LoginDone> {
        if let Some(proxy) = self.proxy.as_ref().filter(|proxy| proxy.takes(req)) {
            let api = Self::is_api_request(req);
            return proxy.handle(req, &self.authenticator(), self.secure(req), api);
        }
        match self.dispatch(req) {
            Ok(reply) => reply,
            Err(e) => {
                let api = Self::is_api_request(req)
                    || self
                        .route(req.path())
                        .is_some_and(|r| r == "/auth" || r == "/auth/refresh");
                Reply::Respond(if api {
                    respond::error_json(&e)
                } else {
                    self.error_page(&e)
                })
            }
        }
    }

    fn body_streams(&self, req: &Request<'_>) -> bool {
        self.proxy.as_ref().is_some_and(|proxy| proxy.takes(req))
    }

    fn still_allowed(&mut self, ticket: &[u8]) -> bool {
        let authn = self.authenticator();
        self.proxy
            .as_ref()
            .is_none_or(|proxy| proxy.still_allowed(ticket, &authn))
    }

    fn complete(&mut self, done: LoginDone) -> Response {
        self.finish_login(done)
    }

    fn tick(&mut self, _now: SystemTime) {
        // A changed keyring is read into the store; `keys` stay as derived at start.
        let reload = self.store.reload();
        for (what, result) in [
            ("users", reload.users),
            ("revocations", reload.revocations),
            ("keys", reload.keys),
        ] {
            if let Err(e) = result {
                eprintln!("latchkey: keeping the {what} loaded before: {e}");
            }
        }
        let now = now_secs();
        if now >= self.next_prune {
            // Pruning rewrites the file; once in a while is plenty.
            self.next_prune = now + PRUNE_EVERY;
            if let Err(e) = self.store.revocations_mut().prune(now) {
                eprintln!("latchkey: could not prune revocations: {e}");
            }
        }
    }
}
