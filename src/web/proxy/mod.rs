//! latchkey as the reverse proxy in front of an application (`serve --upstream`): the
//! decisions. Every path outside the reserved prefix belongs to the application; a
//! request there is forwarded when it carries a valid session or bearer token, or when
//! its path is public, and is otherwise sent to the login page (browsers) or refused
//! with 401 (API clients). The HTTP layer does the forwarding ([`Reply::Forward`]).
//!
//! The decision is made on the request's normalised path ([`path`]), which is also
//! the path forwarded, never on the query, and never on a header the client sends
//! (`X-Forwarded-Uri`, `X-Original-URL`, `User-Agent`): those cannot make latchkey
//! judge one path and forward another. The header hygiene is in [`headers`].

pub(crate) mod headers;
pub(crate) mod path;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::upstream::list_items;
use crate::http::{Forward, ForwardPolicy, ProxyError, Reply, Request, Response, Upstream, reason};
use crate::jwt::TokenType;
use crate::web::auth::{self, Authenticator};
use crate::web::client_ip::{self, TrustedProxies};
use crate::web::config::Config;
use crate::web::errors::{AuthError, WebError};
use crate::web::log::{self, Event};
use crate::web::{pages, respond, url};

/// The reserved prefix of latchkey's own routes when it is the proxy and no
/// `--prefix` is given: a path an application is unlikely to use.
pub(crate) const DEFAULT_PREFIX: &str = "/.latchkey";

/// The header that names the user to the application unless `--user-header` says
/// otherwise.
pub(crate) const DEFAULT_USER_HEADER: &str = "Remote-User";

/// The applications behind latchkey and how requests reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyConfig {
    /// The applications, in the order of the server's upstream list; a request goes
    /// to the one named by its `Host`, else to the one without a host.
    pub(crate) apps: Vec<AppRoute>,
    /// Normalised paths let through without login: exact, or a prefix ending in `/`.
    pub(crate) public: Vec<String>,
    /// The header that names the user to the application.
    pub(crate) user_header: String,
    /// Keep the application's caching headers (else every answer is `no-store`, so a
    /// page is not shown from the cache after logout).
    pub(crate) cache: bool,
}

/// One `--upstream [HOST=]URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppRoute {
    /// The host name (lower case, no port) whose requests go here; `None` for the
    /// application of every other host.
    pub(crate) host: Option<String>,
    /// Where it listens.
    pub(crate) target: Target,
}

/// Where an application listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `http://HOST:PORT`: the `host:port` as given, and its address resolved at start.
    Http { authority: String, addr: SocketAddr },
    /// `unix:/path/to.sock`.
    Unix(PathBuf),
}

impl Target {
    /// The HTTP layer's name for it.
    pub(crate) fn upstream(&self) -> Upstream {
        match self {
            Target::Http { addr, .. } => Upstream::Tcp(*addr),
            Target::Unix(path) => Upstream::Unix(path.clone()),
        }
    }

    /// The `Host` of a request that came without one.
    fn host(&self) -> &str {
        match self {
            Target::Http { authority, .. } => authority,
            Target::Unix(_) => "localhost",
        }
    }

