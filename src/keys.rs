//! Master secrets, per-purpose key derivation and the keyring.
//!
//! A keyring's text ([`Keyring::parse`], [`Keyring::to_text`]) is one master secret per
//! line as `<kid> <base64url secret>`, the last line being the current key and earlier
//! lines kept to verify what they signed before a rotation; the store keeps it as the
//! data directory's `keys` file. No master secret is ever used directly: every HMAC use
//! derives its own key with a purpose label ([`Purpose`]), so a session cookie can never
//! verify as an API token, a CSRF token or the reverse.
//!
//! ```
//! use latchkey::keys::{Keyring, Purpose};
//! let ring = Keyring::from_master("k1", &[7u8; 32]).unwrap();
//! let cookies = ring.key_set(Purpose::SessionCookie);
//! let tokens = ring.key_set(Purpose::ApiToken);
//! assert_eq!(cookies.current().kid(), Some("k1"));
//! assert_ne!(cookies.current().fingerprint(), tokens.current().fingerprint());
//! ```

use std::fmt;

use crate::b64::B64URL;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// HMAC-SHA256, the only MAC latchkey uses.
pub type HmacSha256 = Hmac<Sha256>;

/// Length of a generated master secret, and the shortest one accepted.
pub const MASTER_LEN: usize = 32;
/// How many master secrets a rotation keeps, the new current one included.
pub const KEEP_ON_ROTATE: usize = 3;
/// Longest accepted key id; ids are short printable names, never paths.
pub const MAX_KID_LEN: usize = 32;

/// What a derived key is used for. Each purpose gets an independent key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// The signed session cookie.
    SessionCookie,
    /// HS256 access and refresh tokens.
    ApiToken,
    /// CSRF tokens bound to the pre-session cookie.
    Csrf,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::SessionCookie => b"latchkey/v1/session-cookie",
            Purpose::ApiToken => b"latchkey/v1/api-token",
            Purpose::Csrf => b"latchkey/v1/csrf",
        }
    }
}

/// Why a keyring could not be parsed or made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A line (1-based) of a keyring's text is not `<kid> <base64url secret>`.
    Malformed(usize),
    /// A secret is shorter than [`MASTER_LEN`] bytes; holds its 1-based line, 0 for a
    /// secret not read from text.
    TooShort(usize),
    /// The keyring's text holds no key.
    Empty,
    /// A key id is empty, too long or not printable ASCII.
    BadKid,
    /// The operating system gave no random bytes.
    Random,
    /// No key of the keyring has this id.
    UnknownKid(String),
    /// The key with this id is the current one, which signs: it cannot be dropped.
    CurrentKid(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Malformed(line) => {
                write!(f, "line {line}: expected `<kid> <base64url secret>`")
            }
            KeyError::TooShort(0) => write!(f, "secret shorter than {MASTER_LEN} bytes"),
            KeyError::TooShort(line) => {
                write!(f, "line {line}: secret shorter than {MASTER_LEN} bytes")
            }
            KeyError::Empty => f.write_str("no key; run: latchkey key rotate"),
            KeyError::BadKid => f.write_str("key id must be 1-32 printable ascii characters"),
            KeyError::Random => f.write_str("operating system randomness unavailable"),
            KeyError::UnknownKid(kid) => write!(f, "no key {kid}; see: latchkey key list"),
            KeyError::CurrentKid(kid) => {
                write!(
                    f,
                    "key {kid} signs; run latchkey key rotate first, then drop it"
                )
            }
        }
    }
}

impl std::error::Error for KeyError {}

/// One HMAC key ready for use: its id (if any) and the keyed MAC state.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    mac: HmacSha256,
    fingerprint: [u8; 8],
}

impl Key {
    /// A key from raw bytes, used as given (no derivation): for a shared secret of
    /// another system that issues HS256 tokens.
    pub fn raw(kid: Option<&str>, secret: &[u8]) -> Result<Key, KeyError> {
        if let Some(k) = kid {
            check_kid(k)?;
        }
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| KeyError::BadKid)?;
        let mut fp = HmacSha256::new_from_slice(secret).map_err(|_| KeyError::BadKid)?;
        fp.update(b"latchkey/v1/fingerprint");
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&fp.finalize().into_bytes()[..8]);
        Ok(Key {
            kid: kid.map(str::to_owned),
            mac,
            fingerprint,
        })
    }

    /// The key id carried in tokens signed with this key, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// A fresh MAC keyed with this key; the key schedule is already done.
    pub fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }

    /// A short public identifier of the key material, safe to log or compare.
    pub fn fingerprint(&self) -> [u8; 8] {
        self.fingerprint
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The keys for one purpose: the current one signs, all of them verify.
#[derive(Clone, Debug)]
pub struct KeySet {
    // Never empty; index 0 is the current key.
    keys: Vec<Key>,
}

impl KeySet {
    /// A set holding one key.
    pub fn single(key: Key) -> KeySet {
        KeySet { keys: vec![key] }
    }

    /// A set holding one raw shared secret without a key id, for verifying tokens
    /// issued by another system.
    ///
    /// ```
    /// let set = latchkey::keys::KeySet::shared_secret(b"super-secret").unwrap();
    /// assert_eq!(set.current().kid(), None);
    /// ```
    pub fn shared_secret(secret: &[u8]) -> Result<KeySet, KeyError> {
        Ok(KeySet::single(Key::raw(None, secret)?))
    }

    /// The key that signs.
    pub fn current(&self) -> &Key {
        &self.keys[0]
    }

    /// The key with id `kid`, current or older.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid() == Some(kid))
    }

    /// Every key, current first.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }
}

