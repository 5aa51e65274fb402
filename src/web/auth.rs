//! Authentication: who a request speaks for, from its session cookie or its bearer
//! token, after every check the kernel cannot do alone (the user still exists, the
//! password did not change, nothing was revoked).

use std::net::IpAddr;

use crate::cookie::{
    self,
    session::{PayloadBuf, SessionView},
};
use crate::http::Request;
use crate::jwt::{self, Claims, TokenType, Validation};
use crate::keys::{KeySet, Keyring, Purpose};
use crate::store::revocation::RevocationStore;
use crate::store::users::UserDb;
use crate::web::errors::AuthError;
use crate::web::memo::{MAX_PAYLOAD, Memos};

/// Base name of the session cookie; `__Host-` is prefixed when it is Secure.
pub const SESSION_COOKIE: &str = "latchkey_session";
/// The full name of the session cookie when it is Secure: [`SESSION_COOKIE`] with the
/// `__Host-` prefix, as [`cookie_name`](cookie::set_cookie::cookie_name) builds it.
pub const SESSION_COOKIE_HOST: &str = "__Host-latchkey_session";

/// The full name of the session cookie, without building it per request:
/// `cookie_name(SESSION_COOKIE, secure)` as a constant.
///
/// ```
/// use latchkey::cookie::set_cookie::cookie_name;
/// use latchkey::web::auth::{SESSION_COOKIE, session_cookie_name};
/// for secure in [true, false] {
///     assert_eq!(session_cookie_name(secure), cookie_name(SESSION_COOKIE, secure));
/// }
/// ```
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_HOST
    } else {
        SESSION_COOKIE
    }
}

/// Base name of the pre-session cookie that CSRF tokens of the login form bind to.
pub const PRESESSION_COOKIE: &str = "latchkey_pre";

/// The key sets of every purpose, derived once at start-up.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Session cookies.
    pub session: KeySet,
    /// Access and refresh tokens.
    pub token: KeySet,
    /// CSRF tokens.
    pub csrf: KeySet,
}

impl Keys {
    /// Derives every purpose's keys from the keyring.
    pub fn new(ring: &Keyring) -> Keys {
        Keys {
            session: ring.key_set(Purpose::SessionCookie),
            token: ring.key_set(Purpose::ApiToken),
            csrf: ring.key_set(Purpose::Csrf),
        }
    }
}

/// Who a request speaks for, and how it proved it. The user name is borrowed from the
/// user database, so answering who is logged in copies nothing to the heap.
#[derive(Debug, Clone, Copy)]
pub enum Identity<'a> {
    /// A valid session cookie.
    Session(SessionAuth<'a>),
    /// A valid access token: the user it names.
    Token(&'a str),
}

impl<'a> Identity<'a> {
    /// The user name.
    pub fn user(&self) -> &'a str {
        match self {
            Identity::Session(s) => s.user,
            Identity::Token(user) => user,
        }
    }
}

/// A session cookie that passed every check: its fields as [`SessionView`] holds them,
/// the user name borrowed from the user database (the session's, byte for byte) so it
/// outlives the cookie's decode buffer.
pub type SessionAuth<'a> = SessionView<'a>;

/// What authentication needs to look at. Only the app builds one, from its own
/// fields: a memo answers for the keys it was filled under, so pairing it with other
/// keys would accept credentials those keys never signed.
pub struct Authenticator<'a> {
    /// Key sets.
    pub(crate) keys: &'a Keys,
    /// The users, for existence and password epochs.
    pub(crate) users: &'a UserDb,
    /// Revoked sessions, tokens and per-user cutoffs.
    pub(crate) revoked: &'a RevocationStore,
    /// Credentials already found authentic under `keys` (see [`memo`](crate::web::memo)).
    pub(crate) memos: &'a Memos,
}

