//! Password hashing: PBKDF2-HMAC-SHA256 in a PHC string, plus verification of the
//! PBKDF2-SHA256 hashes that Flask apps commonly stored, so a users table can be
//! imported as is and upgraded on the next successful login.
//!
//! latchkey produces only `$pbkdf2-sha256$i=N,l=32$<salt>$<hash>` (PHC base64: the
//! standard alphabet without padding, 16-byte random salt, 32-byte hash). It verifies:
//!
//! - its own PHC strings;
//! - Werkzeug's `pbkdf2:sha256:N$<salt>$<hex>`, where the salt *string's* bytes are
//!   the salt and the hash is 32 bytes in lowercase hex;
//! - passlib's `$pbkdf2-sha256$N$<salt>$<checksum>` in its "adapted base64" (`.`
//!   instead of `+`, no padding), the salt being the decoded bytes.
//!
//! Anything else (Werkzeug `scrypt`, bcrypt, argon2, PBKDF2 over other digests) is a
//! [`PasswordError::UnsupportedScheme`] naming the scheme, never a silent `false`.
//! Every stored string is bounded in length and iteration count before any work is
//! done, so a crafted users file cannot make a login spin for minutes.
//!
//! ```
//! use latchkey::password::{self, Policy};
//! let policy = Policy::default();
//! # let policy = Policy::insecure_for_tests(1000);
//! let stored = password::hash(b"correct horse", &policy).unwrap();
//! assert!(password::verify(b"correct horse", &stored).unwrap());
//! assert!(!password::verify(b"wrong horse", &stored).unwrap());
//! assert!(!password::needs_rehash(&stored, &policy));
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Fewest iterations a [`Policy`] may ask for when hashing a new password.
pub const MIN_ITERATIONS: u32 = 100_000;
/// Iterations of [`Policy::default`]: OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
/// Slow devices should run [`calibrate`] and store the result instead.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// Most iterations a stored hash may ask for; above this verification refuses to start,
/// so one crafted line cannot hold the single-threaded server for minutes.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Bytes of random salt in a new hash.
pub const SALT_LEN: usize = 16;
/// Bytes of derived key in every supported format (the SHA-256 digest size).
pub const HASH_LEN: usize = 32;
/// Longest salt accepted when verifying, in bytes.
pub const MAX_SALT_LEN: usize = 64;
/// Longest stored hash string accepted, in bytes.
pub const MAX_STORED_LEN: usize = 256;
/// How long [`calibrate`] aims for one hash to take by default.
pub const DEFAULT_TARGET: Duration = Duration::from_millis(250);

const PHC_PREFIX: &str = "$pbkdf2-sha256$";
const WERKZEUG_PREFIX: &str = "pbkdf2:sha256:";
// Longest scheme name echoed back in an error; longer ones are just a bad format.
const MAX_SCHEME_NAME: usize = 32;

/// Why a password could not be hashed or a stored hash could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// The stored hash is of a scheme latchkey does not verify; holds its name
    /// (e.g. `scrypt`, `bcrypt`, `argon2id`, `pbkdf2:sha1`, `pbkdf2-sha512`).
    UnsupportedScheme(String),
    /// The stored hash does not have the layout of any supported format.
    BadFormat,
    /// A salt or hash field is not valid (canonical, unpadded) base64.
    BadBase64,
    /// A Werkzeug hash field is not lowercase hexadecimal.
    BadHex,
    /// The iteration count is not a plain decimal in `1..=MAX_ITERATIONS`.
    BadIterations,
    /// The salt is empty or longer than [`MAX_SALT_LEN`] bytes.
    BadSaltLength,
    /// The hash (or the PHC `l=` parameter) is not [`HASH_LEN`] bytes.
    BadHashLength,
    /// The stored hash is longer than [`MAX_STORED_LEN`] bytes.
    TooLong,
    /// A policy was asked for with an iteration count outside
    /// `MIN_ITERATIONS..=MAX_ITERATIONS`; holds the count.
    PolicyOutOfRange(u32),
    /// The operating system gave no random bytes for a salt.
    Random,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::UnsupportedScheme(name) => {
                write!(f, "unsupported password hash scheme: {name}")
            }
            PasswordError::BadFormat => f.write_str("malformed password hash"),
            PasswordError::BadBase64 => f.write_str("bad base64 in password hash"),
            PasswordError::BadHex => f.write_str("bad hex in password hash"),
            PasswordError::BadIterations => write!(
                f,
                "password hash iteration count not in 1..={MAX_ITERATIONS}"
            ),
            PasswordError::BadSaltLength => {
                write!(f, "password hash salt not 1..={MAX_SALT_LEN} bytes")
            }
            PasswordError::BadHashLength => {
                write!(f, "password hash length not {HASH_LEN} bytes")
            }
            PasswordError::TooLong => {
                write!(f, "password hash longer than {MAX_STORED_LEN} bytes")
            }
            PasswordError::PolicyOutOfRange(n) => write!(
                f,
                "iteration count {n} not in {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            ),
            PasswordError::Random => f.write_str("operating system randomness unavailable"),
        }
    }
}

