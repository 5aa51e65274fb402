//! The session payload and its signed, name-bound cookie value.
//!
//! A value reads `v1.<kid>.<payload>.<tag>`: `kid` names the master key (so rotation
//! picks the key directly instead of trying them all), `payload` and `tag` are
//! unpadded base64url. The tag is HMAC-SHA256, with the [`Purpose::SessionCookie`]
//! key, over the cookie name (length-prefixed) and the text `v1.<kid>.<payload>`, so a
//! value cannot be moved to another cookie name, re-labelled with another key id, or
//! verified as an API token (different derived key).
//!
//! The payload is a fixed binary layout (all integers big-endian):
//!
//! | bytes | field |
//! |-------|-------|
//! | 1     | layout version, `1` |
//! | 1     | flags: bit 0 = remember me; other bits must be zero |
//! | 1     | user name length `n`, 1..=[`MAX_USER_LEN`] |
//! | n     | user name, `[A-Za-z0-9._@-]` |
//! | 16    | session id |
//! | 8 × 4 | `issued_at`, `expires_at`, `auth_time`, `epoch` |
//!
//! Trailing bytes, unknown flags and bad lengths are refused, so every session has
//! exactly one encoding and every value that opens re-seals to itself.
//!
//! [`Purpose::SessionCookie`]: crate::keys::Purpose::SessionCookie

use base64::Engine;
use hmac::Mac;

use super::CookieError;
use crate::b64::B64URL;
use crate::keys::{HmacSha256, Key, KeySet, MAX_KID_LEN};

/// Longest signed value [`open`] looks at; longer values are refused before any work.
pub const MAX_VALUE_LEN: usize = 512;
/// Longest user name a session carries, in bytes.
pub const MAX_USER_LEN: usize = 64;

const VERSION: &str = "v1";
const VERSION_DOT: &str = "v1.";
const LAYOUT_VERSION: u8 = 1;
const FLAG_REMEMBER: u8 = 0b0000_0001;
const SID_LEN: usize = 16;
const TAG_LEN: usize = 32;
const FIXED_LEN: usize = 3 + SID_LEN + 4 * 8;
const MAX_PAYLOAD_LEN: usize = FIXED_LEN + MAX_USER_LEN;
// Unpadded base64 lengths of the parts, so oversized parts are refused before decoding.
const MAX_PAYLOAD_B64: usize = (MAX_PAYLOAD_LEN * 4).div_ceil(3);
const TAG_B64: usize = (TAG_LEN * 4).div_ceil(3);

/// One logged-in browser session, as carried in the signed cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user name; 1..=[`MAX_USER_LEN`] bytes of `[A-Za-z0-9._@-]` (see [`is_valid_user`]).
    pub user: String,
    /// 128-bit random session id, for server-side revocation of one session.
    pub sid: [u8; 16],
    /// When the session was created, unix seconds.
    pub issued_at: u64,
    /// When the session stops being accepted, unix seconds.
    pub expires_at: u64,
    /// Whether the user asked to be remembered (a persistent cookie).
    pub remember: bool,
    /// When the user last typed their password, unix seconds, for freshness checks
    /// before sensitive actions.
    pub auth_time: u64,
    /// The user's password epoch when the session was issued; a password change bumps
    /// it and so ends every older session.
    pub epoch: u64,
}

impl Session {
    /// A fresh session for `user`, issued and authenticated at `now`, expiring `ttl`
    /// seconds later, with a random session id.
    ///
    /// ```
    /// let s = latchkey::cookie::Session::new("admin", 100, 60, true, 3).unwrap();
    /// assert_eq!((s.issued_at, s.expires_at, s.auth_time, s.epoch), (100, 160, 100, 3));
    /// assert!(latchkey::cookie::Session::new("bad user", 100, 60, false, 0).is_err());
    /// ```
    pub fn new(
        user: &str,
        now: u64,
        ttl: u64,
        remember: bool,
        epoch: u64,
    ) -> Result<Session, CookieError> {
        if !is_valid_user(user) {
            return Err(CookieError::InvalidUser);
        }
        let sid = crate::random::array().map_err(|_| CookieError::Random)?;
        Ok(Session {
            user: user.to_owned(),
            sid,
            issued_at: now,
            expires_at: now.saturating_add(ttl),
            remember,
            auth_time: now,
            epoch,
        })
    }
}