    /// The origins under which the application may name itself in a `Location`.
    fn origins(&self) -> Vec<String> {
        match self {
            Target::Http { authority, addr } => {
                vec![format!("http://{authority}"), format!("http://{addr}")]
            }
            Target::Unix(_) => Vec::new(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Http { authority, addr } => write!(f, "http://{authority} ({addr})"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Why an `--upstream` or `--public` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum ProxyConfigError {
    /// Not `[HOST=]http://HOST:PORT` or `[HOST=]unix:/PATH` (holds the value).
    BadUpstream(String),
    /// The upstream's host name did not resolve (holds the value).
    Unresolved(String),
    /// A public path is not a path in normal form, or lies under the prefix.
    BadPublic(String),
}

impl std::fmt::Display for ProxyConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyConfigError::BadUpstream(v) => write!(f, "invalid upstream {v:?}"),
            ProxyConfigError::Unresolved(v) => write!(f, "cannot resolve upstream {v:?}"),
            ProxyConfigError::BadPublic(v) => write!(f, "invalid public path {v:?}"),
        }
    }
}

impl std::error::Error for ProxyConfigError {}

/// Parses one `--upstream` value: `URL` or `HOST=URL`, where `URL` is
/// `http://HOST:PORT` (an optional trailing `/`, no path, user or query), resolved now,
/// once, so nothing resolves on the event loop, or `unix:/absolute/path`.
pub(crate) fn parse_upstream(value: &str) -> Result<AppRoute, ProxyConfigError> {
    let bad = || ProxyConfigError::BadUpstream(value.to_owned());
    let (host, url) = if value.starts_with("http://") || value.starts_with("unix:") {
        (None, value)
    } else {
        let (host, url) = value.split_once('=').ok_or_else(bad)?;
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
            && host.ends_with(']') == host.starts_with('[')
            && (host.starts_with('[') || !host.contains(':'));
        if !valid {
            return Err(bad());
        }
        (Some(host), url)
    };
    if let Some(path) = url.strip_prefix("unix:") {
        if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_control()) {
            return Err(bad());
        }
        return Ok(AppRoute {
            host,
            target: Target::Unix(PathBuf::from(path)),
        });
    }
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    let port_given = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !valid || !port_given {
        return Err(bad());
    }
    let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ProxyConfigError::Unresolved(value.to_owned()))?;
    Ok(AppRoute {
        host,
        target: Target::Http {
            authority: authority.to_owned(),
            addr,
        },
    })
}

/// The host a request names, lower case, without port or trailing dot.
pub(crate) fn request_host(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value.trim_ascii()).to_ascii_lowercase();
    let host = match text.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.is_empty() => {
            if host.starts_with('[') || !host.contains(':') {
                host
            } else {
                text.as_str()
            }
        }
        _ => text.as_str(),
    };
    host.trim_end_matches('.').to_owned()
}

/// Checks a `--public` path: it must be its own normal form and not under `prefix`.
pub(crate) fn check_public(entry: &str, prefix: &str) -> Result<String, ProxyConfigError> {
    let bad = || ProxyConfigError::BadPublic(entry.to_owned());
    let normal = path::normalise(entry).map_err(|_| bad())?;
    if normal != entry || under_prefix(&normal, prefix) {
        return Err(bad());
    }
    Ok(normal)
}