/// Master secrets, current first, from which per-purpose key sets are derived.
#[derive(Clone)]
pub struct Keyring {
    masters: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.masters.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Keyring")
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring of one master secret (for tests and embedding).
    pub fn from_master(kid: &str, secret: &[u8]) -> Result<Keyring, KeyError> {
        check_kid(kid)?;
        if secret.len() < MASTER_LEN {
            return Err(KeyError::TooShort(0));
        }
        Ok(Keyring {
            masters: vec![(kid.to_owned(), secret.to_vec())],
        })
    }

    /// The id of the current master secret.
    pub fn current_kid(&self) -> &str {
        &self.masters[0].0
    }

    /// The derived keys for `purpose`, current first.
    pub fn key_set(&self, purpose: Purpose) -> KeySet {
        let keys = self
            .masters
            .iter()
            .map(|(kid, secret)| {
                let mut mac =
                    HmacSha256::new_from_slice(secret).expect("hmac takes any key length");
                mac.update(purpose.label());
                let derived = mac.finalize().into_bytes();
                Key::raw(Some(kid), &derived).expect("kid was checked on load")
            })
            .collect();
        KeySet { keys }
    }

    /// Parses a keyring's text: `<kid> <base64url secret>` lines, oldest first, the
    /// last one current; blank lines and `#` comments are skipped.
    ///
    /// ```
    /// use latchkey::keys::Keyring;
    /// let ring = Keyring::generate().unwrap().rotated().unwrap();
    /// let again = Keyring::parse(&ring.to_text()).unwrap();
    /// assert_eq!(again.current_kid(), ring.current_kid());
    /// ```
    pub fn parse(text: &str) -> Result<Keyring, KeyError> {
        let mut masters = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_ascii_whitespace();
            let (Some(kid), Some(b64), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(KeyError::Malformed(i + 1));
            };
            if check_kid(kid).is_err() {
                return Err(KeyError::Malformed(i + 1));
            }
            let secret = B64URL.decode(b64).map_err(|_| KeyError::Malformed(i + 1))?;
            if secret.len() < MASTER_LEN {
                return Err(KeyError::TooShort(i + 1));
            }
            masters.push((kid.to_owned(), secret));
        }
        if masters.is_empty() {
            return Err(KeyError::Empty);
        }
        masters.reverse();
        Ok(Keyring { masters })
    }

    /// The keyring's text, as [`Keyring::parse`] reads it.
    pub fn to_text(&self) -> String {
        let mut text = String::from(
            "# latchkey master secrets: the last line signs, earlier lines only verify.\n",
        );
        for (kid, secret) in self.masters.iter().rev() {
            text.push_str(kid);
            text.push(' ');
            text.push_str(&B64URL.encode(secret));
            text.push('\n');
        }
        text
    }

    /// A keyring of one fresh random master secret with a random key id.
    pub fn generate() -> Result<Keyring, KeyError> {
        let secret: [u8; MASTER_LEN] = crate::random::array().map_err(|_| KeyError::Random)?;
        let id: [u8; 4] = crate::random::array().map_err(|_| KeyError::Random)?;
        let kid: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Keyring {
            masters: vec![(kid, secret.to_vec())],
        })
    }

    /// This keyring with a fresh current secret in front, keeping at most
    /// [`KEEP_ON_ROTATE`] secrets in all: older keys keep verifying until dropped.
    pub fn rotated(&self) -> Result<Keyring, KeyError> {
        self.rotated_keeping(KEEP_ON_ROTATE)
    }

    /// This keyring with a fresh current secret in front, keeping at most `keep`
    /// secrets in all (at least the new one): the newest older keys keep verifying,
    /// the rest are dropped.
    ///
    /// ```
    /// use latchkey::keys::Keyring;
    /// let ring = Keyring::generate().unwrap().rotated().unwrap();
    /// let alone = ring.rotated_keeping(1).unwrap();
    /// assert_eq!(alone.kids().count(), 1);
    /// assert_ne!(alone.current_kid(), ring.current_kid());
    /// ```
    pub fn rotated_keeping(&self, keep: usize) -> Result<Keyring, KeyError> {
        let mut masters = Keyring::generate()?.masters;
        let older = keep.saturating_sub(1);
        masters.extend(self.masters.iter().take(older).cloned());
        Ok(Keyring { masters })
    }

    /// This keyring without the older key `kid`: what it signed stops verifying. The
    /// current key cannot be dropped ([`KeyError::CurrentKid`]).
    ///
    /// ```
    /// use latchkey::keys::{KeyError, Keyring};
    /// let first = Keyring::generate().unwrap();
    /// let old = first.current_kid().to_owned();
    /// let ring = first.rotated().unwrap();
    /// assert_eq!(ring.without(&old).unwrap().kids().count(), 1);
    /// assert!(matches!(ring.without(ring.current_kid()), Err(KeyError::CurrentKid(_))));
    /// assert!(matches!(ring.without("nope"), Err(KeyError::UnknownKid(_))));
    /// ```
    pub fn without(&self, kid: &str) -> Result<Keyring, KeyError> {
        if kid == self.current_kid() {
            return Err(KeyError::CurrentKid(kid.to_owned()));
        }
        if !self.masters.iter().any(|(k, _)| k == kid) {
            return Err(KeyError::UnknownKid(kid.to_owned()));
        }
        let masters = self
            .masters
            .iter()
            .filter(|(k, _)| k != kid)
            .cloned()
            .collect();
        Ok(Keyring { masters })
    }

    /// The key ids, current first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.masters.iter().map(|(kid, _)| kid.as_str())
    }
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(KeyError::BadKid) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_a_fresh_key_is_long_enough() {
        let ring = Keyring::generate().unwrap();
        let again = Keyring::parse(&ring.to_text()).unwrap();
        assert_eq!(again.current_kid(), ring.current_kid());
        assert_eq!(
            again.key_set(Purpose::ApiToken).current().fingerprint(),
            ring.key_set(Purpose::ApiToken).current().fingerprint()
        );
        assert_eq!(ring.masters[0].1.len(), MASTER_LEN);
    }

    #[test]
    fn short_or_malformed_secret_is_refused_with_line_number() {
        let short = format!("# c\nk1 {}\n", B64URL.encode([1u8; 31]));
        assert_eq!(Keyring::parse(&short).unwrap_err(), KeyError::TooShort(2));
        assert_eq!(
            Keyring::parse("k1 not*base64\n").unwrap_err(),
            KeyError::Malformed(1)
        );
        let long_enough = B64URL.encode([1u8; 32]);
        assert_eq!(
            Keyring::parse(&format!("../k1 {long_enough}\n")).unwrap_err(),
            KeyError::Malformed(1)
        );
        assert_eq!(
            Keyring::parse(&format!("k1 {long_enough} extra\n")).unwrap_err(),
            KeyError::Malformed(1)
        );
        assert_eq!(
            Keyring::parse("# only a comment\n").unwrap_err(),
            KeyError::Empty
        );
    }

    #[test]
    fn rotation_keeps_old_keys_for_verification() {
        let first = Keyring::generate().unwrap();
        let old_kid = first.current_kid().to_owned();
        let ring = first.rotated().unwrap();
        assert_ne!(ring.current_kid(), old_kid);
        let set = ring.key_set(Purpose::SessionCookie);
        assert_eq!(set.current().kid(), Some(ring.current_kid()));
        let old = set.get(&old_kid).expect("old key still verifies");
        assert_eq!(
            old.fingerprint(),
            first
                .key_set(Purpose::SessionCookie)
                .current()
                .fingerprint()
        );
        // The text keeps the order: the current key is the last line.
        let reread = Keyring::parse(&ring.to_text()).unwrap();
        assert_eq!(reread.current_kid(), ring.current_kid());
        let mut ring = ring;
        for _ in 0..KEEP_ON_ROTATE {
            ring = ring.rotated().unwrap();
        }
        assert_eq!(ring.key_set(Purpose::Csrf).iter().count(), KEEP_ON_ROTATE);
        assert!(ring.key_set(Purpose::Csrf).get(&old_kid).is_none());
    }

    #[test]
    fn purposes_derive_distinct_keys() {
        let ring = Keyring::from_master("k1", &[9u8; 32]).unwrap();
        let a = ring.key_set(Purpose::SessionCookie).current().fingerprint();
        let b = ring.key_set(Purpose::ApiToken).current().fingerprint();
        let c = ring.key_set(Purpose::Csrf).current().fingerprint();
        assert!(a != b && b != c && a != c);
    }

    #[test]
    fn kid_must_be_a_short_printable_name() {
        assert!(Keyring::from_master("../etc/passwd", &[1u8; 32]).is_err());
        assert!(Keyring::from_master("", &[1u8; 32]).is_err());
        assert!(Keyring::from_master(&"a".repeat(33), &[1u8; 32]).is_err());
        assert!(Keyring::from_master("k-1_b", &[1u8; 32]).is_ok());
    }
}
