//! The latchkey application: its state, the route table, and the [`Handler`] the HTTP
//! layer calls.
//!
//! The routes' handlers are split by the client that calls them: `web/browser.rs` (the
//! login form, logout, the protected pages), `web/api.rs` (Flask-JWT's `/auth`,
//! `/auth/refresh` and `/protected`) and `web/forward_auth.rs` (`/verify` and
//! `/forward-auth` for a reverse proxy). Password logins from the form and the API go
//! through the login pipeline (`web/login.rs`): regulated on the loop thread, checked
//! on the HTTP layer's worker thread ([`Reply::Offload`]), judged in
//! [`App::complete`](Handler::complete) back on the loop thread.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::cookie::set_cookie::SameSite;
use crate::http::{Handler, Reply, Request, Response};
use crate::store::Store;
use crate::web::auth::{Authenticator, Keys};
use crate::web::config::{Config, SecureMode};
use crate::web::errors::WebError;
use crate::web::login::{LoginDone, LoginPipeline};
use crate::web::proxy::Proxy;
use crate::web::tls::Https;
use crate::web::{pages, respond, url};

/// The running service's state.
pub(crate) struct App {
    pub(super) cfg: Config,
    /// Derived from the store's keyring, again whenever a reload changes it.
    pub(super) keys: Keys,
    /// Users, revocations, keyring and hash cost, kept in step with the data directory.
    pub(super) store: Store,
    /// Brute-force regulation and bookkeeping of password logins.
    pub(super) login: LoginPipeline,
    next_prune: u64,
    /// `/login` and the stylesheet's path under the prefix, built once.
    pub(super) login_path: String,
    pub(super) stylesheet_path: String,
    /// The application behind latchkey (`--upstream`), if any.
    proxy: Option<Proxy>,
    /// HTTPS served here (`--tls`), if on.
    pub(super) https: Option<Https>,
}

/// Seconds between two prunings of expired revocations.
const PRUNE_EVERY: u64 = 600;