/// Whether `path` is latchkey's own: the prefix itself or below it.
fn under_prefix(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The proxy's part of the service.
#[derive(Debug)]
pub(crate) struct Proxy {
    cfg: ProxyConfig,
    prefix: String,
    login_path: String,
    stylesheet: String,
    title: String,
    trusted: TrustedProxies,
    /// Hosts a WebSocket's `Origin` may name besides the request's own.
    allowed_hosts: Vec<String>,
}

impl Proxy {
    /// The proxy of the service configured by `web` (which holds `web.proxy`).
    pub(crate) fn new(cfg: ProxyConfig, web: &Config) -> Proxy {
        Proxy {
            prefix: web.prefix.clone(),
            login_path: format!("{}/login", web.prefix),
            stylesheet: format!("{}{}", web.prefix, pages::style_route()),
            title: web.title.clone(),
            trusted: web.trusted_proxies.clone(),
            allowed_hosts: web.allowed_hosts.clone(),
            cfg,
        }
    }

    /// Whether `req` goes to the application: its path (normalised, or as sent when
    /// it cannot be) is not under the reserved prefix.
    pub(crate) fn takes(&self, req: &Request<'_>) -> bool {
        match path::normalise(req.path()) {
            Ok(normal) => !under_prefix(&normal, &self.prefix),
            Err(_) => !under_prefix(req.path(), &self.prefix),
        }
    }

    /// Answers a request for the application: forwarded, sent to log in, or refused.
    /// `secure` says which session cookie name applies, `api` whether the client
    /// wants JSON rather than pages.
    pub(crate) fn handle<D>(
        &self,
        req: &Request<'_>,
        authn: &Authenticator<'_>,
        secure: bool,
        api: bool,
        hsts: bool,
    ) -> Reply<D> {
        let normal = match path::normalise(req.path()) {
            Ok(normal) => normal,
            Err(e) => return Reply::Respond(self.message(400, &e.to_string(), api)),
        };
        // CONNECT would make latchkey a tunnel to the app's host, TRACE echoes the
        // request (cookies and all) to a script (RFC 9110 §9.3.6, §9.3.8): neither is
        // passed on.
        if matches!(req.method(), "CONNECT" | "TRACE") {
            return Reply::Respond(self.message(501, "This method is not passed on.", api));
        }
        let mut target = normal.clone();
        if let Some(query) = req.query() {
            target.push('?');
            target.push_str(query);
        }
        let host = req.header("host").map(request_host);
        let chosen = self
            .cfg
            .apps
            .iter()
            .position(|app| app.host.is_some() && app.host == host)
            .or_else(|| self.cfg.apps.iter().position(|app| app.host.is_none()));
        let Some((index, app)) = chosen.and_then(|i| Some((i, self.cfg.apps.get(i)?))) else {
            return Reply::Respond(self.message(
                404,
                "No application is served at this host.",
                api,
            ));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // A WebSocket is opened by the browser for any page's script, so its `Origin`
        // must be this site (cross-site WebSocket hijacking), and it always needs a
        // login, even on a public path.
        let websocket = req.method() == "GET"
            && req
                .headers_all("upgrade")
                .flat_map(list_items)
                .any(|p| p.eq_ignore_ascii_case(b"websocket"));
        if websocket
            && let Some(origin) = req.header("origin")
            && !same_origin(origin, req.header("host"), &self.allowed_hosts)
        {
            return Reply::Respond(self.message(403, "Cross-site WebSocket refused.", api));
        }
        let (user, ticket) = if path::is_public(&normal, &self.cfg.public) && !websocket {
            (None, None)
        } else {
            match identify(req, authn, secure, now) {
                Ok(identity) => (Some(identity.user), Some(identity.ticket)),
                Err(e) => return Reply::Respond(self.refuse(req, e, &target, api, now)),
            }
        };
        let peer_trusted = self.trusted.contains(req.peer().ip());
        let proto_lines: Vec<&str> = req
            .headers_all("x-forwarded-proto")
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect();
        let https = req.is_tls()
            || client_ip::forwarded_proto_is_https(req.peer().ip(), &proto_lines, &self.trusted);
        let added = headers::Added {
            user: user.as_deref(),
            user_header: &self.cfg.user_header,
            trusted_peer: peer_trusted,
            client_ip: auth::client_ip(req, &self.trusted),
            proto: if https { "https" } else { "http" },
            // latchkey's token never reaches the app, whatever let the request in (a
            // session, the token itself, a public path) and whether or not the token
            // is still valid: an `Authorization` carrying one goes. The app's own
            // tokens, which latchkey did not sign, pass.
            drop_authorization: req
                .headers_all("authorization")
                .any(|value| auth::bearer_token(value).is_ok_and(|token| authn.signed_here(token))),
            upstream_host: app.target.host(),
        };
        let policy = Policy {
            api,
            hsts,
            cache: self.cfg.cache,
            origins: app.target.origins(),
            title: self.title.clone(),
            stylesheet: self.stylesheet.clone(),
        };
        let forward =
            Forward::new(index, req.method(), &target, Box::new(policy)).and_then(|mut f| {
                for (name, value) in headers::forwarded_headers(req, &added) {
                    f.header(&name, &value)?;
                }
                if websocket {
                    f.upgrade("websocket")?;
                }
                if let Some(ticket) = ticket {
                    f.ticket(ticket);
                }
                Ok(f)
            });
        match forward {
            Ok(forward) => Reply::Forward(forward),
            // Every part was checked by the parser already; refuse rather than guess.
            Err(e) => Reply::Respond(self.message(400, &e.to_string(), api)),
        }
    }

    /// The answer to a request for the application without valid credentials.
    fn refuse(
        &self,
        req: &Request<'_>,
        e: AuthError,
        target: &str,
        api: bool,
        now: u64,
    ) -> Response {
        if !matches!(e, AuthError::NoCredentials) {
            let ip = auth::client_ip(req, &self.trusted);
            log::event(now, Event::TokenRejected, ip, None, Some(&e.to_string()));
        }
        if api {
            return respond::error_json(&WebError::Auth(e));
        }
        let login = format!(
            "{}?next={}",
            self.login_path,
            url::percent_encode_component(target)
        );
        respond::redirect(302, &login)
    }

    fn message(&self, status: u16, text: &str, api: bool) -> Response {
        message(&self.title, &self.stylesheet, status, text, api)
    }

    /// Whether the credential of an exchange under way (its ticket, see [`identify`])
    /// is still good: checked again from scratch, the way it was checked first, so a
    /// session signed out, revoked or expired ends its WebSockets and streams.
    pub(crate) fn still_allowed(&self, ticket: &[u8], authn: &Authenticator<'_>) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let Ok(ticket) = std::str::from_utf8(ticket) else {
            return false;
        };
        match ticket.split_once('\n') {
            Some(("token", token)) => authn.token(token, TokenType::Access, now).is_ok(),
            Some((cookie_name, value)) => authn.session_value(value, cookie_name, now).is_ok(),
            None => false,
        }
    }
}

/// Whether a WebSocket's `Origin` names the request's own `host` or an allowed host
/// (RFC 6455 §10.2: the server checks `Origin` against cross-site use).
pub(crate) fn same_origin(origin: &[u8], host: Option<&[u8]>, allowed: &[String]) -> bool {
    let origin = origin.trim_ascii().to_ascii_lowercase();
    let Some(rest) = origin
        .strip_prefix(b"http://")
        .or_else(|| origin.strip_prefix(b"https://"))
    else {
        return false;
    };
    if host.is_some_and(|host| host.trim_ascii().eq_ignore_ascii_case(rest)) {
        return true;
    }
    let bare = request_host(rest);
    allowed.iter().any(|a| *a == bare || a.as_bytes() == rest)
}

/// Who a forwarded request speaks for.
struct Identified {
    user: String,
    /// The credential, to be checked again while the exchange lasts: `NAME\nVALUE` of
    /// the session cookie, or `token\nTOKEN`.
    ticket: Vec<u8>,
}

/// The user of `req`: its session cookie, or else its bearer token. A session wins so
/// that an application's own `Authorization` reaches it from a logged-in browser.
fn identify(
    req: &Request<'_>,
    authn: &Authenticator<'_>,
    secure: bool,
    now: u64,
) -> Result<Identified, AuthError> {
    let cookie_name = auth::session_cookie_name(secure);
    match authn.session(req, cookie_name, now) {
        Ok(session) => {
            let value = auth::cookie_value(req, cookie_name)
                .ok()
                .flatten()
                .unwrap_or_default();
            Ok(Identified {
                user: session.user,
                ticket: format!("{cookie_name}\n{value}").into_bytes(),
            })
        }
        Err(session_error) => match req.header("authorization") {
            Some(header) => {
                let token = auth::bearer_token(header)?;
                let user = authn.token(token, TokenType::Access, now)?;
                Ok(Identified {
                    user: user.to_owned(),
                    ticket: format!("token\n{token}").into_bytes(),
                })
            }
            None => Err(session_error),
        },
    }
}

/// A short answer of latchkey's own: a page for browsers, Flask-JWT's JSON for APIs.
fn message(title: &str, stylesheet: &str, status: u16, text: &str, api: bool) -> Response {
    if api {
        return respond::jwt_error(status, reason(status), text);
    }
    let heading = format!("{status} {}", reason(status));
    respond::html(
        status,
        // Home is the app's own start page: in front of an app, `/` is the app.
        pages::message_page(title, stylesheet, &heading, text, "/"),
    )
}

/// What latchkey does to the application's answers.
struct Policy {
    api: bool,
    /// Add `Strict-Transport-Security` (`--hsts`, over TLS), in place of the app's.
    hsts: bool,
    cache: bool,
    /// `http://authority` of the upstream as configured and as resolved.
    origins: Vec<String>,
    title: String,
    stylesheet: String,
}

impl ForwardPolicy for Policy {
    fn response_head(&mut self, _status: u16, fields: &mut Vec<(String, Vec<u8>)>) {
        // The application must not set or clear latchkey's session.
        fields.retain(|(name, value)| {
            !(name.eq_ignore_ascii_case("set-cookie") && headers::sets_own_cookie(value))
        });
        for (name, value) in fields.iter_mut() {
            if name.eq_ignore_ascii_case("location") {
                let local = self
                    .origins
                    .iter()
                    .find_map(|origin| headers::local_location(value, origin));
                if let Some(local) = local {
                    *value = local;
                }
            }
        }
        if self.hsts {
            fields.retain(|(name, _)| !name.eq_ignore_ascii_case("strict-transport-security"));
            fields.push((
                "Strict-Transport-Security".to_owned(),
                crate::web::config::HSTS.as_bytes().to_vec(),
            ));
        }
        if !self.cache {
            fields.retain(|(name, _)| {
                !name.eq_ignore_ascii_case("cache-control") && !name.eq_ignore_ascii_case("expires")
            });
            fields.push(("Cache-Control".to_owned(), b"no-store".to_vec()));
        }
    }

    fn failed(&mut self, error: &ProxyError) -> Response {
        eprintln!("latchkey: upstream: {error}");
        let text = match error {
            ProxyError::Timeout => "The application did not answer in time.",
            _ => "The application is not answering.",
        };
        let resp = message(
            &self.title,
            &self.stylesheet,
            error.status(),
            text,
            self.api,
        );
        if self.hsts {
            resp.header("Strict-Transport-Security", crate::web::config::HSTS)
        } else {
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_entries_must_be_normal_and_outside_the_prefix() {
        assert_eq!(
            check_public("/health", "/.latchkey").as_deref(),
            Ok("/health")
        );
        assert_eq!(
            check_public("/assets/", "/.latchkey").as_deref(),
            Ok("/assets/")
        );
        for bad in [
            "health",
            "/a/../b",
            "/%61",
            "//x",
            "/.latchkey/login",
            "/.latchkey",
            "/.latchkey/",
        ] {
            assert!(check_public(bad, "/.latchkey").is_err(), "{bad}");
        }
        assert!(check_public("/.latchkeyx", "/.latchkey").is_ok());
    }

    #[test]
    fn upstreams_are_plain_http_host_and_port_or_a_unix_socket() {
        for good in [
            "http://127.0.0.1:8081",
            "http://localhost:5000/",
            "http://[::1]:80",
            "pihole.lan=http://127.0.0.1:8081",
            "printer=unix:/run/octoprint.sock",
            "[fd00::1]=http://127.0.0.1:1",
            "unix:/tmp/a=b.sock",
        ] {
            assert!(parse_upstream(good).is_ok(), "{good}");
        }
        for bad in [
            "=http://127.0.0.1:8081",
            "a b=http://127.0.0.1:8081",
            "pi.lan:80=http://127.0.0.1:8081",
            "pi.lan=127.0.0.1:8081",
            "unix:",
            "unix:run/x.sock",
            "127.0.0.1:8081",
            "http://127.0.0.1",
            "http://127.0.0.1:0",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:8081/x",
            "http://a@127.0.0.1:8081",
            "http://127.0.0.1:8081?x",
            "http://:8081",
        ] {
            assert!(
                matches!(parse_upstream(bad), Err(ProxyConfigError::BadUpstream(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn policy_drops_own_cookies_rewrites_location_and_forbids_caching() {
        let mut policy = Policy {
            hsts: false,
            api: false,
            cache: false,
            origins: vec!["http://127.0.0.1:8081".to_owned()],
            title: "t".to_owned(),
            stylesheet: "/s.css".to_owned(),
        };
        let mut fields = vec![
            (
                "Set-Cookie".to_owned(),
                b"latchkey_session=forged; Path=/".to_vec(),
            ),
            (
                "set-cookie".to_owned(),
                b"__Host-latchkey_session=; Max-Age=0".to_vec(),
            ),
            ("Set-Cookie".to_owned(), b"app=1".to_vec()),
            (
                "Location".to_owned(),
                b"http://127.0.0.1:8081/next?a=1".to_vec(),
            ),
            ("Cache-Control".to_owned(), b"public, max-age=600".to_vec()),
            (
                "Expires".to_owned(),
                b"Thu, 01 Jan 2099 00:00:00 GMT".to_vec(),
            ),
        ];
        policy.response_head(302, &mut fields);
        let shown: Vec<(&str, &[u8])> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        assert_eq!(
            shown,
            [
                ("Set-Cookie", &b"app=1"[..]),
                ("Location", b"/next?a=1"),
                ("Cache-Control", b"no-store"),
            ]
        );
        policy.cache = true;
        let mut cached = vec![("Cache-Control".to_owned(), b"max-age=60".to_vec())];
        policy.response_head(200, &mut cached);
        assert_eq!(
            cached,
            [("Cache-Control".to_owned(), b"max-age=60".to_vec())]
        );
        let page = policy.failed(&ProxyError::Timeout);
        assert_eq!(page.status(), 504);
        policy.api = true;
        let json = policy.failed(&ProxyError::Closed);
        assert_eq!(json.status(), 502);
        assert!(json.body_bytes().starts_with(b"{"));
    }

    #[test]
    fn upstream_values_request_hosts_and_websocket_origins() {
        let app = parse_upstream("Pihole.LAN=http://127.0.0.1:8081/").unwrap();
        assert_eq!(app.host.as_deref(), Some("pihole.lan"));
        assert!(
            matches!(app.target, Target::Http { ref authority, .. } if authority == "127.0.0.1:8081")
        );
        let unix = parse_upstream("unix:/run/octoprint.sock").unwrap();
        assert_eq!(unix.host, None);
        assert!(parse_upstream("https://127.0.0.1:8081").is_err());
        assert!(parse_upstream("http://127.0.0.1:8081/admin").is_err());
        assert!(parse_upstream("unix:relative.sock").is_err());
        assert_eq!(request_host(b"PiHole.lan:8080"), "pihole.lan");
        assert_eq!(request_host(b"[::1]:8080"), "[::1]");
        assert_eq!(request_host(b"printer.lan."), "printer.lan");
        assert!(same_origin(
            b"http://pi.lan:8080",
            Some(b"PI.lan:8080"),
            &[]
        ));
        assert!(same_origin(
            b"https://admin.example",
            Some(b"10.0.0.2"),
            &["admin.example".into()]
        ));
        assert!(!same_origin(b"http://evil.example", Some(b"pi.lan"), &[]));
        assert!(!same_origin(
            b"http://pi.lan.evil.example",
            Some(b"pi.lan"),
            &[]
        ));
        assert!(!same_origin(b"null", Some(b"pi.lan"), &[]));
    }
}