impl std::error::Error for PasswordError {}

/// How new passwords are hashed: the PBKDF2 iteration count.
///
/// Only [`Policy::new`] and [`Policy::default`] build a policy for real use, and both
/// keep the count at or above [`MIN_ITERATIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    iterations: u32,
}

impl Policy {
    /// A policy of `iterations` rounds, which must be in `MIN_ITERATIONS..=MAX_ITERATIONS`.
    ///
    /// ```
    /// use latchkey::password::{Policy, PasswordError};
    /// assert_eq!(Policy::new(200_000).unwrap().iterations(), 200_000);
    /// assert_eq!(Policy::new(1000), Err(PasswordError::PolicyOutOfRange(1000)));
    /// ```
    pub fn new(iterations: u32) -> Result<Policy, PasswordError> {
        if (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            Ok(Policy { iterations })
        } else {
            Err(PasswordError::PolicyOutOfRange(iterations))
        }
    }

    /// A policy below the minimum, so tests and benchmarks need not wait on real costs.
    /// Never use it for stored passwords. The count is clamped to `1..=MAX_ITERATIONS`.
    #[doc(hidden)]
    pub fn insecure_for_tests(iterations: u32) -> Policy {
        Policy {
            iterations: iterations.clamp(1, MAX_ITERATIONS),
        }
    }

    /// The PBKDF2 iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }
}

impl Default for Policy {
    /// [`DEFAULT_ITERATIONS`] rounds.
    fn default() -> Policy {
        Policy {
            iterations: DEFAULT_ITERATIONS,
        }
    }
}

/// Which layout a parsed hash came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// latchkey's own `$pbkdf2-sha256$i=N,l=32$salt$hash`.
    Phc,
    /// Werkzeug's `pbkdf2:sha256:N$salt$hexhash`.
    Werkzeug,
    /// passlib's `$pbkdf2-sha256$N$salt$checksum`.
    Passlib,
}

/// A stored hash taken apart: format, cost, salt and expected hash.
///
/// Its `Display` writes back exactly the string it was parsed from.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedHash {
    format: Format,
    iterations: u32,
    salt: Vec<u8>,
    hash: [u8; HASH_LEN],
}

impl ParsedHash {
    /// The layout the hash was stored in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The PBKDF2 iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The salt bytes as fed to PBKDF2.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// Whether `password` derives to the stored hash; the comparison is constant-time.
    ///
    /// ```
    /// let parsed = latchkey::password::parse(
    ///     "pbkdf2:sha256:1000$yEeu2lCh6f930e4D$fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5",
    /// ).unwrap();
    /// assert!(parsed.verify(b"correct horse battery staple"));
    /// ```
    pub fn verify(&self, password: &[u8]) -> bool {
        let derived = derive(password, &self.salt, self.iterations);
        derived.ct_eq(&self.hash).into()
    }
}