/// Now, in unix seconds.
pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds on a monotonic clock: lockout windows must not move when the wall
/// clock is stepped (NTP on a router that booted in 1970).
pub(super) fn monotonic_millis() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl App {
    /// A service over a loaded store.
    pub(crate) fn new(cfg: Config, store: Store) -> App {
        App {
            keys: Keys::new(store.keyring()),
            store,
            login: LoginPipeline::new(cfg.logins_per_second),
            next_prune: 0,
            login_path: format!("{}/login", cfg.prefix),
            stylesheet_path: format!("{}{}", cfg.prefix, pages::style_route()),
            proxy: cfg.proxy.clone().map(|proxy| Proxy::new(proxy, &cfg)),
            cfg,
            https: None,
        }
    }

    /// Serves HTTPS as `https` says (redirects, HSTS, certificate reloads).
    pub(crate) fn with_https(mut self, https: Https) -> App {
        self.https = Some(https);
        self
    }

    /// Whether the answer to `req` carries `Strict-Transport-Security`.
    pub(super) fn hsts(&self, req: &Request<'_>) -> bool {
        req.is_tls() && self.https.as_ref().is_some_and(|https| https.hsts)
    }

    /// Now, in unix seconds.
    pub(super) fn now(&self) -> u64 {
        now_secs()
    }

    /// The path under the prefix, or `None` when it is outside it.
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

    /// The answer to a refused request, as a short page for browsers with a way home.
    pub(super) fn error_page(&self, err: &WebError) -> Response {
        let home = format!("{}/", self.cfg.prefix);
        respond::error_page(&self.cfg.title, &self.stylesheet_path, &home, err)
    }

    pub(super) fn authenticator(&self) -> Authenticator<'_> {
        Authenticator {
            keys: &self.keys,
            users: self.store.users(),
            revoked: self.store.revocations(),
        }
    }

    /// Whether cookies of this request's answer are Secure.
    pub(super) fn secure(&self, req: &Request<'_>) -> bool {
        // Over TLS terminated here, whatever `--cookie-secure` says: a cookie set
        // without Secure over HTTPS would also be sent over plain HTTP.
        if req.is_tls() {
            return true;
        }
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
        // What the store holds may keep a deleted user or miss a revocation.
        if !self.store.healthy() {
            return Err(WebError::Unavailable);
        }
        let get = matches!(req.method(), "GET" | "HEAD");
        let post = req.method() == "POST";
        let respond = |r: Response| Ok(Reply::Respond(r));
        match route {
            "/healthz" if get => respond(respond::text(200, "ok\n")),
            "/login" if get => respond(self.login_page(req)),
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

    pub(super) fn is_api_request(req: &Request<'_>) -> bool {
        req.header("authorization").is_some()
            || req
                .header_str("accept")
                .is_some_and(|a| a.contains("application/json"))
            || req
                .header_str("content-type")
                .is_some_and(|c| c.starts_with("application/json"))
    }

    /// Refuses a state-changing request that a browser says came from another site.
    pub(super) fn refuse_cross_site(&self, req: &Request<'_>) -> Result<(), WebError> {
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
    pub(super) fn is_browser(req: &Request<'_>) -> bool {
        req.header("sec-fetch-site").is_some()
            || req.header("origin").is_some()
            || req.header("cookie").is_some()
    }

    /// The login page, to come back to `next` after.
    pub(super) fn login_url(&self, next: &str) -> String {
        format!(
            "{}?next={}",
            self.login_path,
            url::percent_encode_component(next)
        )
    }

    /// The session cookie's SameSite.
    pub(super) fn same_site(&self) -> SameSite {
        if self.cfg.same_site_strict {
            SameSite::Strict
        } else {
            SameSite::Lax
        }
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
        match &self.https {
            None => return self.answer(req),
            Some(https) if !req.is_tls() => return Reply::Respond(https.redirect(req)),
            Some(_) => {}
        }
        match (self.answer(req), &self.https) {
            (Reply::Respond(resp), Some(https)) => Reply::Respond(https.finish(true, resp)),
            (other, _) => other,
        }
    }

    fn body_streams(&self, req: &Request<'_>) -> bool {
        // A plain-HTTP request to an HTTPS service is only ever redirected.
        let redirected = self.https.is_some() && !req.is_tls();
        !redirected && self.proxy.as_ref().is_some_and(|proxy| proxy.takes(req))
    }

    fn still_allowed(&mut self, ticket: &[u8]) -> bool {
        let authn = self.authenticator();
        self.proxy
            .as_ref()
            .is_none_or(|proxy| proxy.still_allowed(ticket, &authn))
    }

    fn complete(&mut self, done: LoginDone) -> Response {
        let tls = done.tls;
        let resp = self.finish_login(done);
        match &self.https {
            Some(https) => https.finish(tls, resp),
            None => resp,
        }
    }

    fn tick(&mut self, _now: SystemTime) {
        #[cfg(feature = "tls")]
        if let Some(line) = self
            .https
            .as_mut()
            .and_then(|https| https.watch.as_mut())
            .and_then(|watch| watch.check())
        {
            eprintln!("latchkey: {line}");
        }
        self.tick_store();
    }
}

impl App {
    /// The answer to `req` as if over plain HTTP: the application's, or latchkey's own.
    fn answer(&mut self, req: &Request<'_>) -> Reply<LoginDone> {
        if let Some(proxy) = self.proxy.as_ref().filter(|proxy| proxy.takes(req)) {
            let api = Self::is_api_request(req);
            let hsts = self.hsts(req);
            return proxy.handle(req, &self.authenticator(), self.secure(req), api, hsts);
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

    /// Keeps the store in step with the data directory, and prunes revocations.
    fn tick_store(&mut self) {
        if matches!(self.store.reload().keys, Ok(true)) {
            self.keys = Keys::new(self.store.keyring());
        }
        for notice in self.store.take_notices() {
            eprintln!("latchkey: {notice}");
        }
        let now = now_secs();
        if now >= self.next_prune {
            // Pruning rewrites the file; once in a while is plenty.
            self.next_prune = now + PRUNE_EVERY;
            if let Err(e) = self.store.prune(now) {
                eprintln!("latchkey: could not prune revocations: {e}");
            }
        }
    }
}
