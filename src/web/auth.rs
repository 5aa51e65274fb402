//! Authentication: who a request speaks for, from its session cookie or its bearer
//! token, after every check the kernel cannot do alone (the user still exists, the
//! password did not change, nothing was revoked).

use std::net::IpAddr;

use crate::cookie::{self, Session};
use crate::http::Request;
use crate::jwt::{self, Claims, TokenType, Validation};
use crate::keys::{KeySet, Keyring, Purpose};
use crate::store::revocation::RevocationStore;
use crate::store::users::{User, UserDb};
use crate::web::errors::AuthError;

/// Base name of the session cookie; `__Host-` is prefixed when it is Secure.
pub(crate) const SESSION_COOKIE: &str = "latchkey_session";
/// The full name of the session cookie when it is Secure: [`SESSION_COOKIE`] with the
/// `__Host-` prefix, as [`cookie_name`](cookie::set_cookie::cookie_name) builds it.
pub(crate) const SESSION_COOKIE_HOST: &str = "__Host-latchkey_session";

/// The full name of the session cookie: `cookie_name(SESSION_COOKIE, secure)` as a
/// constant.
pub(crate) fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_HOST
    } else {
        SESSION_COOKIE
    }
}

/// Base name of the pre-session cookie that CSRF tokens of the login form bind to.
pub(crate) const PRESESSION_COOKIE: &str = "latchkey_pre";

/// The key sets of every purpose, derived once at start-up.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// Session cookies.
    pub session: KeySet,
    /// Access and refresh tokens.
    pub token: KeySet,
    /// CSRF tokens.
    pub csrf: KeySet,
}

impl Keys {
    /// Derives every purpose's keys from the keyring.
    pub(crate) fn new(ring: &Keyring) -> Keys {
        Keys {
            session: ring.key_set(Purpose::SessionCookie),
            token: ring.key_set(Purpose::ApiToken),
            csrf: ring.key_set(Purpose::Csrf),
        }
    }
}

/// Who a request speaks for, and how it proved it.
#[derive(Debug, Clone)]
pub(crate) enum Identity<'a> {
    /// A valid session cookie.
    Session(Session),
    /// A valid access token: the user it names, as the user database spells it.
    Token(&'a str),
}

impl Identity<'_> {
    /// The user name.
    pub(crate) fn user(&self) -> &str {
        match self {
            Identity::Session(s) => &s.user,
            Identity::Token(user) => user,
        }
    }
}

/// What authentication needs to look at.
pub(crate) struct Authenticator<'a> {
    /// Key sets.
    pub(crate) keys: &'a Keys,
    /// The users, for existence and password epochs.
    pub(crate) users: &'a UserDb,
    /// Revoked sessions, tokens and per-user cutoffs.
    pub(crate) revoked: &'a RevocationStore,
}