impl fmt::Debug for ParsedHash {
    // The salt and hash stay out of logs: they are what an offline attack needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedHash")
            .field("format", &self.format)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ParsedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format {
            Format::Phc => write!(
                f,
                "{PHC_PREFIX}i={},l={HASH_LEN}${}${}",
                self.iterations,
                STANDARD_NO_PAD.encode(&self.salt),
                STANDARD_NO_PAD.encode(self.hash)
            ),
            Format::Passlib => write!(
                f,
                "{PHC_PREFIX}{}${}${}",
                self.iterations,
                ab64_encode(&self.salt),
                ab64_encode(&self.hash)
            ),
            Format::Werkzeug => {
                // Parsing admitted only printable ASCII salts, so this is lossless.
                write!(
                    f,
                    "{WERKZEUG_PREFIX}{}${}$",
                    self.iterations,
                    String::from_utf8_lossy(&self.salt)
                )?;
                for b in self.hash {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// Hashes `password` with a fresh random salt into latchkey's PHC string.
///
/// ```
/// use latchkey::password::{self, Policy};
/// # let policy = Policy::insecure_for_tests(1000);
/// let stored = password::hash(b"hunter2", &policy).unwrap();
/// assert!(stored.starts_with("$pbkdf2-sha256$i=1000,l=32$"));
/// ```
pub fn hash(password: &[u8], policy: &Policy) -> Result<String, PasswordError> {
    let salt: [u8; SALT_LEN] = crate::random::array().map_err(|_| PasswordError::Random)?;
    let hash = derive(password, &salt, policy.iterations);
    Ok(ParsedHash {
        format: Format::Phc,
        iterations: policy.iterations,
        salt: salt.to_vec(),
        hash,
    }
    .to_string())
}

/// Whether `password` matches the `stored` hash (any supported format).
///
/// `Ok(false)` is a wrong password; an error means the stored string itself is
/// unusable, which callers should log as a configuration problem.
///
/// ```
/// use latchkey::password::{verify, PasswordError};
/// // Made by passlib 1.7.4: pbkdf2_sha256.using(rounds=2000).hash("hunter2").
/// let stored = "$pbkdf2-sha256$2000$r9Xa23svJeS8F0JoTQlhrA$L/ddx/0N4/0XW7WnIOws.d95s9UvW27ZIi6//kiLWXQ";
/// assert!(verify(b"hunter2", stored).unwrap());
/// assert_eq!(
///     verify(b"hunter2", "$2b$12$abcdefghijklmnopqrstuu"),
///     Err(PasswordError::UnsupportedScheme("bcrypt".into()))
/// );
/// ```
pub fn verify(password: &[u8], stored: &str) -> Result<bool, PasswordError> {
    Ok(parse(stored)?.verify(password))
}

/// Whether `stored` should be replaced by a fresh [`hash`] after the next successful
/// login: it is in a foreign or unusable format, its cost is below `policy`, or its
/// salt is shorter than latchkey's.
///
/// ```
/// use latchkey::password::{needs_rehash, Policy};
/// let policy = Policy::new(200_000).unwrap();
/// let werkzeug = "pbkdf2:sha256:1000$yEeu2lCh6f930e4D$fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5";
/// assert!(needs_rehash(werkzeug, &policy));
/// ```
pub fn needs_rehash(stored: &str, policy: &Policy) -> bool {
    match parse(stored) {
        Ok(p) => {
            p.format != Format::Phc || p.iterations < policy.iterations || p.salt.len() < SALT_LEN
        }
        Err(_) => true,
    }
}

/// Like [`verify`], but a wrong password costs at least one verification at `policy`'s
/// cost, whatever the cost of `stored`; so does an unusable `stored` (the error is
/// still returned). A hash imported with fewer iterations (Werkzeug's old 1,000,
/// passlib's defaults) must not make a failed login for its user answer sooner than
/// one for a user with a current hash, or for no user at all ([`dummy_verify`]).
///
/// A right password is not padded: it is answered no sooner either, because a weaker
/// hash is then replaced by a fresh [`hash`] at `policy`'s cost ([`needs_rehash`]).
///
/// ```
/// use latchkey::password::{verify_padded, Policy};
/// let werkzeug = "pbkdf2:sha256:1000$yEeu2lCh6f930e4D$fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5";
/// let policy = Policy::insecure_for_tests(5000);
/// assert_eq!(verify_padded(b"correct horse battery staple", werkzeug, &policy), Ok(true));
/// assert_eq!(verify_padded(b"wrong", werkzeug, &policy), Ok(false)); // 1000 + 4000 rounds
/// ```
pub fn verify_padded(
    password: &[u8],
    stored: &str,
    policy: &Policy,
) -> Result<bool, PasswordError> {
    let parsed = parse(stored);
    let (ok, spent) = match &parsed {
        Ok(p) => (p.verify(password), p.iterations),
        Err(_) => (false, 0),
    };
    burn(password, padding(ok, spent, policy));
    parsed.map(|_| ok)
}

/// Iterations still to spend after a verification that spent `spent`: a failure is
/// brought up to `policy`'s cost, a success is not padded.
fn padding(ok: bool, spent: u32, policy: &Policy) -> u32 {
    if ok {
        0
    } else {
        policy.iterations.saturating_sub(spent)
    }
}

/// Does the work of one verification at `policy`'s cost and discards the result, so a
/// login for an unknown user takes as long as a wrong password for a real one.
///
/// ```
/// use latchkey::password::{dummy_verify, Policy};
/// dummy_verify(b"guess", &Policy::insecure_for_tests(1000));
/// ```
pub fn dummy_verify(password: &[u8], policy: &Policy) {
    burn(password, policy.iterations);
}

/// Runs `iterations` rounds of PBKDF2 over `password` and a fixed salt, and compares
/// the result with a fixed hash: the work of a verification whose answer is no.
fn burn(password: &[u8], iterations: u32) {
    const DUMMY_SALT: [u8; SALT_LEN] = [0x5a; SALT_LEN];
    const DUMMY_HASH: [u8; HASH_LEN] = [0xa5; HASH_LEN];
    if iterations == 0 {
        return;
    }
    let derived = derive(password, &DUMMY_SALT, iterations);
    let matched: bool = derived.ct_eq(&DUMMY_HASH).into();
    // Keeps the optimiser from proving the work unused and deleting it.
    std::hint::black_box(matched);
}

/// The outcome of [`calibrate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// The chosen iteration count, in `MIN_ITERATIONS..=MAX_ITERATIONS`.
    pub iterations: u32,
    /// How long one hash at that count took on this machine.
    pub measured: Duration,
}

/// Picks the iteration count whose hash takes about `target` on this machine.
///
/// It times a moderate count, scales it to `target`, rounds up to a multiple of 1000,
/// clamps to `MIN_ITERATIONS..=MAX_ITERATIONS`, then times one hash at the chosen count
/// so the report shows what a login will really cost.
///
/// ```
/// use latchkey::password::{calibrate, MIN_ITERATIONS};
/// use std::time::Duration;
/// let c = calibrate(Duration::from_millis(1));
/// assert!(c.iterations >= MIN_ITERATIONS);
/// ```
pub fn calibrate(target: Duration) -> Calibration {
    const PROBE: u32 = 20_000;
    const STEP: f64 = 1000.0;
    let salt = [0u8; SALT_LEN];
    // The first run warms caches and CPU frequency; only the second is timed.
    std::hint::black_box(derive(b"calibration", &salt, PROBE / 10));
    let started = Instant::now();
    std::hint::black_box(derive(b"calibration", &salt, PROBE));
    let probe = started.elapsed().as_secs_f64();
    let scaled = if probe > 0.0 {
        target.as_secs_f64() / probe * f64::from(PROBE)
    } else {
        f64::from(MAX_ITERATIONS)
    };
    // `as` saturates (and maps NaN to 0); the clamp then bounds it either way.
    let iterations = ((scaled / STEP).ceil() * STEP) as u32;
    let iterations = iterations.clamp(MIN_ITERATIONS, MAX_ITERATIONS);
    let started = Instant::now();
    std::hint::black_box(derive(b"calibration", &salt, iterations));
    Calibration {
        iterations,
        measured: started.elapsed(),
    }
}

/// Takes a stored hash string apart, checking every field and bound; no hashing.
///
/// ```
/// use latchkey::password::{parse, Format, PasswordError};
/// let p = parse("$pbkdf2-sha256$i=1000,l=32$ng9XySauOjl6Bi4x0O/dAA$Z0rAr6zNcv0C20fm9MwPoG9P2MLYOkk10kMnDh+aw9A").unwrap();
/// assert_eq!((p.format(), p.iterations()), (Format::Phc, 1000));
/// assert_eq!(parse("scrypt:32768:8:1$salt$00"), Err(PasswordError::UnsupportedScheme("scrypt".into())));
/// ```
pub fn parse(stored: &str) -> Result<ParsedHash, PasswordError> {
    if stored.len() > MAX_STORED_LEN {
        return Err(PasswordError::TooLong);
    }
    match stored.strip_prefix('$') {
        Some(rest) => parse_dollar(rest),
        None => parse_werkzeug(stored),
    }
}

// `rest` is everything after the leading `$`: `<id>$<params>$<salt>$<hash>`.
fn parse_dollar(rest: &str) -> Result<ParsedHash, PasswordError> {
    let (id, fields) = rest.split_once('$').unwrap_or((rest, ""));
    if id != "pbkdf2-sha256" {
        return Err(unsupported_dollar(id));
    }
    let (params, salt, hash) = three_fields(fields)?;
    if let Some(params) = params.strip_prefix("i=") {
        let (iterations, length) = params.split_once(",l=").ok_or(PasswordError::BadFormat)?;
        let iterations = parse_iterations(iterations)?;
        if length != "32" {
            return Err(
                if length.bytes().all(|b| b.is_ascii_digit()) && !length.is_empty() {
                    PasswordError::BadHashLength
                } else {
                    PasswordError::BadFormat
                },
            );
        }
        let salt = decode_salt(STANDARD_NO_PAD.decode(salt))?;
        let hash = decode_hash(STANDARD_NO_PAD.decode(hash))?;
        Ok(ParsedHash {
            format: Format::Phc,
            iterations,
            salt,
            hash,
        })
    } else {
        let iterations = parse_iterations(params)?;
        let salt = decode_salt(ab64_decode(salt))?;
        let hash = decode_hash(ab64_decode(hash))?;
        Ok(ParsedHash {
            format: Format::Passlib,
            iterations,
            salt,
            hash,
        })
    }
}

fn parse_werkzeug(stored: &str) -> Result<ParsedHash, PasswordError> {
    let (method, fields) = stored.split_once('$').ok_or(PasswordError::BadFormat)?;
    let Some(iterations) = method.strip_prefix(WERKZEUG_PREFIX) else {
        return Err(unsupported_werkzeug(method));
    };
    let iterations = parse_iterations(iterations)?;
    let mut parts = fields.split('$');
    let (Some(salt), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(PasswordError::BadFormat);
    };
    // Werkzeug salts are alphanumeric; admitting only printable ASCII keeps the string
    // free of spaces (the users file's separator) and makes `Display` lossless.
    if !salt.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PasswordError::BadFormat);
    }
    if salt.is_empty() || salt.len() > MAX_SALT_LEN {
        return Err(PasswordError::BadSaltLength);
    }
    Ok(ParsedHash {
        format: Format::Werkzeug,
        iterations,
        salt: salt.as_bytes().to_vec(),
        hash: decode_hex(hex)?,
    })
}

fn three_fields(fields: &str) -> Result<(&str, &str, &str), PasswordError> {
    let mut parts = fields.split('$');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c), None) => Ok((a, b, c)),
        _ => Err(PasswordError::BadFormat),
    }
}

