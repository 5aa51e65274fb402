//! Login-CSRF-proof double-submit tokens.
//!
//! Before anyone logs in, the login page sets a pre-session cookie holding 128 random
//! bits ([`new_presession`]) and embeds in its form the token
//! `base64url(HMAC(csrf key, "csrf" || pre-session value))` ([`token`]). A POST is
//! accepted only if the form's token matches the cookie it arrived with ([`verify`]).
//! Another site can make the browser send the cookie but cannot read it, nor compute a
//! token without the [`Csrf`](crate::keys::Purpose::Csrf) key, so it cannot log the
//! victim into the attacker's account (login CSRF) or post anything else.
//!
//! Forms that act on a logged-in session (logout) bind their token to the session id
//! instead: [`session_token`] and [`verify_session`] build the same token for the
//! binding `base64url(sid)`.
//!
//! ```
//! use latchkey::cookie::csrf;
//! use latchkey::keys::{Keyring, Purpose};
//! let keys = Keyring::from_master("k1", &[3u8; 32]).unwrap().key_set(Purpose::Csrf);
//! let pre = csrf::new_presession().unwrap();
//! let form_token = csrf::token(&pre, &keys);
//! assert!(csrf::verify(&form_token, &pre, &keys).is_ok());
//! let other = csrf::new_presession().unwrap();
//! assert!(csrf::verify(&form_token, &other, &keys).is_err());
//! ```

use std::fmt;

use base64::Engine;
use hmac::Mac;
use subtle::{Choice, ConstantTimeEq};

use super::CookieError;
use crate::b64::B64URL;
use crate::keys::{Key, KeySet};

/// Random bytes in a pre-session value.
const PRESESSION_BYTES: usize = 16;
/// Length of a pre-session value on the wire (unpadded base64url of 16 bytes).
pub const PRESESSION_LEN: usize = (PRESESSION_BYTES * 4).div_ceil(3);
/// Length of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;
/// Length of a CSRF token on the wire (unpadded base64url of an HMAC-SHA256).
pub const TOKEN_LEN: usize = (TAG_LEN * 4).div_ceil(3);

/// A fresh pre-session cookie value: 128 random bits, unpadded base64url.
///
/// ```
/// let pre = latchkey::cookie::csrf::new_presession().unwrap();
/// assert_eq!(pre.len(), latchkey::cookie::csrf::PRESESSION_LEN);
/// ```
pub fn new_presession() -> Result<String, CookieError> {
    let bytes: [u8; PRESESSION_BYTES] = crate::random::array().map_err(|_| CookieError::Random)?;
    Ok(B64URL.encode(bytes))
}

/// The CSRF token for `presession`, signed with the current key of `keys` (the
/// [`Csrf`](crate::keys::Purpose::Csrf) key set).
///
/// ```
/// use latchkey::keys::{Keyring, Purpose};
/// let keys = Keyring::from_master("k1", &[3u8; 32]).unwrap().key_set(Purpose::Csrf);
/// let t = latchkey::cookie::csrf::token("AAAAAAAAAAAAAAAAAAAAAA", &keys);
/// assert_eq!(t.len(), latchkey::cookie::csrf::TOKEN_LEN);
/// ```
pub fn token(presession: &str, keys: &KeySet) -> String {
    token_text(presession, keys).text
}

/// [`token`] as a [`Token`], for a page that renders it.
///
/// ```
/// use latchkey::cookie::csrf;
/// use latchkey::keys::{Keyring, Purpose};
/// let keys = Keyring::from_master("k1", &[3u8; 32]).unwrap().key_set(Purpose::Csrf);
/// let pre = "AAAAAAAAAAAAAAAAAAAAAA";
/// assert_eq!(csrf::token_text(pre, &keys).as_str(), csrf::token(pre, &keys));
/// ```
pub fn token_text(presession: &str, keys: &KeySet) -> Token {
    Token::from_tag(&tag(keys.current(), presession.as_bytes()))
}

/// The CSRF token of a form that acts on the session `sid` (the logout button),
/// signed with the current key of `keys`.
///
/// The token is the one [`token`] gives for the pre-session-shaped binding
/// `base64url(sid)`, so pages rendered by either function verify with either
/// [`verify`] or [`verify_session`].
///
/// ```
/// use latchkey::cookie::csrf;
/// use latchkey::keys::{Keyring, Purpose};
/// let keys = Keyring::from_master("k1", &[3u8; 32]).unwrap().key_set(Purpose::Csrf);
/// let sid = [7u8; 16];
/// let t = csrf::session_token(&sid, &keys);
/// assert!(csrf::verify_session(t.as_str(), &sid, &keys).is_ok());
/// assert!(csrf::verify_session(t.as_str(), &[8u8; 16], &keys).is_err());
/// ```
pub fn session_token(sid: &[u8; 16], keys: &KeySet) -> Token {
    Token::from_tag(&tag(keys.current(), sid_binding(sid).as_bytes()))
}