/// A credential the kernel verified, as the checks that need the service's state
/// see it.
enum Verified<'c> {
    Session(&'c Session),
    Token(&'c Claims),
}

/// The claims of a new token for `user` with a random 128-bit `jti`, in lowercase
/// hex: base64url ids began with `-` one time in 64, and `latchkey token revoke
/// <jti>` then read the id as an option and could not revoke that token.
pub(crate) fn new_claims(
    user: &str,
    now: u64,
    ttl: u64,
    kind: TokenType,
) -> Result<Claims, crate::random::RandomError> {
    use std::fmt::Write;
    let id: [u8; 16] = crate::random::array()?;
    let mut jti = String::with_capacity(32);
    for byte in id {
        // Writing to a String cannot fail.
        let _ = write!(jti, "{byte:02x}");
    }
    Ok(Claims::new_token(user, now, ttl, &jti, kind))
}

/// The token of an `Authorization: JWT <token>` or `Bearer <token>` header
/// (scheme case-insensitive, as Flask-JWT), or why the header is unusable. The token
/// is everything after the first space, spaces around it trimmed; it must be UTF-8,
/// non-empty and hold no space.
pub(crate) fn bearer_token(value: &[u8]) -> Result<&str, AuthError> {
    let value = std::str::from_utf8(value).map_err(|_| AuthError::BadAuthorizationHeader)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(AuthError::BadAuthorizationHeader)?;
    let token = token.trim_matches(' ');
    let scheme_ok = scheme.eq_ignore_ascii_case("jwt") || scheme.eq_ignore_ascii_case("bearer");
    if !scheme_ok || token.is_empty() || token.contains(' ') {
        return Err(AuthError::BadAuthorizationHeader);
    }
    Ok(token)
}

impl<'a> Authenticator<'a> {
    /// Checks the session cookie `cookie_name` of `req`: `cookie::session::open`,
    /// then the user, password epoch and revocation checks every credential gets.
    pub(crate) fn session(
        &self,
        req: &Request<'_>,
        cookie_name: &str,
        now: u64,
    ) -> Result<Session, AuthError> {
        let value = cookie_value(req, cookie_name)
            .map_err(AuthError::Cookie)?
            .ok_or(AuthError::NoCredentials)?;
        self.session_value(value, cookie_name, now)
    }

    /// Checks the value of a session cookie called `cookie_name`, as
    /// [`Authenticator::session`] does once it has found it in a request.
    pub(crate) fn session_value(
        &self,
        value: &str,
        cookie_name: &str,
        now: u64,
    ) -> Result<Session, AuthError> {
        let session = cookie::session::open(value, cookie_name, &self.keys.session, now)
            .map_err(AuthError::Cookie)?;
        self.admit(Verified::Session(&session))?;
        Ok(session)
    }

    /// Checks a bearer token of type `kind` (`jwt::verify`, then the user and
    /// revocation checks every credential gets) and answers whose it is, as the user
    /// database spells the name. A token whose `sub` and
    /// Flask-JWT `identity` name different users is refused by `jwt` itself
    /// (`ConflictingSubject`): the app behind the proxy may read either.
    pub(crate) fn token(
        &self,
        token: &str,
        kind: TokenType,
        now: u64,
    ) -> Result<&'a str, AuthError> {
        let validation = Validation {
            token_type: Some(kind),
            ..Validation::default()
        };
        let claims =
            jwt::verify(token, &self.keys.token, &validation, now).map_err(AuthError::Token)?;
        let user = self.admit(Verified::Token(&claims))?;
        Ok(&user.name)
    }

    /// Whether `token` carries latchkey's signature, whatever its type, expiry or
    /// revocation: an access or refresh token latchkey issued, which is never
    /// another party's credential.
    pub(crate) fn signed_here(&self, token: &str) -> bool {
        jwt::authenticate(token, &self.keys.token).is_ok()
    }

    /// The checks of a verified credential that the kernel cannot do alone, the same
    /// for sessions and tokens: the user still exists, a session's password epoch is
    /// the user's, and neither the credential (by its id) nor every credential of the
    /// user issued up to a cutoff is revoked.
    fn admit(&self, credential: Verified<'_>) -> Result<&'a User, AuthError> {
        let (name, issued_at, epoch, id_revoked) = match credential {
            Verified::Session(s) => (
                s.user.as_str(),
                s.issued_at,
                Some(s.epoch),
                self.revoked.is_session_revoked(&s.sid),
            ),
            Verified::Token(c) => (
                c.sub.as_deref().ok_or(AuthError::UnknownUser)?,
                c.iat.unwrap_or(0),
                None,
                c.jti
                    .as_deref()
                    .is_some_and(|jti| self.revoked.is_token_revoked(jti)),
            ),
        };
        let user = self.users.get(name).ok_or(AuthError::UnknownUser)?;
        if epoch.is_some_and(|epoch| epoch != user.epoch) {
            return Err(AuthError::PasswordChanged);
        }
        if id_revoked || self.revoked.is_revoked_by_cutoff(name, issued_at) {
            return Err(AuthError::Revoked);
        }
        Ok(user)
    }

    /// The identity of `req`: its bearer token when it has an `Authorization`
    /// header, else its session cookie.
    pub(crate) fn request(
        &self,
        req: &Request<'_>,
        cookie_name: &str,
        now: u64,
    ) -> Result<Identity<'a>, AuthError> {
        match req.header("authorization") {
            Some(h) => self
                .token(bearer_token(h)?, TokenType::Access, now)
                .map(Identity::Token),
            None => self.session(req, cookie_name, now).map(Identity::Session),
        }
    }
}