// A plain decimal: no sign, no leading zero, in 1..=MAX_ITERATIONS, so that it
// re-serialises to the same text.
fn parse_iterations(text: &str) -> Result<u32, PasswordError> {
    if text.is_empty()
        || text.len() > 10
        || text.starts_with('0')
        || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(PasswordError::BadIterations);
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_ITERATIONS).contains(&n) => Ok(n),
        _ => Err(PasswordError::BadIterations),
    }
}

fn decode_salt(decoded: Result<Vec<u8>, base64::DecodeError>) -> Result<Vec<u8>, PasswordError> {
    let salt = decoded.map_err(|_| PasswordError::BadBase64)?;
    if salt.is_empty() || salt.len() > MAX_SALT_LEN {
        return Err(PasswordError::BadSaltLength);
    }
    Ok(salt)
}

fn decode_hash(
    decoded: Result<Vec<u8>, base64::DecodeError>,
) -> Result<[u8; HASH_LEN], PasswordError> {
    let hash = decoded.map_err(|_| PasswordError::BadBase64)?;
    hash.try_into().map_err(|_| PasswordError::BadHashLength)
}

fn decode_hex(hex: &str) -> Result<[u8; HASH_LEN], PasswordError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) || !bytes.iter().all(|&c| nibble(c).is_some()) {
        return Err(PasswordError::BadHex);
    }
    if bytes.len() != 2 * HASH_LEN {
        return Err(PasswordError::BadHashLength);
    }
    let mut out = [0u8; HASH_LEN];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        if let [hi, lo] = *pair {
            *byte = (nibble(hi).unwrap_or(0) << 4) | nibble(lo).unwrap_or(0);
        }
    }
    Ok(out)
}

