//! Master secrets, per-purpose key derivation and the keyring.
//!
//! The data directory holds one file, `keys`, mode 0600: one master secret per line as
//! `<kid> <base64url secret>`, the last line being the current key and earlier lines
//! kept to verify what they signed before a rotation. No master secret is ever used
//! directly: every HMAC use derives its own key with a purpose label ([`Purpose`]), so a
//! session cookie can never verify as an API token, a CSRF token or the reverse.
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
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::b64::B64URL;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// HMAC-SHA256, the only MAC latchkey uses.
pub type HmacSha256 = Hmac<Sha256>;

/// Name of the keys file inside the data directory.
pub const KEYS_FILE: &str = "keys";
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

/// Why keys could not be loaded, created or rotated.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing the keys file or data directory failed.
    Io(PathBuf, io::Error),
    /// The keys file can be read by group or others.
    Permissions(PathBuf, u32),
    /// A line of the keys file is not `<kid> <base64url secret>`.
    Malformed(PathBuf, usize),
    /// A secret is shorter than [`MASTER_LEN`] bytes.
    TooShort(PathBuf, usize),
    /// The keys file holds no key.
    Empty(PathBuf),
    /// The keys file does not exist.
    Missing(PathBuf),
    /// A key id is empty, too long or not printable ASCII.
    BadKid,
    /// The operating system gave no random bytes.
    Random,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            KeyError::Permissions(p, mode) => write!(
                f,
                "{}: mode {mode:03o} lets others read the secret; run: chmod 600 {}",
                p.display(),
                p.display()
            ),
            KeyError::Malformed(p, line) => {
                write!(
                    f,
                    "{}:{line}: expected `<kid> <base64url secret>`",
                    p.display()
                )
            }
            KeyError::TooShort(p, line) => write!(
                f,
                "{}:{line}: secret shorter than {MASTER_LEN} bytes; run: latchkey key rotate",
                p.display()
            ),
            KeyError::Empty(p) => write!(f, "{}: no key; run: latchkey key rotate", p.display()),
            KeyError::Missing(p) => write!(f, "{}: no such file", p.display()),
            KeyError::BadKid => f.write_str("key id must be 1-32 printable ascii characters"),
            KeyError::Random => f.write_str("operating system randomness unavailable"),
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
            return Err(KeyError::TooShort(PathBuf::new(), 0));
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

    /// Loads the keys file of `data_dir`.
    pub fn load(data_dir: &Path) -> Result<Keyring, KeyError> {
        let path = data_dir.join(KEYS_FILE);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(KeyError::Missing(path)),
            Err(e) => return Err(KeyError::Io(path, e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions(path, mode));
        }
        let text = fs::read_to_string(&path).map_err(|e| KeyError::Io(path.clone(), e))?;
        let mut masters = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_ascii_whitespace();
            let (Some(kid), Some(b64), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(KeyError::Malformed(path, i + 1));
            };
            if check_kid(kid).is_err() {
                return Err(KeyError::Malformed(path, i + 1));
            }
            let secret = B64URL
                .decode(b64)
                .map_err(|_| KeyError::Malformed(path.clone(), i + 1))?;
            if secret.len() < MASTER_LEN {
                return Err(KeyError::TooShort(path, i + 1));
            }
            masters.push((kid.to_owned(), secret));
        }
        if masters.is_empty() {
            return Err(KeyError::Empty(path));
        }
        masters.reverse();
        Ok(Keyring { masters })
    }

    /// Loads the keyring, first creating the data directory (0700) and a keys file with
    /// a fresh secret if there is none. The flag says whether it was created.
    pub fn load_or_create(data_dir: &Path) -> Result<(Keyring, bool), KeyError> {
        ensure_data_dir(data_dir)?;
        match Keyring::load(data_dir) {
            Err(KeyError::Missing(_)) => {
                let ring = Keyring::generate()?;
                ring.save(data_dir)?;
                Ok((ring, true))
            }
            other => other.map(|r| (r, false)),
        }
    }

    /// Adds a fresh current key to the keys file, keeping at most [`KEEP_ON_ROTATE`]
    /// keys, and returns the new key id. Creates the file if there is none.
    pub fn rotate(data_dir: &Path) -> Result<String, KeyError> {
        ensure_data_dir(data_dir)?;
        let mut ring = match Keyring::load(data_dir) {
            Ok(r) => r,
            Err(KeyError::Missing(_)) => Keyring {
                masters: Vec::new(),
            },
            Err(e) => return Err(e),
        };
        let fresh = Keyring::generate()?;
        let kid = fresh.current_kid().to_owned();
        ring.masters.insert(0, fresh.masters[0].clone());
        ring.masters.truncate(KEEP_ON_ROTATE);
        ring.save(data_dir)?;
        Ok(kid)
    }

    fn generate() -> Result<Keyring, KeyError> {
        let secret: [u8; MASTER_LEN] = crate::random::array().map_err(|_| KeyError::Random)?;
        let id: [u8; 4] = crate::random::array().map_err(|_| KeyError::Random)?;
        let kid: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Keyring {
            masters: vec![(kid, secret.to_vec())],
        })
    }

    fn save(&self, data_dir: &Path) -> Result<(), KeyError> {
        let path = data_dir.join(KEYS_FILE);
        let mut text = String::from(
            "# latchkey master secrets: the last line signs, earlier lines only verify.\n",
        );
        for (kid, secret) in self.masters.iter().rev() {
            text.push_str(kid);
            text.push(' ');
            text.push_str(&B64URL.encode(secret));
            text.push('\n');
        }
        crate::atomic_file::write(&path, text.as_bytes(), 0o600).map_err(|e| KeyError::Io(path, e))
    }
}

