//! Every way a request to latchkey can fail, and the one place they map to HTTP
//! statuses (as rustls maps its errors to TLS alerts).

use std::fmt;

use crate::cookie::CookieError;
use crate::jwt::TokenError;
use crate::web::form::FormError;

/// Why a request was not authenticated.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum AuthError {
    /// No session cookie and no `Authorization` header.
    NoCredentials,
    /// The `Authorization` header is not `JWT <token>` or `Bearer <token>`.
    BadAuthorizationHeader,
    /// The session cookie did not verify.
    Cookie(CookieError),
    /// The token did not verify.
    Token(TokenError),
    /// The session or token was revoked (logout, `token revoke`, `session revoke-all`).
    Revoked,
    /// The user no longer exists.
    UnknownUser,
    /// The user's password changed after the session was made.
    PasswordChanged,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::NoCredentials => f.write_str("no credentials"),
            AuthError::BadAuthorizationHeader => f.write_str("bad authorization header"),
            AuthError::Cookie(e) => write!(f, "session cookie: {e}"),
            AuthError::Token(e) => e.fmt(f),
            AuthError::Revoked => f.write_str("revoked"),
            AuthError::UnknownUser => f.write_str("unknown user"),
            AuthError::PasswordChanged => f.write_str("password changed since login"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuthError::Cookie(e) => Some(e),
            AuthError::Token(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a request was refused before or instead of its handler's normal answer.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum WebError {
    /// Not authenticated.
    Auth(AuthError),
    /// The form body is malformed.
    Form(FormError),
    /// The JSON body is malformed or of the wrong shape; says how.
    Json(&'static str),
    /// A required form field is missing.
    MissingField(&'static str),
    /// The body is not of the content type the route takes.
    UnsupportedMediaType,
    /// `Origin` or `Sec-Fetch-Site` says the request came from another site.
    CrossSite,
    /// The CSRF token is missing or does not match the pre-session cookie.
    Csrf,
    /// Too many failed logins; retry after this many seconds.
    RateLimited(u64),
    /// The password hashing budget is spent; retry after this many seconds.
    Busy(u64),
    /// A file of the data directory cannot be read: every credential is refused.
    Unavailable,
    /// No such route.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed(&'static str),
    /// Reading a file to serve failed.
    Internal,
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::Auth(e) => e.fmt(f),
            WebError::Form(e) => write!(f, "bad form: {e}"),
            WebError::Json(why) => f.write_str(why),
            WebError::MissingField(name) => write!(f, "missing field {name}"),
            WebError::UnsupportedMediaType => f.write_str("unsupported content type"),
            WebError::CrossSite => f.write_str("cross-site request refused"),
            WebError::Csrf => f.write_str("missing or invalid csrf token"),
            WebError::RateLimited(_) => f.write_str("too many failed logins"),
            WebError::Busy(_) => f.write_str("busy, retry shortly"),
            WebError::Unavailable => f.write_str("the data directory cannot be read"),
            WebError::NotFound => f.write_str("not found"),
            WebError::MethodNotAllowed(_) => f.write_str("method not allowed"),
            WebError::Internal => f.write_str("internal error"),
        }
    }
}

impl std::error::Error for WebError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebError::Auth(e) => Some(e),
            WebError::Form(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AuthError> for WebError {
    fn from(e: AuthError) -> Self {
        WebError::Auth(e)
    }
}

impl From<FormError> for WebError {
    fn from(e: FormError) -> Self {
        WebError::Form(e)
    }
}

impl WebError {
    /// The HTTP status this failure is answered with.
    pub(crate) fn status(&self) -> u16 {
        match self {
            WebError::Auth(_) => 401,
            WebError::Form(_) | WebError::Json(_) | WebError::MissingField(_) => 400,
            WebError::UnsupportedMediaType => 415,
            WebError::CrossSite | WebError::Csrf => 403,
            WebError::RateLimited(_) => 429,
            WebError::Busy(_) | WebError::Unavailable => 503,
            WebError::NotFound => 404,
            WebError::MethodNotAllowed(_) => 405,
            WebError::Internal => 500,
        }
    }

    /// Seconds for a `Retry-After` header, where the failure has one.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        match self {
            WebError::RateLimited(s) | WebError::Busy(s) => Some((*s).max(1)),
            WebError::Unavailable => Some(5),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn wrapping_errors_name_their_source() {
        let err = WebError::from(AuthError::Token(TokenError::Expired));
        let auth = err.source().expect("an auth error wraps");
        assert_eq!(auth.to_string(), err.to_string());
        assert!(auth.source().is_some());
        assert!(WebError::NotFound.source().is_none());
        assert!(AuthError::Revoked.source().is_none());
    }

    #[test]
    fn statuses_and_retry_after() {
        assert_eq!(WebError::from(AuthError::NoCredentials).status(), 401);
        assert_eq!(WebError::RateLimited(0).status(), 429);
        assert_eq!(WebError::RateLimited(0).retry_after(), Some(1));
        assert_eq!(WebError::Busy(3).retry_after(), Some(3));
        assert_eq!(WebError::Csrf.status(), 403);
        assert_eq!(WebError::NotFound.retry_after(), None);
    }
}