/// Checks that `token` is the [`session_token`] of `sid` under any key of `keys`,
/// in constant time; a malformed token fails with [`CookieError::BadCsrfToken`] like
/// a wrong one.
///
/// ```
/// use latchkey::cookie::{CookieError, csrf};
/// use latchkey::keys::{Keyring, Purpose};
/// let keys = Keyring::from_master("k1", &[3u8; 32]).unwrap().key_set(Purpose::Csrf);
/// assert_eq!(csrf::verify_session("", &[0; 16], &keys), Err(CookieError::BadCsrfToken));
/// ```
pub fn verify_session(token: &str, sid: &[u8; 16], keys: &KeySet) -> Result<(), CookieError> {
    verify_binding(token, sid_binding(sid).as_bytes(), keys)
}

/// Checks that `token` is the CSRF token of `presession` under any key of `keys`, so
/// forms opened before a key rotation still post. Every key is tried and compared in
/// constant time; a malformed pre-session value or token fails with
/// [`CookieError::BadCsrfToken`] like a wrong one.
///
/// ```
/// use latchkey::cookie::{CookieError, csrf};
/// use latchkey::keys::{Keyring, Purpose};
/// let keys = Keyring::from_master("k1", &[3u8; 32]).unwrap().key_set(Purpose::Csrf);
/// assert_eq!(csrf::verify("", "", &keys), Err(CookieError::BadCsrfToken));
/// ```
pub fn verify(token: &str, presession: &str, keys: &KeySet) -> Result<(), CookieError> {
    if !is_presession(presession) {
        return Err(CookieError::BadCsrfToken);
    }
    verify_binding(token, presession.as_bytes(), keys)
}

/// A CSRF token, as [`token_text`] and [`session_token`] return it: unpadded
/// base64url, [`TOKEN_LEN`] characters. Its `Debug` form does not show the token.
#[derive(Clone)]
pub struct Token {
    text: String,
}

impl Token {
    fn from_tag(tag: &[u8; TAG_LEN]) -> Token {
        Token {
            text: B64URL.encode(tag),
        }
    }