/// Creates the data directory with mode 0700 if it does not exist.
pub fn ensure_data_dir(data_dir: &Path) -> Result<(), KeyError> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(KeyError::Io(data_dir.to_path_buf(), e)),
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

    fn temp_dir(name: &str) -> PathBuf {
        let suffix: [u8; 6] = crate::random::array().unwrap();
        let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        std::env::temp_dir().join(format!("latchkey-keys-{name}-{hex}"))
    }

    #[test]
    fn first_load_creates_private_dir_and_file() {
        let dir = temp_dir("create");
        let (ring, created) = Keyring::load_or_create(&dir).unwrap();
        assert!(created);
        let dmode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        let fmode = fs::metadata(dir.join(KEYS_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!((dmode, fmode), (0o700, 0o600));
        let (again, created) = Keyring::load_or_create(&dir).unwrap();
        assert!(!created);
        assert_eq!(again.current_kid(), ring.current_kid());
        assert_eq!(
            again.key_set(Purpose::ApiToken).current().fingerprint(),
            ring.key_set(Purpose::ApiToken).current().fingerprint()
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn readable_keys_file_is_refused_with_a_fix() {
        let dir = temp_dir("perm");
        Keyring::load_or_create(&dir).unwrap();
        let path = dir.join(KEYS_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Keyring::load(&dir).unwrap_err();
        assert!(matches!(err, KeyError::Permissions(_, 0o644)));
        assert!(err.to_string().contains("chmod 600"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn short_or_malformed_secret_is_refused_with_line_number() {
        let dir = temp_dir("short");
        ensure_data_dir(&dir).unwrap();
        let path = dir.join(KEYS_FILE);
        let short = format!("# c\nk1 {}\n", B64URL.encode([1u8; 31]));
        crate::atomic_file::write(&path, short.as_bytes(), 0o600).unwrap();
        assert!(matches!(Keyring::load(&dir), Err(KeyError::TooShort(_, 2))));
        crate::atomic_file::write(&path, b"k1 not*base64\n", 0o600).unwrap();
        assert!(matches!(
            Keyring::load(&dir),
            Err(KeyError::Malformed(_, 1))
        ));
        crate::atomic_file::write(&path, b"# only a comment\n", 0o600).unwrap();
        assert!(matches!(Keyring::load(&dir), Err(KeyError::Empty(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotation_keeps_old_keys_for_verification() {
        let dir = temp_dir("rotate");
        let (first, _) = Keyring::load_or_create(&dir).unwrap();
        let old_kid = first.current_kid().to_owned();
        let new_kid = Keyring::rotate(&dir).unwrap();
        assert_ne!(new_kid, old_kid);
        let ring = Keyring::load(&dir).unwrap();
        assert_eq!(ring.current_kid(), new_kid);
        let set = ring.key_set(Purpose::SessionCookie);
        assert_eq!(set.current().kid(), Some(new_kid.as_str()));
        let old = set.get(&old_kid).expect("old key still verifies");
        assert_eq!(
            old.fingerprint(),
            first
                .key_set(Purpose::SessionCookie)
                .current()
                .fingerprint()
        );
        for _ in 0..KEEP_ON_ROTATE {
            Keyring::rotate(&dir).unwrap();
        }
        let ring = Keyring::load(&dir).unwrap();
        assert_eq!(ring.key_set(Purpose::Csrf).iter().count(), KEEP_ON_ROTATE);
        assert!(ring.key_set(Purpose::Csrf).get(&old_kid).is_none());
        fs::remove_dir_all(&dir).unwrap();
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