/// Whether `user` can be carried in a session: 1..=[`MAX_USER_LEN`] bytes of
/// `[A-Za-z0-9._@-]`.
///
/// ```
/// use latchkey::cookie::session::is_valid_user;
/// assert!(is_valid_user("ops.admin@example"));
/// assert!(!is_valid_user("") && !is_valid_user("a;b") && !is_valid_user("é"));
/// ```
pub fn is_valid_user(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= MAX_USER_LEN
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

/// Signs `session` for the cookie called `cookie_name` (the full, prefixed name) with
/// `key`, normally `keys.current()` of the [`SessionCookie`](crate::keys::Purpose::SessionCookie)
/// key set.
///
/// Fails closed rather than panicking: a session whose user name is not valid (see
/// [`is_valid_user`]) or a key without a key id yields a value [`open`] refuses.
///
/// ```
/// use latchkey::cookie::{Session, seal, open};
/// use latchkey::keys::{Keyring, Purpose};
/// let keys = Keyring::from_master("k1", &[1u8; 32]).unwrap().key_set(Purpose::SessionCookie);
/// let s = Session::new("admin", 0, 60, false, 0).unwrap();
/// let value = seal(&s, "__Host-session", keys.current());
/// assert!(value.starts_with("v1.k1."));
/// assert_eq!(open(&value, "__Host-session", &keys, 30).unwrap(), s);
/// ```
pub fn seal(session: &Session, cookie_name: &str, key: &Key) -> String {
    let mut value = format!("{VERSION}.{}.", key.kid().unwrap_or_default());
    B64URL.encode_string(encode_payload(session), &mut value);
    let tag = mac_for(key, cookie_name, &value).finalize().into_bytes();
    value.push('.');
    B64URL.encode_string(tag, &mut value);
    value
}

/// Verifies and decodes a session cookie value read from the cookie `cookie_name`.
///
/// Order of checks: length, shape, version, key id, MAC (constant time), and only
/// then the payload layout and `expires_at <= now` ([`CookieError::Expired`]). It does
/// not check revocation or the password epoch: the caller compares `sid` and `epoch`
/// with its own state.
///
/// ```
/// use latchkey::cookie::{CookieError, Session, seal, open};
/// use latchkey::keys::{Keyring, Purpose};
/// let keys = Keyring::from_master("k1", &[1u8; 32]).unwrap().key_set(Purpose::SessionCookie);
/// let value = seal(&Session::new("admin", 0, 60, false, 0).unwrap(), "sid", keys.current());
/// assert_eq!(open(&value, "other", &keys, 1), Err(CookieError::BadSignature));
/// assert_eq!(open(&value, "sid", &keys, 60), Err(CookieError::Expired));
/// ```
pub fn open(
    value: &str,
    cookie_name: &str,
    keys: &KeySet,
    now: u64,
) -> Result<Session, CookieError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(CookieError::TooLong);
    }
    let Some(rest) = value.strip_prefix(VERSION_DOT) else {
        // Another version is only worth naming if the value has our shape.
        return Err(if value.split('.').count() == 4 {
            CookieError::UnsupportedVersion
        } else {
            CookieError::BadFormat
        });
    };
    // `<kid>.<payload>.<tag>`: every shape error from here on is `BadFormat`.
    let (kid, rest) = rest.split_once('.').ok_or(CookieError::BadFormat)?;
    let (payload_b64, tag_b64) = rest.split_once('.').ok_or(CookieError::BadFormat)?;
    if kid.is_empty()
        || kid.len() > MAX_KID_LEN
        || tag_b64.contains('.')
        || payload_b64.len() > MAX_PAYLOAD_B64
    {
        return Err(CookieError::BadFormat);
    }
    let key = keys.get(kid).ok_or(CookieError::UnknownKid)?;
    if tag_b64.len() != TAG_B64 {
        return Err(CookieError::BadSignature);
    }
    let tag = B64URL.decode(tag_b64).map_err(|_| CookieError::BadBase64)?;
    // `v1.<kid>.<payload>`: everything before the tag's dot.
    let (signed, _) = value.rsplit_once('.').ok_or(CookieError::BadFormat)?;
    // Constant time (`subtle`, inside `hmac`).
    mac_for(key, cookie_name, signed)
        .verify_slice(&tag)
        .map_err(|_| CookieError::BadSignature)?;
    let payload = B64URL
        .decode(payload_b64)
        .map_err(|_| CookieError::BadBase64)?;
    let session = decode_payload(&payload)?;
    if session.expires_at <= now {
        return Err(CookieError::Expired);
    }
    Ok(session)
}