// passlib's "adapted base64": the standard alphabet with `.` for `+`, no padding.
// A literal `+` is refused: passlib never writes one.
fn ab64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if let Some(at) = text.find('+') {
        return Err(base64::DecodeError::InvalidByte(at, b'+'));
    }
    STANDARD_NO_PAD.decode(text.replace('.', "+"))
}

fn ab64_encode(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes).replace('+', ".")
}

fn unsupported_dollar(id: &str) -> PasswordError {
    let name = match id {
        "2" | "2a" | "2b" | "2x" | "2y" => "bcrypt",
        "1" => "md5-crypt",
        "5" => "sha256-crypt",
        "6" => "sha512-crypt",
        "y" => "yescrypt",
        "pbkdf2" => "pbkdf2-sha1",
        other => other,
    };
    scheme_error(name, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
    })
}

fn unsupported_werkzeug(method: &str) -> PasswordError {
    // `scrypt:32768:8:1` names `scrypt`; `pbkdf2:sha1:1000` names `pbkdf2:sha1`.
    let mut parts = method.splitn(3, ':');
    let pbkdf2_name;
    let name = match (parts.next(), parts.next()) {
        (Some("pbkdf2"), Some(digest)) if digest != "sha256" => {
            pbkdf2_name = format!("pbkdf2:{digest}");
            pbkdf2_name.as_str()
        }
        // `pbkdf2:sha256` without a count, or bare `pbkdf2`: ours, but incomplete.
        (Some("pbkdf2"), _) => return PasswordError::BadFormat,
        (Some(first), _) => first,
        (None, _) => return PasswordError::BadFormat,
    };
    scheme_error(name, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b':'
    })
}

// Only short, tame names are echoed back: the string came from a file an attacker
// may have shaped, and error messages end up in logs.
fn scheme_error(name: &str, allowed: impl Fn(u8) -> bool) -> PasswordError {
    if name.is_empty() || name.len() > MAX_SCHEME_NAME || !name.bytes().all(allowed) {
        PasswordError::BadFormat
    } else {
        PasswordError::UnsupportedScheme(name.to_owned())
    }
}