    /// The token's bytes: ASCII characters, none of which HTML or JSON escapes.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for Token {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The pre-session-shaped binding of a session id: `base64url(sid)`.
fn sid_binding(sid: &[u8; 16]) -> String {
    B64URL.encode(sid)
}

/// Whether `token` is the tag of `binding` under any key of `keys`. Every key is
/// tried, and each comparison is constant time.
fn verify_binding(token: &str, binding: &[u8], keys: &KeySet) -> Result<(), CookieError> {
    let given = B64URL
        .decode(token)
        .map_err(|_| CookieError::BadCsrfToken)?;
    if given.len() != TAG_LEN {
        return Err(CookieError::BadCsrfToken);
    }
    let mut matched = Choice::from(0);
    for key in keys.iter() {
        matched |= tag(key, binding).as_slice().ct_eq(given.as_slice());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(CookieError::BadCsrfToken)
    }
}

/// HMAC(key, "csrf" || binding).
fn tag(key: &Key, binding: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = key.mac();
    mac.update(b"csrf");
    mac.update(binding);
    mac.finalize().into_bytes().into()
}

/// Whether `value` has the shape [`new_presession`] produces: only values we could
/// have issued are worth a MAC computation.
fn is_presession(value: &str) -> bool {
    B64URL
        .decode(value)
        .is_ok_and(|bytes| bytes.len() == PRESESSION_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Keyring, Purpose};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn ring() -> Keyring {
        Keyring::from_master("k1", &[3u8; 32]).unwrap()
    }

    #[test]
    fn token_is_bound_to_its_presession() {
        let keys = ring().key_set(Purpose::Csrf);
        let pre = new_presession().unwrap();
        let other = new_presession().unwrap();
        assert_ne!(pre, other);
        assert_eq!(verify(&token(&pre, &keys), &pre, &keys), Ok(()));
        assert_eq!(
            verify(&token(&pre, &keys), &other, &keys),
            Err(CookieError::BadCsrfToken)
        );
        assert_eq!(verify(&pre, &pre, &keys), Err(CookieError::BadCsrfToken));
    }

    #[test]
    fn token_is_bound_to_the_csrf_key_purpose() {
        let ring = ring();
        let csrf = ring.key_set(Purpose::Csrf);
        let pre = new_presession().unwrap();
        for purpose in [Purpose::SessionCookie, Purpose::ApiToken] {
            let wrong = ring.key_set(purpose);
            assert_eq!(
                verify(&token(&pre, &wrong), &pre, &csrf),
                Err(CookieError::BadCsrfToken)
            );
        }
    }

    #[test]
    fn tokens_from_before_a_rotation_still_verify() {
        let old = Keyring::generate().unwrap();
        let pre = new_presession().unwrap();
        let old_token = token(&pre, &old.key_set(Purpose::Csrf));
        let rotated = old.rotated().unwrap().key_set(Purpose::Csrf);
        assert_ne!(token(&pre, &rotated), old_token);
        assert_eq!(verify(&old_token, &pre, &rotated), Ok(()));
    }

    #[test]
    fn session_token_is_the_token_of_the_encoded_sid_both_ways() {
        let keys = ring().key_set(Purpose::Csrf);
        let sid = [0xC3u8; 16];
        let binding = URL_SAFE_NO_PAD.encode(sid);
        let by_sid = session_token(&sid, &keys);
        assert_eq!(by_sid.as_str(), token(&binding, &keys));
        assert_eq!(by_sid.to_string(), token(&binding, &keys));
        assert_eq!(token_text(&binding, &keys).as_str(), token(&binding, &keys));
        // Pages rendered before the switch post to code after it, and the reverse.
        assert_eq!(verify_session(&token(&binding, &keys), &sid, &keys), Ok(()));
        assert_eq!(verify(by_sid.as_str(), &binding, &keys), Ok(()));
    }

    #[test]
    fn session_token_is_bound_to_its_session_and_key_purpose() {
        let ring = ring();
        let keys = ring.key_set(Purpose::Csrf);
        let sid = [1u8; 16];
        let good = session_token(&sid, &keys);
        let mut other = sid;
        other[15] ^= 1;
        assert_eq!(
            verify_session(good.as_str(), &other, &keys),
            Err(CookieError::BadCsrfToken)
        );
        for purpose in [Purpose::SessionCookie, Purpose::ApiToken] {
            let wrong = session_token(&sid, &ring.key_set(purpose));
            assert_eq!(
                verify_session(wrong.as_str(), &sid, &keys),
                Err(CookieError::BadCsrfToken)
            );
        }
        let text = good.as_str();
        for i in 0..text.len() {
            let mut t = text.as_bytes().to_vec();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            assert_eq!(
                verify_session(&t, &sid, &keys),
                Err(CookieError::BadCsrfToken)
            );
        }
        for bad in ["", &text[1..], &format!("{text}="), &"*".repeat(TOKEN_LEN)] {
            assert_eq!(
                verify_session(bad, &sid, &keys),
                Err(CookieError::BadCsrfToken),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn session_tokens_from_before_a_rotation_still_verify() {
        let old = Keyring::generate().unwrap();
        let sid = [9u8; 16];
        let old_token = session_token(&sid, &old.key_set(Purpose::Csrf));
        let rotated = old.rotated().unwrap().key_set(Purpose::Csrf);
        assert_ne!(session_token(&sid, &rotated).as_str(), old_token.as_str());
        assert_eq!(verify_session(old_token.as_str(), &sid, &rotated), Ok(()));
    }

    #[test]
    fn token_debug_does_not_show_the_token() {
        let keys = ring().key_set(Purpose::Csrf);
        let t = session_token(&[2u8; 16], &keys);
        assert_eq!(format!("{t:?}"), "Token(..)");
    }

    #[test]
    fn malformed_inputs_and_any_changed_char_fail() {
        let keys = ring().key_set(Purpose::Csrf);
        let pre = new_presession().unwrap();
        let good = token(&pre, &keys);
        for i in 0..good.len() {
            let mut t = good.clone().into_bytes();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            assert_eq!(verify(&t, &pre, &keys), Err(CookieError::BadCsrfToken));
        }
        assert_eq!(
            verify(&good[1..], &pre, &keys),
            Err(CookieError::BadCsrfToken)
        );
        assert_eq!(
            verify(&format!("{good}="), &pre, &keys),
            Err(CookieError::BadCsrfToken)
        );
        // Tokens for values we never issue are refused even when correctly signed.
        for bad_pre in [
            "",
            "short",
            &"A".repeat(PRESESSION_LEN + 1),
            &"*".repeat(PRESESSION_LEN),
        ] {
            assert_eq!(
                verify(&token(bad_pre, &keys), bad_pre, &keys),
                Err(CookieError::BadCsrfToken),
                "{bad_pre:?}"
            );
        }
    }
}