/// The claims of a new token for `user` with a random 128-bit `jti`, in lowercase
/// hex: base64url ids began with `-` one time in 64, and `latchkey token revoke
/// <jti>` then read the id as an option and could not revoke that token.
///
/// ```
/// use latchkey::jwt::TokenType;
/// let c = latchkey::web::auth::new_claims("ann", 1000, 60, TokenType::Access).unwrap();
/// let jti = c.jti.unwrap();
/// assert_eq!(jti.len(), 32);
/// assert!(jti.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
/// ```
pub fn new_claims(
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
/// (scheme case-insensitive, as Flask-JWT), or why the header is unusable.
pub fn bearer_token(value: &[u8]) -> Result<&str, AuthError> {
    // Every refusal is the same error, so the checks run in the cheapest order: the
    // scheme and the spaces on bytes, then UTF-8 on the token alone (the scheme that
    // matched and the blanks are ASCII, so the whole value is text exactly when the
    // token is).
    let space = value
        .iter()
        .position(|&b| b == b' ')
        .ok_or(AuthError::BadAuthorizationHeader)?;
    let (scheme, rest) = value
        .split_at_checked(space)
        .ok_or(AuthError::BadAuthorizationHeader)?;
    if !(scheme.eq_ignore_ascii_case(b"jwt") || scheme.eq_ignore_ascii_case(b"bearer")) {
        return Err(AuthError::BadAuthorizationHeader);
    }
    let token = trim_spaces(rest);
    // `contains` on bytes is the library's word-at-a-time `memchr`.
    if token.is_empty() || token.contains(&b' ') {
        return Err(AuthError::BadAuthorizationHeader);
    }
    std::str::from_utf8(token).map_err(|_| AuthError::BadAuthorizationHeader)
}

/// `bytes` without the spaces (only ` `, as `str::trim_matches(' ')`) at either end.
fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |at| at + 1);
    bytes.get(start..end).unwrap_or_default()
}

impl<'a> Authenticator<'a> {
    /// Checks the session cookie `cookie_name` of `req`.
    pub fn session(
        &self,
        req: &Request<'_>,
        cookie_name: &str,
        now: u64,
    ) -> Result<SessionAuth<'a>, AuthError> {
        let value = cookie_value(req, cookie_name)
            .map_err(AuthError::Cookie)?
            .ok_or(AuthError::NoCredentials)?;
        let mut payload = PayloadBuf::new();
        let len = self
            .authentic_cookie(value, cookie_name, &mut payload)
            .map_err(AuthError::Cookie)?;
        let session =
            cookie::session::view_authentic(&payload, len, now).map_err(AuthError::Cookie)?;
        let user = self.users.get(session.user).ok_or(AuthError::UnknownUser)?;
        if user.epoch != session.epoch {
            return Err(AuthError::PasswordChanged);
        }
        if self.revoked.is_session_revoked(&session.sid)
            || self
                .revoked
                .is_revoked_by_cutoff(session.user, session.issued_at)
        {
            return Err(AuthError::Revoked);
        }
        Ok(SessionAuth {
            user: &user.name,
            ..session
        })
    }

    /// Checks a bearer token of type `kind` and answers whose it is. The claims are
    /// read borrowed from a per-thread scratch buffer (the authentic payload, from the
    /// memo or the MAC check, then `jwt::view_authentic`) and the name is the user
    /// database's: nothing is allocated. A token whose `sub` and Flask-JWT
    /// `identity` name different users is refused by `jwt` itself
    /// (`ConflictingSubject`): the app behind the proxy may read either.
    pub fn token(&self, token: &str, kind: TokenType, now: u64) -> Result<&'a str, AuthError> {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let validation = Validation {
            token_type: Some(kind),
            ..Validation::default()
        };
        let users: &'a UserDb = self.users;
        SCRATCH.with_borrow_mut(|scratch| {
            let payload = self
                .authentic_token(token, scratch)
                .map_err(AuthError::Token)?;
            let claims =
                jwt::view_authentic(payload, &validation, now).map_err(AuthError::Token)?;
            let name = claims.sub.as_deref().ok_or(AuthError::UnknownUser)?;
            let Some(user) = users.get(name) else {
                return Err(AuthError::UnknownUser);
            };
            let revoked_id = claims
                .jti
                .as_deref()
                .is_some_and(|j| self.revoked.is_token_revoked(j));
            if revoked_id
                || self
                    .revoked
                    .is_revoked_by_cutoff(name, claims.iat.unwrap_or(0))
            {
                return Err(AuthError::Revoked);
            }
            Ok(user.name.as_str())
        })
    }

    /// The MAC half of opening session cookie `value` (`cookie::session::authenticate`),
    /// or its result remembered from an earlier request: the authentic payload's
    /// length in `payload`.
    fn authentic_cookie(
        &self,
        value: &str,
        cookie_name: &str,
        payload: &mut PayloadBuf,
    ) -> Result<usize, cookie::CookieError> {
        // The MAC covers the cookie's name, so each name is its own context; a name
        // the service does not use is checked in full every time.
        let context = match cookie_name {
            SESSION_COOKIE => 0,
            SESSION_COOKIE_HOST => 1,
            _ => {
                return cookie::session::authenticate(
                    value,
                    cookie_name,
                    &self.keys.session,
                    payload,
                );
            }
        };
        let sessions = &self.memos.sessions;
        if let Some(len) = sessions.recall(context, value.as_bytes(), payload.as_mut_bytes()) {
            return Ok(len);
        }
        let len = cookie::session::authenticate(value, cookie_name, &self.keys.session, payload)?;
        sessions.remember(context, value.as_bytes(), payload.bytes(len));
        Ok(len)
    }

    /// The MAC half of verifying `token` (`jwt::authenticate_into`), or its result
    /// remembered from an earlier request: the authentic payload, in `scratch`.
    fn authentic_token<'s>(
        &self,
        token: &str,
        scratch: &'s mut Vec<u8>,
    ) -> Result<&'s [u8], jwt::TokenError> {
        if scratch.len() < MAX_PAYLOAD {
            scratch.resize(MAX_PAYLOAD, 0);
        }
        if let Some(len) = self.memos.tokens.recall(0, token.as_bytes(), scratch) {
            return Ok(scratch.get(..len).unwrap_or_default());
        }
        let payload = jwt::authenticate_into(token, &self.keys.token, scratch)?;
        self.memos.tokens.remember(0, token.as_bytes(), payload);
        Ok(payload)
    }

    /// The identity of `req`: its bearer token when it has an `Authorization`
    /// header, else its session cookie.
    pub fn request(
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
/// One walk over the header lines: each is checked for UTF-8 as the parser reaches
/// it. A line that is not text fails the whole lookup with
/// [`CookieError::MalformedPair`](cookie::CookieError::MalformedPair) wherever it
/// comes, as if every line had been checked first: only a failed lookup looks at the
/// lines after the one it stopped at.
pub fn cookie_value<'a>(
    req: &Request<'a>,
    name: &str,
) -> Result<Option<&'a str>, cookie::CookieError> {
    let mut not_text = false;
    let lines = req
        .headers_all("cookie")
        .map_while(|v| match std::str::from_utf8(v) {
            Ok(line) => Some(line),
            Err(_) => {
                not_text = true;
                None
            }
        });
    let found = cookie::header::get_unique_in(lines, name);
    if not_text
        || (found.is_err()
            && req
                .headers_all("cookie")
                .any(|v| std::str::from_utf8(v).is_err()))
    {
        return Err(cookie::CookieError::MalformedPair);
    }
    found
}