fn derive(password: &[u8], salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Policy {
        Policy::insecure_for_tests(1000)
    }

    // Generated with Werkzeug 3.1.9 (Python 3.11):
    // generate_password_hash(pw, method="pbkdf2:sha256:N"), each checked with
    // check_password_hash before being copied here.
    const WERKZEUG: &[(&str, &str)] = &[
        (
            "correct horse battery staple",
            "pbkdf2:sha256:1000$yEeu2lCh6f930e4D$fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5",
        ),
        (
            "hunter2",
            "pbkdf2:sha256:2000$P0cvVYCQ7GHA0QcY$d963ba1d19192a0d8c4bf0bfeb9eb6fa0c369b742da120cb88f5ab09dde13e1c",
        ),
        (
            "pässwörd 🔑",
            "pbkdf2:sha256:1000$Loy47Stp0gncd1TJ$f7d1b8b6225a9145a9809dcdf468c52d9a6cdb472d702d5332a29312482a2b00",
        ),
    ];

    // Generated with passlib 1.7.4: pbkdf2_sha256.using(rounds=N).hash(pw), each
    // checked with pbkdf2_sha256.verify. The second has `.` (passlib's `+`) in it.
    const PASSLIB: &[(&str, &str)] = &[
        (
            "correct horse battery staple",
            "$pbkdf2-sha256$1000$NMa4VyolxNh7j1FK6V0LYQ$V/ZsG/gbJqjZqwXF2N5aDg4a681uIuBlRmOtWTwlxjc",
        ),
        (
            "hunter2",
            "$pbkdf2-sha256$2000$r9Xa23svJeS8F0JoTQlhrA$L/ddx/0N4/0XW7WnIOws.d95s9UvW27ZIi6//kiLWXQ",
        ),
        (
            "pässwörd 🔑",
            "$pbkdf2-sha256$1000$lXJOSQmBsBaCMAZAyLl3Lg$b04P0HXNQ0pVj0oPdCGdeg0wY29Z8HzsV4reH/Yygl8",
        ),
    ];

    // Made with Python's hashlib.pbkdf2_hmac("sha256", pw, salt, N) and formatted
    // by hand as PHC (standard base64, padding stripped): an independent check of
    // our own format.
    const PHC: &[(&str, &str)] = &[(
        "correct horse battery staple",
        "$pbkdf2-sha256$i=1000,l=32$ng9XySauOjl6Bi4x0O/dAA$Z0rAr6zNcv0C20fm9MwPoG9P2MLYOkk10kMnDh+aw9A",
    )];

    #[test]
    fn failures_are_padded_to_the_policy_cost() {
        let policy = Policy::default();
        let werkzeug = parse(WERKZEUG[0].1).unwrap();
        assert_eq!(werkzeug.iterations(), 1000);
        // A wrong password against a 1,000-round hash spends the other 599,000.
        assert_eq!(padding(false, werkzeug.iterations(), &policy), 599_000);
        // An unusable stored hash, like an unknown user, spends the whole cost.
        assert_eq!(padding(false, 0, &policy), DEFAULT_ITERATIONS);
        // A right password is not padded (a weaker hash is then rehashed instead).
        assert_eq!(padding(true, 1000, &policy), 0);
        // A stored hash at or above the policy needs nothing more.
        assert_eq!(padding(false, DEFAULT_ITERATIONS, &policy), 0);
        assert_eq!(padding(false, MAX_ITERATIONS, &policy), 0);
    }

    #[test]
    fn verify_padded_answers_as_verify_does() {
        let policy = Policy::insecure_for_tests(3000);
        for (password, stored) in WERKZEUG.iter().chain(PASSLIB).chain(PHC) {
            assert_eq!(
                verify_padded(password.as_bytes(), stored, &policy),
                Ok(true),
                "{stored}"
            );
            assert_eq!(verify_padded(b"not it", stored, &policy), Ok(false));
        }
        assert_eq!(
            verify_padded(b"hunter2", "$2b$12$abcdefghijklmnopqrstuu", &policy),
            Err(PasswordError::UnsupportedScheme("bcrypt".into()))
        );
    }

    #[test]
    fn verifies_werkzeug_passlib_and_phc_vectors() {
        for (password, stored) in WERKZEUG.iter().chain(PASSLIB).chain(PHC) {
            assert_eq!(verify(password.as_bytes(), stored), Ok(true), "{stored}");
            assert_eq!(verify(b"not it", stored), Ok(false), "{stored}");
        }
    }

    #[test]
    fn derive_matches_rfc7914_pbkdf2_sha256_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64); first 32 bytes.
        let got = derive(b"passwd", b"salt", 1);
        let want: [u8; 32] = [
            0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91, 0xc2, 0x25, 0x44,
            0xb6, 0x05, 0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde, 0x04, 0x65, 0xe6, 0x8b, 0x9d, 0x57,
            0xc2, 0x0d, 0xac, 0xbc,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn every_format_reserialises_identically() {
        for (_, stored) in WERKZEUG.iter().chain(PASSLIB).chain(PHC) {
            assert_eq!(parse(stored).unwrap().to_string(), *stored);
        }
    }

    #[test]
    fn formats_are_told_apart() {
        assert_eq!(parse(WERKZEUG[0].1).unwrap().format(), Format::Werkzeug);
        assert_eq!(parse(PASSLIB[0].1).unwrap().format(), Format::Passlib);
        assert_eq!(parse(PHC[0].1).unwrap().format(), Format::Phc);
        // Werkzeug's salt string is used as is, not decoded.
        assert_eq!(parse(WERKZEUG[0].1).unwrap().salt(), b"yEeu2lCh6f930e4D");
    }

    #[test]
    fn hash_produces_phc_with_fresh_salt_that_verifies() {
        let a = hash(b"pw", &quick()).unwrap();
        let b = hash(b"pw", &quick()).unwrap();
        assert_ne!(a, b, "salts must differ");
        let parsed = parse(&a).unwrap();
        assert_eq!(parsed.format(), Format::Phc);
        assert_eq!(parsed.iterations(), 1000);
        assert_eq!(parsed.salt().len(), SALT_LEN);
        assert!(a.starts_with("$pbkdf2-sha256$i=1000,l=32$"));
        assert_eq!(verify(b"pw", &a), Ok(true));
        assert_eq!(verify(b"pW", &a), Ok(false));
    }

    #[test]
    fn unsupported_schemes_are_named() {
        let cases = [
            (
                "scrypt:32768:8:1$r5RcN3WFC8c8CYk8$b6dff649b3cf6f2e3e06164cb8c55eb5",
                "scrypt",
            ),
            (
                "pbkdf2:sha1:1000$j4g8qB2QOEc5g8TS$4bf48eceaf43f881d7537ebaceb1f2a633967598",
                "pbkdf2:sha1",
            ),
            ("pbkdf2:sha512:1000$abc$00", "pbkdf2:sha512"),
            (
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                "bcrypt",
            ),
            (
                "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
                "argon2id",
            ),
            ("$pbkdf2-sha512$25000$abc$def", "pbkdf2-sha512"),
            ("$pbkdf2$1000$abc$def", "pbkdf2-sha1"),
            ("$6$salt$hash", "sha512-crypt"),
            ("sha256$salt$hash", "sha256"),
        ];
        for (stored, name) in cases {
            assert_eq!(
                parse(stored),
                Err(PasswordError::UnsupportedScheme(name.into())),
                "{stored}"
            );
            assert_eq!(
                verify(b"x", stored),
                Err(PasswordError::UnsupportedScheme(name.into()))
            );
        }
    }

    #[test]
    fn malformed_strings_get_precise_errors() {
        let salt = "ng9XySauOjl6Bi4x0O/dAA";
        let hash = "Z0rAr6zNcv0C20fm9MwPoG9P2MLYOkk10kMnDh+aw9A";
        let hex = "fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5";
        let cases: Vec<(String, PasswordError)> = vec![
            ("".into(), PasswordError::BadFormat),
            ("plaintext".into(), PasswordError::BadFormat),
            ("$".into(), PasswordError::BadFormat),
            ("$pbkdf2-sha256$".into(), PasswordError::BadFormat),
            (
                format!("$pbkdf2-sha256$i=1000,l=32${salt}"),
                PasswordError::BadFormat,
            ),
            (
                format!("$pbkdf2-sha256$i=1000,l=32${salt}${hash}$"),
                PasswordError::BadFormat,
            ),
            (
                format!("$pbkdf2-sha256$i=1000${salt}${hash}"),
                PasswordError::BadFormat,
            ),
            (
                format!("$pbkdf2-sha256$l=32,i=1000${salt}${hash}"),
                PasswordError::BadIterations,
            ),
            (
                format!("$pbkdf2-sha256$i=1000,l=64${salt}${hash}"),
                PasswordError::BadHashLength,
            ),
            (
                format!("$pbkdf2-sha256$i=0,l=32${salt}${hash}"),
                PasswordError::BadIterations,
            ),
            (
                format!("$pbkdf2-sha256$i=01000,l=32${salt}${hash}"),
                PasswordError::BadIterations,
            ),
            (
                format!("$pbkdf2-sha256$i=+1000,l=32${salt}${hash}"),
                PasswordError::BadIterations,
            ),
            (
                format!("$pbkdf2-sha256$i=10000001,l=32${salt}${hash}"),
                PasswordError::BadIterations,
            ),
            (
                format!("$pbkdf2-sha256$i=99999999999,l=32${salt}${hash}"),
                PasswordError::BadIterations,
            ),
            (
                format!("$pbkdf2-sha256$i=1000,l=32${salt}=${hash}"),
                PasswordError::BadBase64,
            ),
            (
                format!("$pbkdf2-sha256$i=1000,l=32${salt}$!{hash}"),
                PasswordError::BadBase64,
            ),
            (
                format!("$pbkdf2-sha256$i=1000,l=32$${hash}"),
                PasswordError::BadSaltLength,
            ),
            (
                format!("$pbkdf2-sha256$i=1000,l=32${salt}$AAAA"),
                PasswordError::BadHashLength,
            ),
            // Non-canonical trailing bits would break exact re-serialisation.
            (
                format!("$pbkdf2-sha256$i=1000,l=32$ng9XySauOjl6Bi4x0O/dAB${hash}"),
                PasswordError::BadBase64,
            ),
            // passlib's alphabet has `.`, never `+`.
            (
                format!("$pbkdf2-sha256$1000${salt}${hash}"),
                PasswordError::BadBase64,
            ),
            (
                format!("$pbkdf2-sha256$x${salt}${hash}"),
                PasswordError::BadIterations,
            ),
            (
                format!("pbkdf2:sha256:1000$salt${}", hex.to_uppercase()),
                PasswordError::BadHex,
            ),
            (
                format!("pbkdf2:sha256:1000$salt${}", &hex[1..]),
                PasswordError::BadHex,
            ),
            (
                format!("pbkdf2:sha256:1000$salt${}", &hex[2..]),
                PasswordError::BadHashLength,
            ),
            (
                format!("pbkdf2:sha256:1000$${hex}"),
                PasswordError::BadSaltLength,
            ),
            (
                format!("pbkdf2:sha256:1000$sa lt${hex}"),
                PasswordError::BadFormat,
            ),
            (
                format!("pbkdf2:sha256:1000$salt${hex}$x"),
                PasswordError::BadFormat,
            ),
            (
                format!("pbkdf2:sha256:0$salt${hex}"),
                PasswordError::BadIterations,
            ),
            (
                format!("pbkdf2:sha256$salt${hex}"),
                PasswordError::BadFormat,
            ),
            ("pbkdf2:sha256:1000$salt".into(), PasswordError::BadFormat),
            (
                format!("pbkdf2:sha256:1000${}${hex}", "s".repeat(65)),
                PasswordError::BadSaltLength,
            ),
            ("$".repeat(MAX_STORED_LEN + 1), PasswordError::TooLong),
            ("$BCRYPT$x".into(), PasswordError::BadFormat),
        ];
        for (stored, want) in cases {
            assert_eq!(parse(&stored), Err(want), "{stored:?}");
        }
    }

    #[test]
    fn policy_enforces_minimum() {
        assert_eq!(
            Policy::new(MIN_ITERATIONS - 1),
            Err(PasswordError::PolicyOutOfRange(MIN_ITERATIONS - 1))
        );
        assert_eq!(
            Policy::new(MAX_ITERATIONS + 1),
            Err(PasswordError::PolicyOutOfRange(MAX_ITERATIONS + 1))
        );
        assert_eq!(
            Policy::new(MIN_ITERATIONS).unwrap().iterations(),
            MIN_ITERATIONS
        );
        assert_eq!(Policy::default().iterations(), DEFAULT_ITERATIONS);
        const { assert!(DEFAULT_ITERATIONS >= MIN_ITERATIONS) };
        assert_eq!(Policy::insecure_for_tests(0).iterations(), 1);
    }

    #[test]
    fn needs_rehash_for_foreign_formats_and_lower_cost() {
        let policy = Policy::insecure_for_tests(2000);
        let low = hash(b"pw", &quick()).unwrap();
        let same = hash(b"pw", &policy).unwrap();
        assert!(needs_rehash(&low, &policy));
        assert!(!needs_rehash(&same, &policy));
        assert!(!needs_rehash(&same, &quick()), "a higher cost is kept");
        // passlib and Werkzeug at the policy's cost still move to PHC.
        assert!(needs_rehash(PASSLIB[1].1, &policy));
        assert!(needs_rehash(WERKZEUG[1].1, &policy));
        assert!(needs_rehash("$2b$12$whatever", &policy));
        assert!(needs_rehash("garbage", &policy));
    }

    #[test]
    fn debug_of_parsed_hash_hides_salt_and_hash() {
        let shown = format!("{:?}", parse(PHC[0].1).unwrap());
        assert!(
            !shown.contains("ng9X") && !shown.contains("salt"),
            "{shown}"
        );
        assert!(shown.contains("1000"));
    }

    #[test]
    fn dummy_verify_and_calibrate_run() {
        dummy_verify(b"anything", &quick());
        let c = calibrate(Duration::from_millis(1));
        assert_eq!(
            c.iterations, MIN_ITERATIONS,
            "a tiny target clamps to the floor"
        );
        assert_eq!(c.iterations % 1000, 0);
    }

    #[test]
    fn error_display_never_echoes_the_hash() {
        let err = parse("pbkdf2:sha256:1000$secretsalt$zz").unwrap_err();
        assert!(!err.to_string().contains("secretsalt"));
        assert_eq!(err.to_string(), "bad hex in password hash");
    }
}