/// The value of cookie `name` across every `Cookie` header line of `req`; a name
/// sent twice, or a header line that is not text, is an error, never a guess.
///
/// A line that is not text fails the whole lookup with
/// [`CookieError::MalformedPair`](cookie::CookieError::MalformedPair), wherever it
/// comes.
pub(crate) fn cookie_value<'a>(
    req: &Request<'a>,
    name: &str,
) -> Result<Option<&'a str>, cookie::CookieError> {
    let lines = req
        .headers_all("cookie")
        .map(std::str::from_utf8)
        .collect::<Result<Vec<&str>, _>>()
        .map_err(|_| cookie::CookieError::MalformedPair)?;
    cookie::header::get_unique_in(lines, name)
}

/// The address a request is treated as coming from. `X-Forwarded-For` is read only
/// when the peer is a trusted proxy; its lines that are not text are skipped.
pub(crate) fn client_ip(
    req: &Request<'_>,
    trusted: &crate::web::client_ip::TrustedProxies,
) -> IpAddr {
    let peer = req.peer().ip();
    if !trusted.contains(peer) {
        return crate::web::client_ip::normalize(peer);
    }
    let lines: Vec<&str> = req
        .headers_all("x-forwarded-for")
        .filter_map(|v| std::str::from_utf8(v).ok())
        .collect();
    crate::web::client_ip::client_ip(peer, &lines, trusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::CookieError;
    use crate::http::{Limits, Parsed, parse_request};
    use crate::web::client_ip::TrustedProxies;

    /// Runs `f` on a GET request from `peer` with the given header lines.
    fn with_request<R>(peer: &str, headers: &[&[u8]], f: impl FnOnce(&Request<'_>) -> R) -> R {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for h in headers {
            raw.extend_from_slice(h);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        match parse_request(&raw, peer.parse().unwrap(), &Limits::default(), f) {
            Ok(Parsed::Done { value, .. }) => value,
            _ => panic!("test request did not parse"),
        }
    }

    fn lookup(headers: &[&[u8]]) -> Result<Option<String>, CookieError> {
        with_request("127.0.0.1:9", headers, |req| {
            cookie_value(req, "sid").map(|v| v.map(str::to_owned))
        })
    }

    #[test]
    fn cookie_value_reads_one_cookie_across_lines() {
        assert_eq!(lookup(&[]), Ok(None));
        assert_eq!(lookup(&[b"Cookie: a=1; sid=x"]), Ok(Some("x".into())));
        assert_eq!(
            lookup(&[b"Cookie: a=1", b"X-Other: 2", b"cookie: sid=\"y\""]),
            Ok(Some("y".into()))
        );
        assert_eq!(
            lookup(&[b"Cookie: sid=1", b"Cookie: sid=2"]),
            Err(CookieError::DuplicateCookie)
        );
        assert_eq!(
            lookup(&[b"Cookie: sid=a b", b"Cookie: sid=forged"]),
            Err(CookieError::MalformedPair)
        );
    }

    #[test]
    fn cookie_line_that_is_not_text_fails_wherever_it_comes() {
        for headers in [
            &[b"Cookie: \xff; sid=x".as_slice()][..],
            &[b"Cookie: sid=x", b"Cookie: theme=\xe9t\xe9"],
            &[b"Cookie: a=\xc3", b"Cookie: sid=x"],
            // A duplicate found first does not hide a later line that is not text.
            &[b"Cookie: sid=1; sid=2", b"Cookie: \xff"],
            &[b"Cookie: sid=a b", b"Cookie: \xff"],
        ] {
            assert_eq!(
                lookup(headers),
                Err(CookieError::MalformedPair),
                "{headers:?}"
            );
        }
        // Non-ASCII text in another cookie is that cookie's problem, not ours.
        assert_eq!(
            lookup(&["Cookie: theme=\u{e9}; sid=x".as_bytes()]),
            Ok(Some("x".into()))
        );
    }

    fn ip_of(peer: &str, headers: &[&[u8]], trusted: &TrustedProxies) -> IpAddr {
        with_request(peer, headers, |req| client_ip(req, trusted))
    }

    #[test]
    fn client_ip_reads_forwarded_for_only_from_trusted_peers() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            ip_of("203.0.113.1:5", &[b"X-Forwarded-For: 1.1.1.1"], &trusted),
            ip("203.0.113.1")
        );
        assert_eq!(
            ip_of("[::ffff:203.0.113.1]:5", &[], &trusted),
            ip("203.0.113.1")
        );
        assert_eq!(ip_of("10.0.0.2:5", &[], &trusted), ip("10.0.0.2"));
        assert_eq!(
            ip_of(
                "10.0.0.2:5",
                &[b"X-Forwarded-For: 1.1.1.1, 198.51.100.7"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Several lines are one list, walked from the last; lines that are not text
        // are skipped.
        assert_eq!(
            ip_of(
                "10.0.0.2:5",
                &[
                    b"X-Forwarded-For: 198.51.100.9",
                    b"X-Forwarded-For: 10.0.0.7",
                    b"X-Forwarded-For: \xff",
                    b"X-Forwarded-For: 10.0.0.8"
                ],
                &trusted
            ),
            ip("198.51.100.9")
        );
        assert_eq!(
            ip_of(
                "10.0.0.2:5",
                &[
                    b"X-Forwarded-For: 198.51.100.9",
                    b"X-Forwarded-For: 10.0.0.7"
                ],
                &trusted
            ),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn authorization_schemes() {
        assert_eq!(bearer_token(b"JWT abc").unwrap(), "abc");
        assert_eq!(bearer_token(b"jwt abc").unwrap(), "abc");
        assert_eq!(bearer_token(b"Bearer abc").unwrap(), "abc");
        assert!(bearer_token(b"Basic abc").is_err());
        assert!(bearer_token(b"JWT").is_err());
        assert!(bearer_token(b"JWT a b").is_err());
        assert!(bearer_token(b"JWT \xff").is_err());
    }

    #[test]
    fn bearer_token_trims_spaces_but_takes_one_token() {
        assert_eq!(bearer_token(b"JWT   a.b.c  ").unwrap(), "a.b.c");
        assert_eq!(bearer_token(b"bEARER x").unwrap(), "x");
        assert_eq!(bearer_token("JWT \u{e9}".as_bytes()).unwrap(), "\u{e9}");
        for bad in [
            &b""[..],
            b" ",
            b"JWT ",
            b"JWT   ",
            b" JWT x",
            b"JWTx",
            b"JWT\tx",
            b"JWT x y",
            b"Bearer  x  y ",
            b"Token x",
            b"\xff x",
            b"JWT \xc3",
        ] {
            assert!(bearer_token(bad).is_err(), "{bad:?}");
        }
        // Only spaces are trimmed: a tab is part of the token.
        assert_eq!(bearer_token(b"JWT \tx").unwrap(), "\tx");
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn session_cookie_name_example() {
        use crate::cookie::set_cookie::cookie_name;
        use crate::web::auth::{SESSION_COOKIE, session_cookie_name};
        for secure in [true, false] {
            assert_eq!(
                session_cookie_name(secure),
                cookie_name(SESSION_COOKIE, secure)
            );
        }
    }

    #[test]
    fn new_claims_example() {
        use crate::jwt::TokenType;
        let c = crate::web::auth::new_claims("ann", 1000, 60, TokenType::Access).unwrap();
        let jti = c.jti.unwrap();
        assert_eq!(jti.len(), 32);
        assert!(
            jti.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