/// The address a request is treated as coming from.
///
/// `X-Forwarded-For` is read only when the peer is a trusted proxy, and its lines
/// are gathered on the heap only when there are several.
pub fn client_ip(req: &Request<'_>, trusted: &crate::web::client_ip::TrustedProxies) -> IpAddr {
    let peer = req.peer().ip();
    if !trusted.contains(peer) {
        return crate::web::client_ip::normalize(peer);
    }
    let mut lines = req
        .headers_all("x-forwarded-for")
        .filter_map(|v| std::str::from_utf8(v).ok());
    match (lines.next(), lines.next()) {
        (None, _) => crate::web::client_ip::client_ip(peer, &[], trusted),
        (Some(one), None) => crate::web::client_ip::client_ip(peer, &[one], trusted),
        (Some(first), Some(second)) => {
            let mut all = vec![first, second];
            all.extend(lines);
            crate::web::client_ip::client_ip(peer, &all, trusted)
        }
    }
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

    /// The byte-level parse accepts exactly what the text-level one it replaced did.
    #[test]
    fn bearer_token_agrees_with_the_text_rule() {
        fn by_text(value: &[u8]) -> Option<&str> {
            let value = std::str::from_utf8(value).ok()?;
            let (scheme, token) = value.split_once(' ')?;
            let scheme_ok =
                scheme.eq_ignore_ascii_case("jwt") || scheme.eq_ignore_ascii_case("bearer");
            let token = token.trim_matches(' ');
            (scheme_ok && !token.is_empty() && !token.contains(' ')).then_some(token)
        }
        let parts: [&[u8]; 12] = [
            b"JWT",
            b"jwt",
            b"Bearer",
            b"bEARER",
            b"Basic",
            b" ",
            b"  ",
            b"\t",
            b"a.b.c",
            b"\xff",
            b"\xc3\xa9",
            b"0123456789abcdefghij",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in [&b""[..], b" ", b"x"] {
                        let value = [a, b, c, d].concat();
                        assert_eq!(bearer_token(&value).ok(), by_text(&value), "{value:?}");
                    }
                }
            }
        }
        for len in 0..=24 {
            for at in 0..len {
                let mut token = vec![b'A'; len];
                token[at] = b' ';
                let value = [&b"JWT "[..], &token].concat();
                assert_eq!(bearer_token(&value).ok(), by_text(&value), "{value:?}");
            }
        }
    }
}
