//! The browser's routes: the login form (`GET` and `POST /login`), logout, and the
//! pages behind the login (`GET /`, or the `--serve-dir` files).
//!
//! A browser proves a form came from our own page with a CSRF token bound to the
//! pre-session cookie (login) or to the session (logout); a script (curl) sends none
//! of the headers a browser always sends, cannot be forged by a web page, and needs
//! no token.

use crate::cookie;
use crate::cookie::set_cookie::{SameSite, SetCookie, cookie_name};
use crate::http::{Reply, Request, Response};
use crate::store::StoreError;
use crate::web::app::App;
use crate::web::auth::{self, Identity, PRESESSION_COOKIE, SESSION_COOKIE};
use crate::web::errors::{AuthError, WebError};
use crate::web::log::{self, Event};
use crate::web::login::{LoginDone, LoginVia};
use crate::web::{form, pages, redirect, respond, static_files, url};

impl App {
    /// The pre-session cookie's value, if the browser sent a well-formed one.
    fn presession(&self, req: &Request<'_>, secure: bool) -> Option<String> {
        let name = cookie_name(PRESESSION_COOKIE, secure);
        match auth::cookie_value(req, &name) {
            Ok(Some(v)) => Some(v.to_owned()),
            _ => None,
        }
    }

    /// `GET /login`: the form, with a fresh pre-session cookie unless the browser
    /// brought one.
    pub(super) fn login_page(&self, req: &Request<'_>) -> Response {
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
            None,
            200,
            "",
        )
    }

    /// The login form, its CSRF token bound to `presession`.
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

    /// `POST /login`: the form's credentials go to the login pipeline.
    pub(super) fn login_post(&mut self, req: &Request<'_>) -> Result<Reply<LoginDone>, WebError> {
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

    /// A failed form login: the form again, 401, with the user name kept.
    pub(super) fn form_login_failed(
        &self,
        presession: &str,
        secure: bool,
        next: &str,
        username: &str,
    ) -> Response {
        self.render_login(
            presession,
            true,
            secure,
            next,
            Some("Invalid username or password"),
            401,
            username,
        )
    }

    /// A successful form login: a session cookie, and on to `next`.
    pub(super) fn form_login_ok(
        &self,
        username: &str,
        epoch: u64,
        now: u64,
        next: &str,
        remember: bool,
        secure: bool,
    ) -> Response {
        let ttl = if remember {
            self.cfg.remember_ttl
        } else {
            self.cfg.session_ttl
        };
        let Ok(session) = cookie::Session::new(username, now, ttl, remember, epoch) else {
            return self.error_page(&WebError::Internal);
        };
        let name = auth::session_cookie_name(secure);
        let value = cookie::seal(&session, name, self.keys.session.current());
        let set = SetCookie::new(SESSION_COOKIE, &value)
            .secure(secure)
            .same_site(self.same_site())
            .max_age(remember.then_some(ttl));
        let resp = respond::redirect(303, next);
        match set.build() {
            Ok(line) => resp.header("Set-Cookie", &line),
            Err(_) => self.error_page(&WebError::Internal),
        }
    }

    /// `GET /` and, with `--serve-dir`, every other path: logged-in users only.
    pub(super) fn protected_page(&self, req: &Request<'_>, route: &str) -> Response {
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

    pub(super) fn logout(&mut self, req: &Request<'_>) -> Result<Response, WebError> {
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
            match self.store.revoke_session(*sid, *expires_at, now) {
                Ok(()) => {}
                Err(StoreError::Busy(_)) => return Err(WebError::Busy(1)),
                Err(_) => return Err(WebError::Internal),
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
}
