//! Session cookies: the signed session value, the `Cookie:` request header parser,
//! the `Set-Cookie` builder and login-CSRF-proof double-submit tokens.
//!
//! The pieces fit together like this: [`header::get_unique`] finds the one session
//! cookie (refusing duplicates planted from a sibling subdomain), and
//! [`session::open`], the one way a session cookie is read, checks its MAC with the
//! key named in the value before it decodes the session.
//!
//! ```
//! use latchkey::cookie::{header, session, set_cookie};
//! use latchkey::keys::{Keyring, Purpose};
//!
//! let keys = Keyring::from_master("k1", &[7u8; 32])
//!     .unwrap()
//!     .key_set(Purpose::SessionCookie);
//! let name = set_cookie::cookie_name("session", true); // "__Host-session"
//! let s = session::Session::new("admin", 1_000, 3_600, false, 0).unwrap();
//! let value = session::seal(&s, &name, keys.current());
//! let line = set_cookie::SetCookie::new("session", &value).build().unwrap();
//! assert!(line.starts_with("__Host-session="));
//!
//! // The browser sends it back:
//! let cookie_header = format!("theme=dark; {name}={value}");
//! let got = header::get_unique(&cookie_header, &name).unwrap().unwrap();
//! assert_eq!(session::open(got, &name, &keys, 1_001).unwrap(), s);
//! ```

use std::fmt;

pub mod csrf;
pub mod header;
pub mod session;
pub mod set_cookie;

pub use session::{Session, open, seal};

/// Why a cookie, a `Cookie:` header, a `Set-Cookie` line or a CSRF token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The signed value is longer than [`session::MAX_VALUE_LEN`]; nothing else was looked at.
    TooLong,
    /// The signed value is not `v1.<kid>.<payload>.<tag>`.
    BadFormat,
    /// The signed value carries a version this build does not read.
    UnsupportedVersion,
    /// The signed value names a key id that is not in the key set (retired or forged).
    UnknownKid,
    /// A part of the signed value or a CSRF token is not canonical unpadded base64url.
    BadBase64,
    /// The MAC does not match: tampered, moved to another cookie name, or another key.
    BadSignature,
    /// The MAC matched but the payload layout is not one we write (should not happen).
    BadPayload,
    /// The session's `expires_at` has passed.
    Expired,
    /// The same cookie name appears more than once in the request (cookie tossing).
    DuplicateCookie,
    /// A `name=value` pair of the `Cookie:` header is malformed.
    MalformedPair,
    /// A cookie name is not an RFC 7230 token, or already carries a `__Host-`/`__Secure-` prefix.
    InvalidName,
    /// A cookie value contains a byte outside RFC 6265 cookie-octets.
    InvalidValue,
    /// A `Set-Cookie` attribute is unusable (bad `Path`, `SameSite=None` without `Secure`).
    InvalidAttribute,
    /// A user name is empty, longer than [`session::MAX_USER_LEN`] or outside the safe charset.
    InvalidUser,
    /// A CSRF token or pre-session value does not match or is malformed.
    BadCsrfToken,
    /// The operating system gave no random bytes.
    Random,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CookieError::TooLong => "cookie too long",
            CookieError::BadFormat => "bad cookie format",
            CookieError::UnsupportedVersion => "unsupported cookie version",
            CookieError::UnknownKid => "unknown key id",
            CookieError::BadBase64 => "bad base64",
            CookieError::BadSignature => "bad signature",
            CookieError::BadPayload => "bad cookie payload",
            CookieError::Expired => "session expired",
            CookieError::DuplicateCookie => "duplicate cookie",
            CookieError::MalformedPair => "malformed cookie pair",
            CookieError::InvalidName => "invalid cookie name",
            CookieError::InvalidValue => "invalid cookie value",
            CookieError::InvalidAttribute => "invalid cookie attribute",
            CookieError::InvalidUser => "invalid user name",
            CookieError::BadCsrfToken => "bad csrf token",
            CookieError::Random => "operating system randomness unavailable",
        })
    }
}

impl std::error::Error for CookieError {}
