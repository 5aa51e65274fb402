//! Flask-JWT's API, as the device's scripts and apps call it: `POST /auth` (a JSON
//! user name and password for an access token, and a refresh token when they are on),
//! `POST /auth/refresh`, and `GET /protected` with `Authorization: JWT <token>`.
//! Errors are Flask-JWT's JSON bodies.

use serde_json::json;

use crate::http::{Reply, Request, Response};
use crate::jwt::{self, TokenType};
use crate::web::app::App;
use crate::web::auth;
use crate::web::errors::{AuthError, WebError};
use crate::web::log::{self, Event};
use crate::web::login::{LoginDone, LoginVia};
use crate::web::respond;

/// A failed `POST /auth`, as Flask-JWT answers it.
pub(super) fn invalid_credentials() -> Response {
    respond::jwt_error(401, "Bad Request", "Invalid credentials")
}

impl App {
    /// `POST /auth`: the JSON body's credentials go to the login pipeline.
    pub(super) fn auth_post(&mut self, req: &Request<'_>) -> Result<Reply<LoginDone>, WebError> {
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

    /// An access token for `user`, and a refresh token when asked and they are on.
    pub(super) fn issue_tokens(&self, user: &str, now: u64, with_refresh: bool) -> Response {
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

    /// `POST /auth/refresh`: the refresh token from `Authorization` or the body.
    pub(super) fn refresh(&self, req: &Request<'_>) -> Result<Response, WebError> {
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
    pub(super) fn protected(&self, req: &Request<'_>) -> Response {
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
}