/// The MAC over the length-prefixed cookie name and the signed text.
fn mac_for(key: &Key, cookie_name: &str, signed: &str) -> HmacSha256 {
    let mut mac = key.mac();
    mac.update(&(cookie_name.len() as u64).to_be_bytes());
    mac.update(cookie_name.as_bytes());
    mac.update(signed.as_bytes());
    mac
}

/// The payload layout of `s`. An invalid user name is written with length 0, which
/// [`decode_payload`] refuses: seal fails closed.
fn encode_payload(s: &Session) -> Vec<u8> {
    let user: &[u8] = if is_valid_user(&s.user) {
        s.user.as_bytes()
    } else {
        &[]
    };
    let mut out = Vec::with_capacity(FIXED_LEN + user.len());
    out.push(LAYOUT_VERSION);
    out.push(if s.remember { FLAG_REMEMBER } else { 0 });
    // A valid user name is at most MAX_USER_LEN (64) bytes.
    out.push(user.len() as u8);
    out.extend_from_slice(user);
    out.extend_from_slice(&s.sid);
    for n in [s.issued_at, s.expires_at, s.auth_time, s.epoch] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out
}

fn decode_payload(bytes: &[u8]) -> Result<Session, CookieError> {
    let mut r = Reader { bytes };
    let [layout] = r.take()?;
    if layout != LAYOUT_VERSION {
        return Err(CookieError::BadPayload);
    }
    let [flags] = r.take()?;
    if flags & !FLAG_REMEMBER != 0 {
        return Err(CookieError::BadPayload);
    }
    let [user_len] = r.take()?;
    let user = r.take_slice(usize::from(user_len))?;
    let user = std::str::from_utf8(user).map_err(|_| CookieError::BadPayload)?;
    if !is_valid_user(user) {
        return Err(CookieError::BadPayload);
    }
    let sid = r.take()?;
    let issued_at = u64::from_be_bytes(r.take()?);
    let expires_at = u64::from_be_bytes(r.take()?);
    let auth_time = u64::from_be_bytes(r.take()?);
    let epoch = u64::from_be_bytes(r.take()?);
    if !r.bytes.is_empty() {
        return Err(CookieError::BadPayload);
    }
    Ok(Session {
        user: user.to_owned(),
        sid,
        issued_at,
        expires_at,
        remember: flags & FLAG_REMEMBER != 0,
        auth_time,
        epoch,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take_slice(&mut self, n: usize) -> Result<&'a [u8], CookieError> {
        let (head, rest) = self
            .bytes
            .split_at_checked(n)
            .ok_or(CookieError::BadPayload)?;
        self.bytes = rest;
        Ok(head)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], CookieError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take_slice(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Keyring, Purpose};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const NAME: &str = "__Host-session";

    fn ring() -> Keyring {
        Keyring::from_master("k1", &[7u8; 32]).unwrap()
    }

    fn keys() -> KeySet {
        ring().key_set(Purpose::SessionCookie)
    }

    fn session() -> Session {
        Session {
            user: "admin".to_owned(),
            sid: [0xA5; 16],
            issued_at: 1_000,
            expires_at: 2_000,
            remember: true,
            auth_time: 990,
            epoch: 4,
        }
    }

    /// Seals raw payload bytes as a correctly signed value, to reach the payload checks.
    fn seal_raw_payload(payload: &[u8], key: &Key) -> String {
        let mut value = format!("v1.{}.", key.kid().unwrap());
        URL_SAFE_NO_PAD.encode_string(payload, &mut value);
        let tag = mac_for(key, NAME, &value).finalize().into_bytes();
        value.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut value);
        value
    }

    fn raw_payload(s: &Session) -> Vec<u8> {
        encode_payload(s)
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let keys = keys();
        let s = session();
        let value = seal(&s, NAME, keys.current());
        assert_eq!(open(&value, NAME, &keys, 1_500), Ok(s));
        let longest = Session {
            user: "u".repeat(MAX_USER_LEN),
            remember: false,
            expires_at: u64::MAX,
            ..session()
        };
        let value = seal(&longest, NAME, keys.current());
        assert!(value.len() <= MAX_VALUE_LEN);
        assert_eq!(open(&value, NAME, &keys, u64::MAX - 1), Ok(longest));
    }

    #[test]
    fn new_session_draws_a_random_sid() {
        let a = Session::new("admin", 10, 5, false, 0).unwrap();
        let b = Session::new("admin", 10, 5, false, 0).unwrap();
        assert_ne!(a.sid, b.sid);
        assert_eq!(a.expires_at, 15);
        assert_eq!(
            Session::new(&"a".repeat(65), 0, 1, false, 0),
            Err(CookieError::InvalidUser)
        );
    }

    #[test]
    fn every_single_char_change_fails() {
        let keys = keys();
        let value = seal(&session(), NAME, keys.current());
        let alphabet = b"AQgw_-.v1k0";
        for i in 0..value.len() {
            for &c in alphabet {
                let mut bytes = value.clone().into_bytes();
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
                let tampered = String::from_utf8(bytes).unwrap();
                assert!(
                    open(&tampered, NAME, &keys, 1_500).is_err(),
                    "change at {i} to {} opened",
                    c as char
                );
            }
        }
    }

    #[test]
    fn every_single_bit_flip_of_the_decoded_parts_fails() {
        let keys = keys();
        let s = session();
        let key = keys.current();
        let payload = raw_payload(&s);
        for bit in 0..payload.len() * 8 {
            let mut p = payload.clone();
            p[bit / 8] ^= 1 << (bit % 8);
            // Re-encode with the original tag: the MAC must catch it.
            let good = seal(&s, NAME, key);
            let tag = good.rsplit_once('.').unwrap().1;
            let forged = format!("v1.k1.{}.{tag}", URL_SAFE_NO_PAD.encode(&p));
            assert_eq!(
                open(&forged, NAME, &keys, 1_500),
                Err(CookieError::BadSignature)
            );
        }
        let good = seal(&s, NAME, key);
        let (signed, tag_b64) = good.rsplit_once('.').unwrap();
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).unwrap();
        for bit in 0..tag.len() * 8 {
            let mut t = tag.clone();
            t[bit / 8] ^= 1 << (bit % 8);
            let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&t));
            assert_eq!(
                open(&forged, NAME, &keys, 1_500),
                Err(CookieError::BadSignature)
            );
        }
    }

    #[test]
    fn value_moved_to_another_cookie_name_fails() {
        let keys = keys();
        let value = seal(&session(), NAME, keys.current());
        for other in ["session", "__Host-sessio", "__Host-session2", "csrf"] {
            assert_eq!(
                open(&value, other, &keys, 1_500),
                Err(CookieError::BadSignature)
            );
        }
    }

    #[test]
    fn api_token_or_csrf_key_does_not_verify() {
        let ring = ring();
        for purpose in [Purpose::ApiToken, Purpose::Csrf] {
            let wrong = ring.key_set(purpose);
            let value = seal(&session(), NAME, wrong.current());
            assert_eq!(
                open(&value, NAME, &keys(), 1_500),
                Err(CookieError::BadSignature)
            );
            let value = seal(&session(), NAME, keys().current());
            assert_eq!(
                open(&value, NAME, &wrong, 1_500),
                Err(CookieError::BadSignature)
            );
        }
    }

    #[test]
    fn old_kid_verifies_after_rotation_and_unknown_kid_fails() {
        let old_ring = Keyring::generate().unwrap();
        let old = old_ring.key_set(Purpose::SessionCookie);
        let value = seal(&session(), NAME, old.current());
        let rotated = old_ring.rotated().unwrap().key_set(Purpose::SessionCookie);
        assert_ne!(rotated.current().kid(), old.current().kid());
        assert_eq!(open(&value, NAME, &rotated, 1_500), Ok(session()));

        let other = Keyring::from_master("k2", &[7u8; 32])
            .unwrap()
            .key_set(Purpose::SessionCookie);
        let value = seal(&session(), NAME, keys().current());
        assert_eq!(
            open(&value, NAME, &other, 1_500),
            Err(CookieError::UnknownKid)
        );
    }

    #[test]
    fn expiry_is_exclusive() {
        let keys = keys();
        let value = seal(&session(), NAME, keys.current());
        assert!(open(&value, NAME, &keys, 1_999).is_ok());
        assert_eq!(open(&value, NAME, &keys, 2_000), Err(CookieError::Expired));
        assert_eq!(
            open(&value, NAME, &keys, u64::MAX),
            Err(CookieError::Expired)
        );
    }

    #[test]
    fn shape_errors_are_precise() {
        let keys = keys();
        let value = seal(&session(), NAME, keys.current());
        let long = format!("{value}{}", "A".repeat(MAX_VALUE_LEN));
        assert_eq!(open(&long, NAME, &keys, 0), Err(CookieError::TooLong));
        assert_eq!(open("", NAME, &keys, 0), Err(CookieError::BadFormat));
        assert_eq!(
            open("v1.k1.abc", NAME, &keys, 0),
            Err(CookieError::BadFormat)
        );
        assert_eq!(
            open(&format!("{value}.x"), NAME, &keys, 0),
            Err(CookieError::BadFormat)
        );
        let v2 = value.replacen("v1.", "v2.", 1);
        assert_eq!(
            open(&v2, NAME, &keys, 0),
            Err(CookieError::UnsupportedVersion)
        );
        assert_eq!(
            open("v1..AAAA.AAAA", NAME, &keys, 0),
            Err(CookieError::BadFormat)
        );
        let (signed, _) = value.rsplit_once('.').unwrap();
        let bad_tag = format!("{signed}.{}", "*".repeat(TAG_B64));
        assert_eq!(open(&bad_tag, NAME, &keys, 0), Err(CookieError::BadBase64));
        let short_tag = format!("{signed}.AAAA");
        assert_eq!(
            open(&short_tag, NAME, &keys, 0),
            Err(CookieError::BadSignature)
        );
        // Padding or non-canonical trailing bits are not base64url as we write it.
        let (_, tag) = value.rsplit_once('.').unwrap();
        let last = tag.as_bytes()[TAG_B64 - 1];
        let noncanonical = format!(
            "{signed}.{}{}",
            &tag[..TAG_B64 - 1],
            if last == b'A' { 'B' } else { 'A' }
        );
        assert!(open(&noncanonical, NAME, &keys, 0).is_err());
    }

    #[test]
    fn shape_errors_keep_their_precedence() {
        let keys = keys();
        let value = seal(&session(), NAME, keys.current());
        let (_, tail) = value.split_once("k1.").unwrap();
        for (what, bad, want) in [
            (
                "other version, our shape",
                "v0.k1.AAAA.AAAA",
                CookieError::UnsupportedVersion,
            ),
            (
                "other version, 3 parts",
                "v0.k1.AAAA",
                CookieError::BadFormat,
            ),
            (
                "other version, 5 parts",
                "v2.a.b.c.d",
                CookieError::BadFormat,
            ),
            ("no version dot", "v1", CookieError::BadFormat),
            (
                "uppercase version",
                "V1.k1.AAAA.AAAA",
                CookieError::UnsupportedVersion,
            ),
            ("nothing after version", "v1.", CookieError::BadFormat),
            ("no kid dot", "v1.k1", CookieError::BadFormat),
            ("no tag", "v1.k1.AAAA", CookieError::BadFormat),
            (
                "unknown kid, 5 parts",
                "v1.zz.AAAA.AAAA.AAAA",
                CookieError::BadFormat,
            ),
            ("unknown kid", "v1.zz.AAAA.AAAA", CookieError::UnknownKid),
        ] {
            assert_eq!(open(bad, NAME, &keys, 0), Err(want), "{what}");
        }
        let long_kid = format!("v1.{}.{tail}", "k".repeat(MAX_KID_LEN + 1));
        assert_eq!(open(&long_kid, NAME, &keys, 0), Err(CookieError::BadFormat));
        let max_kid = format!("v1.{}.{tail}", "k".repeat(MAX_KID_LEN));
        assert_eq!(open(&max_kid, NAME, &keys, 0), Err(CookieError::UnknownKid));
        let long_payload = format!("v1.k1.{}.{}", "A".repeat(MAX_PAYLOAD_B64 + 1), "A");
        assert_eq!(
            open(&long_payload, NAME, &keys, 0),
            Err(CookieError::BadFormat)
        );
        // A payload that is not base64 is only reported once the MAC vouches for it.
        let (signed, tag) = value.rsplit_once('.').unwrap();
        let forged = format!("{}*.{tag}", &signed[..signed.len() - 1]);
        assert_eq!(
            open(&forged, NAME, &keys, 0),
            Err(CookieError::BadSignature)
        );
        for payload in ["AB*D", "AB", "AAAA="] {
            let signed = format!("v1.k1.{payload}");
            let tag = mac_for(keys.current(), NAME, &signed)
                .finalize()
                .into_bytes();
            let value = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag));
            assert_eq!(
                open(&value, NAME, &keys, 0),
                Err(CookieError::BadBase64),
                "{payload}"
            );
        }
    }

    #[test]
    fn payload_layout_is_strict_even_when_signed() {
        let keys = keys();
        let key = keys.current();
        let good = raw_payload(&session());
        assert_eq!(
            open(&seal_raw_payload(&good, key), NAME, &keys, 1_500),
            Ok(session())
        );
        let mut trailing = good.clone();
        trailing.push(0);
        let mut flags = good.clone();
        flags[1] |= 0b10;
        let mut layout = good.clone();
        layout[0] = 2;
        let mut long_len = good.clone();
        long_len[2] += 1;
        let mut short_len = good.clone();
        short_len[2] -= 1;
        let mut bad_char = good.clone();
        bad_char[3] = b';';
        let mut zero_len = good.clone();
        zero_len.drain(2..3 + 5);
        zero_len.insert(2, 0);
        let truncated = good[..good.len() - 1].to_vec();
        for (what, payload) in [
            ("trailing byte", trailing),
            ("unknown flag", flags),
            ("layout version", layout),
            ("user length too long", long_len),
            ("user length too short", short_len),
            ("user charset", bad_char),
            ("empty user", zero_len),
            ("truncated", truncated),
            ("empty", Vec::new()),
        ] {
            assert_eq!(
                open(&seal_raw_payload(&payload, key), NAME, &keys, 1_500),
                Err(CookieError::BadPayload),
                "{what}"
            );
        }
    }

    #[test]
    fn invalid_user_or_kidless_key_seals_to_a_value_that_never_opens() {
        let keys = keys();
        let bad = Session {
            user: "evil\"; x".to_owned(),
            ..session()
        };
        let value = seal(&bad, NAME, keys.current());
        assert_eq!(
            open(&value, NAME, &keys, 1_500),
            Err(CookieError::BadPayload)
        );
        let kidless = Key::raw(None, &[1u8; 32]).unwrap();
        let value = seal(&session(), NAME, &kidless);
        assert_eq!(
            open(&value, NAME, &keys, 1_500),
            Err(CookieError::BadFormat)
        );
    }
}
