//! HS256 JSON Web Tokens (RFC 7519 / RFC 7515), written by hand, strict and total.
//!
//! Only one algorithm exists here: HMAC-SHA256 with a key of the
//! [`Purpose::ApiToken`](crate::keys::Purpose) key set. Verification refuses anything
//! a careful reader could interpret two ways: non-canonical base64, duplicate JSON keys
//! at any depth, `crit`, any `alg` but `HS256`, unknown key ids. The MAC is checked in
//! constant time over the token's exact bytes before any claim is looked at.
//! [`verify`] returns owned [`Claims`] with every claim; [`verify_view`], the request
//! hot path, runs the very same checks and borrows the claims a request needs.
//!
//! ```
//! use latchkey::jwt::{self, Claims, TokenError, TokenType, Validation};
//! use latchkey::keys::{Keyring, Purpose};
//!
//! let keys = Keyring::from_master("k1", &[7u8; 32]).unwrap().key_set(Purpose::ApiToken);
//! let now = 1_700_000_000;
//! let claims = Claims::new_token("admin", now, 900, "jti-1", TokenType::Access);
//! let token = jwt::sign(&claims, keys.current());
//! let back = jwt::verify(&token, &keys, &Validation::default(), now + 60).unwrap();
//! assert_eq!(back, claims);
//! let late = jwt::verify(&token, &keys, &Validation::default(), now + 901 + 10);
//! assert_eq!(late, Err(TokenError::Expired));
//! ```

use crate::b64url as b64;
mod claims;
pub(crate) mod strict_json;

use std::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::Mac;

use crate::keys::{Key, KeySet, MAX_KID_LEN};
pub use claims::{Audiences, Claims, ClaimsView, MAX_NUMERIC_DATE, TokenType};
pub(crate) use claims::{scan_flat, scan_owned};
use strict_json::{JsonError, Raw};

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Deepest nesting of objects and arrays accepted in a header or payload.
pub const MAX_JSON_DEPTH: usize = 16;
/// Default clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: u64 = 10;

/// Length of an HS256 tag.
const TAG_LEN: usize = 32;
/// Characters of an HS256 tag in unpadded base64url.
const TAG_B64_LEN: usize = 43;

/// Base64url as JWS requires it, and canonical: no padding, no `+`/`/`, no
/// whitespace, zero trailing bits, so each byte string has exactly one encoding.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Room for a decoded header or payload on the stack; larger ones go to the heap.
const INLINE_SEGMENT: usize = 512;

/// Why a token was refused. Display texts are short and never include the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is longer than [`MAX_TOKEN_LEN`].
    TooLong,
    /// The token does not have exactly three dot-separated segments.
    SegmentCount,
    /// A segment is empty (including a stripped signature).
    EmptySegment,
    /// A segment is not canonical unpadded base64url.
    BadBase64,
    /// The header or payload is not well-formed UTF-8 JSON.
    BadJson,
    /// The header or payload is JSON but not an object.
    NotObject,
    /// A JSON object holds the same key twice, at any depth.
    DuplicateKey,
    /// The header or payload nests deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
    /// The header has no `alg`.
    MissingAlg,
    /// `alg` is anything but `HS256` (`none` in every spelling included).
    UnsupportedAlg,
    /// The header has a `crit` member; no extension is understood.
    CritPresent,
    /// `typ` is present but not `JWT`.
    BadTyp,
    /// `kid` is not a short printable name.
    BadKid,
    /// `kid` names no key of the key set.
    UnknownKid,
    /// The MAC does not match (or the tag is not 32 bytes).
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `aud` does not name the expected audience, or names one when none is expected.
    WrongAudience,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `type` is not the expected token type.
    WrongTokenType,
    /// A required claim is absent.
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or is out of range.
    WrongType(&'static str),
    /// `sub` and Flask-JWT's `identity` are both present but do not name the same
    /// user (or `identity` is not a string): an app reading either must see one user.
    ConflictingSubject,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TokenError::TooLong => "token too long",
            TokenError::SegmentCount => "token must have three segments",
            TokenError::EmptySegment => "empty token segment",
            TokenError::BadBase64 => "bad base64url",
            TokenError::BadJson => "bad json",
            TokenError::NotObject => "json is not an object",
            TokenError::DuplicateKey => "duplicate json key",
            TokenError::TooDeep => "json nested too deep",
            TokenError::MissingAlg => "missing alg",
            TokenError::UnsupportedAlg => "unsupported alg",
            TokenError::CritPresent => "crit header not supported",
            TokenError::BadTyp => "bad typ",
            TokenError::BadKid => "bad kid",
            TokenError::UnknownKid => "unknown kid",
            TokenError::BadSignature => "bad signature",
            TokenError::Expired => "token expired",
            TokenError::NotYetValid => "token not yet valid",
            TokenError::IssuedInFuture => "token issued in the future",
            TokenError::WrongAudience => "wrong audience",
            TokenError::WrongIssuer => "wrong issuer",
            TokenError::WrongTokenType => "wrong token type",
            TokenError::ConflictingSubject => "sub and identity differ",
            TokenError::MissingClaim(name) => return write!(f, "missing claim {name}"),
            TokenError::WrongType(name) => return write!(f, "claim {name} has the wrong type"),
        };
        f.write_str(text)
    }
}

impl std::error::Error for TokenError {}

impl From<JsonError> for TokenError {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::Syntax => TokenError::BadJson,
            JsonError::Duplicate => TokenError::DuplicateKey,
            JsonError::TooDeep => TokenError::TooDeep,
            JsonError::NotObject => TokenError::NotObject,
        }
    }
}

/// What a token's claims must satisfy besides a valid MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: u64,
    /// Whether a token without `exp` is refused.
    pub require_exp: bool,
    /// The required `iss`, if any.
    pub issuer: Option<String>,
    /// The audience we are: `aud` must name it. When `None`, a token that carries an
    /// `aud` is refused (RFC 7519 §4.1.3: it was meant for someone else).
    pub audience: Option<String>,
    /// The required `type` claim, if any.
    pub token_type: Option<TokenType>,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            leeway: DEFAULT_LEEWAY,
            require_exp: true,
            issuer: None,
            audience: None,
            token_type: None,
        }
    }
}

impl Validation {
    /// Checks time, issuer, audience and type of already authenticated `claims` at
    /// `now` (unix seconds).
    ///
    /// ```
    /// use latchkey::jwt::{Claims, TokenError, TokenType, Validation};
    /// let c = Claims::new_token("a", 100, 60, "j", TokenType::Refresh);
    /// let want_access = Validation { token_type: Some(TokenType::Access), ..Validation::default() };
    /// assert_eq!(want_access.validate(&c, 120), Err(TokenError::WrongTokenType));
    /// ```
    pub fn validate(&self, claims: &Claims, now: u64) -> Result<(), TokenError> {
        self.validate_view(&claims.view(), now)
    }

    /// [`Validation::validate`] for borrowed claims: the one implementation of the
    /// claim checks, shared by [`verify`] and [`verify_view`].
    ///
    /// ```
    /// use latchkey::jwt::{Claims, TokenError, TokenType, Validation};
    /// let c = Claims::new_token("a", 100, 60, "j", TokenType::Access);
    /// assert_eq!(Validation::default().validate_view(&c.view(), 170), Err(TokenError::Expired));
    /// ```
    pub fn validate_view(&self, claims: &ClaimsView<'_>, now: u64) -> Result<(), TokenError> {
        match claims.exp {
            Some(exp) if now >= exp.saturating_add(self.leeway) => {
                return Err(TokenError::Expired);
            }
            None if self.require_exp => return Err(TokenError::MissingClaim("exp")),
            _ => {}
        }
        let horizon = now.saturating_add(self.leeway);
        if claims.nbf.is_some_and(|nbf| nbf > horizon) {
            return Err(TokenError::NotYetValid);
        }
        if claims.iat.is_some_and(|iat| iat > horizon) {
            return Err(TokenError::IssuedInFuture);
        }
        if let Some(want) = &self.issuer {
            match &claims.iss {
                None => return Err(TokenError::MissingClaim("iss")),
                Some(iss) if iss != want => return Err(TokenError::WrongIssuer),
                Some(_) => {}
            }
        }
        match &self.audience {
            Some(_) if claims.aud.is_empty() => return Err(TokenError::MissingClaim("aud")),
            Some(want) if !claims.aud.contains(want) => {
                return Err(TokenError::WrongAudience);
            }
            None if !claims.aud.is_empty() => return Err(TokenError::WrongAudience),
            _ => {}
        }
        if let Some(want) = self.token_type {
            match claims.token_type {
                None => return Err(TokenError::MissingClaim("type")),
                Some(t) if t != want => return Err(TokenError::WrongTokenType),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Signs `claims` with `key` as an HS256 JWT. The header is
/// `{"alg":"HS256","typ":"JWT","kid":…}`, `kid` only when the key has one.
///
/// ```
/// use latchkey::jwt::{self, Claims, TokenType};
/// use latchkey::keys::KeySet;
/// let keys = KeySet::shared_secret(b"secret").unwrap();
/// let token = jwt::sign(&Claims::new_token("u", 1, 60, "j", TokenType::Access), keys.current());
/// assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
/// ```
pub fn sign(claims: &Claims, key: &Key) -> String {
    let header = match key.kid() {
        // Kids are restricted to [A-Za-z0-9_-] by `keys`, but escape anyway: a header
        // must stay valid JSON whatever a future key id looks like.
        Some(kid) => format!(
            r#"{{"alg":"HS256","typ":"JWT","kid":{}}}"#,
            serde_json::Value::String(kid.to_owned())
        ),
        None => r#"{"alg":"HS256","typ":"JWT"}"#.to_owned(),
    };
    sign_parts(header.as_bytes(), claims.to_json().as_bytes(), key)
}

/// `b64(header).b64(payload).b64(HS256 tag)` over arbitrary header and payload bytes.
pub(crate) fn sign_parts(header: &[u8], payload: &[u8], key: &Key) -> String {
    let mut token = B64.encode(header);
    token.push('.');
    B64.encode_string(payload, &mut token);
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    let tag = mac.finalize().into_bytes();
    token.push('.');
    B64.encode_string(tag, &mut token);
    token
}

/// Verifies an HS256 token against `keys` and `validation` at `now` (unix seconds)
/// and returns its claims.
///
/// Order: shape and length, header (alg, crit, typ, kid → key), MAC in constant time
/// over the exact signing input, then payload JSON and claims, then `validation`.
///
/// ```
/// use latchkey::jwt::{self, TokenError, Validation};
/// use latchkey::keys::KeySet;
/// let keys = KeySet::shared_secret(b"secret").unwrap();
/// let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
/// assert_eq!(jwt::verify(none, &keys, &Validation::default(), 0), Err(TokenError::UnsupportedAlg));
/// ```
pub fn verify(
    token: &str,
    keys: &KeySet,
    validation: &Validation,
    now: u64,
) -> Result<Claims, TokenError> {
    let claims = authenticate(token, keys)?;
    validation.validate(&claims, now)?;
    Ok(claims)
}

/// [`verify`] without building owned claims: the same checks in the same order with
/// the same errors, but the claims come back borrowed from `scratch`, which holds the
/// decoded payload. Reuse one `scratch` across calls and verification allocates
/// nothing (a string claim written with JSON escapes is the one exception).
///
/// This is the request hot path; [`verify`] is for when every claim is wanted
/// (e.g. printing them with [`Claims::to_json`]).
///
/// ```
/// use latchkey::jwt::{self, Claims, TokenType, Validation};
/// use latchkey::keys::KeySet;
/// let keys = KeySet::shared_secret(b"secret").unwrap();
/// let token = jwt::sign(&Claims::new_token("admin", 100, 900, "j1", TokenType::Access), keys.current());
/// let mut scratch = Vec::new();
/// let view = jwt::verify_view(&token, &keys, &Validation::default(), 160, &mut scratch).unwrap();
/// assert_eq!(view.sub.as_deref(), Some("admin"));
/// assert_eq!((view.jti.as_deref(), view.iat, view.token_type), (Some("j1"), Some(100), Some(TokenType::Access)));
/// ```
pub fn verify_view<'s>(
    token: &str,
    keys: &KeySet,
    validation: &Validation,
    now: u64,
    scratch: &'s mut Vec<u8>,
) -> Result<ClaimsView<'s>, TokenError> {
    let payload = authenticate_into(token, keys, scratch)?;
    view_authentic(payload, validation, now)
}

/// The claims half of [`verify_view`]: the claims of a payload that
/// [`authenticate_into`] vouched for, validated at `now`. Apart so that the service
/// can remember which tokens were authentic (`web::memo`) and skip the MAC half when
/// the same token comes again.
pub(crate) fn view_authentic<'s>(
    payload: &'s [u8],
    validation: &Validation,
    now: u64,
) -> Result<ClaimsView<'s>, TokenError> {
    let claims = claims::scan(payload, None)?;
    validation.validate_view(&claims, now)?;
    Ok(claims)
}

/// Everything [`verify`] does but the claim validation: the token is authentic and
/// well-formed, and these are its claims.
pub(crate) fn authenticate(token: &str, keys: &KeySet) -> Result<Claims, TokenError> {
    let mut payload = Vec::new();
    claims::scan_owned(authenticate_into(token, keys, &mut payload)?)
}

/// Shape and length, header (alg, crit, typ, kid → key), the MAC in constant time
/// over the exact signing input, then the payload segment decoded into `buf`
/// (replacing what it held): the authentic payload bytes, not yet parsed.
///
/// A token whose header is one [`sign`] writes takes a shortcut: the header is
/// recognised by its bytes (no decoding, no JSON) and the signature segment is found
/// by its length (no search for dots). The shortcut only ever answers "authentic,
/// here is the payload"; every other outcome is decided by the general checks, so
/// errors are the same on both roads.
pub(crate) fn authenticate_into<'b>(
    token: &str,
    keys: &KeySet,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    if let Some((key, header_len)) = known_header(token, keys)
        && let Some(tag_dot) = token.len().checked_sub(TAG_B64_LEN + 1)
        // A non-empty payload between the header's dot and the tag's.
        && tag_dot > header_len + 1
        && token.as_bytes().get(tag_dot) == Some(&b'.')
        && let (Some(signing_input), Some(tag_b64)) = (token.get(..tag_dot), token.get(tag_dot + 1..))
    {
        let mut mac = key.mac();
        mac.update(signing_input.as_bytes());
        let mut tag = [0u8; TAG_LEN];
        // A tag that is not canonical base64url takes the general path to its error.
        let authentic = b64::decode(tag_b64.as_bytes(), &mut tag) == Some(TAG_LEN)
            && mac.verify_slice(&tag).is_ok();
        if authentic {
            if let Some(payload_b64) = token.get(header_len + 1..tag_dot)
                && let Ok(payload) = decode_to_vec(payload_b64, buf)
            {
                return Ok(payload);
            }
            // Authentic, yet the payload is not base64url: possibly a stray dot,
            // which the general checks report first.
            general_checks(token, keys)?;
            return Err(TokenError::BadBase64);
        }
        // Not authentic, or not well-formed: the general checks up to the MAC tell
        // which, and the MAC they would compute is the one just refused.
        general_checks(token, keys)?;
        return Err(TokenError::BadSignature);
    }
    authenticate_general(token, keys, buf)
}

/// [`authenticate_into`] without the shortcut: what it must agree with on every
/// token (checked by the fuzzer).
pub(crate) fn authenticate_general<'b>(
    token: &str,
    keys: &KeySet,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], TokenError> {
    let checked = general_checks(token, keys)?;
    let mut mac = checked.key.mac();
    mac.update(checked.signing_input.as_bytes());
    mac.verify_slice(&checked.tag)
        .map_err(|_| TokenError::BadSignature)?;
    decode_to_vec(checked.payload_b64, buf)
}

/// A header byte-identical to one [`sign`] writes, at the start of `token` and
/// followed by a dot: the key it names and the header's length. `None` sends the
/// token down the general path (which reports an unknown kid precisely).
fn known_header<'k>(token: &str, keys: &'k KeySet) -> Option<(&'k Key, usize)> {
    let bytes = token.as_bytes();
    if let Some(rest) = bytes.strip_prefix(KID_HEADER_PREFIX_B64.as_bytes()) {
        // `"<kid>"}` is at most MAX_KID_LEN + 3 bytes: 4 characters per 3, rounded up.
        let window = rest.get(..rest.len().min((MAX_KID_LEN + 3).div_ceil(3) * 4 + 1))?;
        let kid_b64 = window.get(..window.iter().position(|&b| b == b'.')?)?;
        let key = kid_header_key(kid_b64, keys)?.ok()?;
        return Some((key, KID_HEADER_PREFIX_B64.len() + kid_b64.len()));
    }
    let dot = bytes.strip_prefix(PLAIN_HEADER_B64.as_bytes())?.first();
    (dot == Some(&b'.')).then(|| (keys.current(), PLAIN_HEADER_B64.len()))
}

/// What the general checks found: an authentic-looking token, MAC not yet checked.
struct Checked<'t, 'k> {
    key: &'k Key,
    signing_input: &'t str,
    payload_b64: &'t str,
    tag: [u8; TAG_LEN],
}

/// Every check before the MAC, in the order errors are reported: length, shape,
/// header (alg, crit, typ, kid → key), signature segment.
fn general_checks<'t, 'k>(token: &'t str, keys: &'k KeySet) -> Result<Checked<'t, 'k>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let (signing_input, header_b64, payload_b64, tag_b64) = split(token)?;
    let key = match header_key_fast(header_b64, keys) {
        Some(found) => found?,
        None => header_key_slow(header_b64, keys)?,
    };
    if tag_b64.is_empty() {
        return Err(TokenError::EmptySegment);
    }
    let tag = decode_tag(tag_b64)?;
    Ok(Checked {
        key,
        signing_input,
        payload_b64,
        tag,
    })
}

/// Decodes a header the fast path does not know and checks it.
fn header_key_slow<'k>(header_b64: &str, keys: &'k KeySet) -> Result<&'k Key, TokenError> {
    let mut inline = [0u8; INLINE_SEGMENT];
    let mut heap = Vec::new();
    header_key(decode_segment(header_b64, &mut inline, &mut heap)?, keys)
}

/// Splits into (signing input, header, payload, signature); header and payload must
/// be non-empty, the signature is checked after the header so that `alg: none`
/// tokens are reported as such.
fn split(token: &str) -> Result<(&str, &str, &str, &str), TokenError> {
    let bytes = token.as_bytes();
    let first = find_dot(bytes, 0);
    let second = first.and_then(|i| find_dot(bytes, i + 1));
    let third = second.and_then(|i| find_dot(bytes, i + 1));
    let (Some(first), Some(second), None) = (first, second, third) else {
        return Err(TokenError::SegmentCount);
    };
    let seg = |a: usize, b: usize| token.get(a..b).ok_or(TokenError::SegmentCount);
    let header = seg(0, first)?;
    let payload = seg(first + 1, second)?;
    let signing_input = seg(0, second)?;
    let tag = seg(second + 1, token.len())?;
    if header.is_empty() || payload.is_empty() {
        return Err(TokenError::EmptySegment);
    }
    Ok((signing_input, header, payload, tag))
}

/// Index of the first `.` at or after `from`. Reads eight bytes at a time: on the
/// hot path the whole token is scanned, and `str::match_indices` costs about four
/// times as much for a token this short.
fn find_dot(bytes: &[u8], from: usize) -> Option<usize> {
    const DOTS: u64 = u64::from_ne_bytes([b'.'; 8]);
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let haystack = bytes.get(from..)?;
    let mut words = haystack.chunks_exact(8);
    let mut offset = from;
    for word in words.by_ref() {
        let word: [u8; 8] = word.try_into().ok()?;
        // A zero byte of `x` is a dot; the lowest flagged byte is always a true
        // one (borrows only flag bytes above a zero byte).
        let x = u64::from_le_bytes(word) ^ DOTS;
        let zeros = x.wrapping_sub(LOW) & !x & HIGH;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == b'.').map(|i| offset + i)
}

/// Decodes one segment into `inline` when it fits, else into `heap`.
fn decode_segment<'b>(
    b64: &str,
    inline: &'b mut [u8; INLINE_SEGMENT],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], TokenError> {
    let len = b64::decoded_len(b64.len()).ok_or(TokenError::BadBase64)?;
    if len <= INLINE_SEGMENT {
        decode_into(b64, inline)
    } else {
        decode_to_vec(b64, heap)
    }
}

/// Decodes one segment into `buf`, replacing what it held.
fn decode_to_vec<'b>(b64: &str, buf: &'b mut Vec<u8>) -> Result<&'b [u8], TokenError> {
    let len = b64::decoded_len(b64.len()).ok_or(TokenError::BadBase64)?;
    // A successful decode overwrites every byte, so a reused buffer is not cleared
    // first: only growth is zero-filled.
    buf.resize(len, 0);
    decode_into(b64, buf)
}

/// Decodes one segment into the start of `buf`, which must be large enough.
fn decode_into<'b>(b64: &str, buf: &'b mut [u8]) -> Result<&'b [u8], TokenError> {
    let n = b64::decode(b64.as_bytes(), buf).ok_or(TokenError::BadBase64)?;
    buf.get(..n).ok_or(TokenError::BadBase64)
}

/// The 32-byte tag; a tag of any other length is a bad signature (but must still
/// be valid base64url, so a malformed segment is reported as such).
fn decode_tag(b64: &str) -> Result<[u8; TAG_LEN], TokenError> {
    let mut tag = [0u8; TAG_LEN];
    if b64::decoded_len(b64.len()) == Some(TAG_LEN) {
        b64::decode(b64.as_bytes(), &mut tag).ok_or(TokenError::BadBase64)?;
        Ok(tag)
    } else {
        let mut inline = [0u8; INLINE_SEGMENT];
        let mut heap = Vec::new();
        decode_segment(b64, &mut inline, &mut heap)?;
        Err(TokenError::BadSignature)
    }
}

/// `{"alg":"HS256","typ":"JWT"}`, the header [`sign`] writes for a key without id.
const PLAIN_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
/// `{"alg":"HS256","typ":"JWT","kid":` (33 bytes, so it ends on a base64 quantum):
/// the start of the header [`sign`] writes for a key with an id.
const KID_HEADER_PREFIX_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6";

/// The key for a header byte-identical to one [`sign`] writes, skipping the JSON
/// scan; `None` for any other header, which then takes the general path. For every
/// header it answers, [`header_key`] gives the same answer (checked by the fuzzer).
pub(crate) fn header_key_fast<'k>(
    header_b64: &str,
    keys: &'k KeySet,
) -> Option<Result<&'k Key, TokenError>> {
    if header_b64 == PLAIN_HEADER_B64 {
        return Some(Ok(keys.current()));
    }
    let rest = header_b64.strip_prefix(KID_HEADER_PREFIX_B64)?;
    kid_header_key(rest.as_bytes(), keys)
}

/// [`header_key_fast`] for the part of a kid header after [`KID_HEADER_PREFIX_B64`].
fn kid_header_key<'k>(rest_b64: &[u8], keys: &'k KeySet) -> Option<Result<&'k Key, TokenError>> {
    let mut buf = [0u8; MAX_KID_LEN + 3];
    let n = b64::decode(rest_b64, &mut buf)?;
    let kid = buf.get(..n)?.strip_prefix(b"\"")?.strip_suffix(b"\"}")?;
    let printable = !kid.is_empty()
        && kid
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !printable {
        return None;
    }
    let kid = std::str::from_utf8(kid).ok()?;
    Some(keys.get(kid).ok_or(TokenError::UnknownKid))
}

/// Checks the header and picks the key it names.
pub(crate) fn header_key<'k>(header: &[u8], keys: &'k KeySet) -> Result<&'k Key, TokenError> {
    let mut alg = None;
    let mut typ = None;
    let mut kid = None;
    let mut crit = false;
    strict_json::parse_object(header, MAX_JSON_DEPTH, &mut |name, value| match name {
        "alg" => alg = Some(value),
        "typ" => typ = Some(value),
        "kid" => kid = Some(value),
        "crit" => crit = true,
        // jku, jwk, x5u, x5c and the rest are never acted on.
        _ => {}
    })?;
    match alg {
        None => return Err(TokenError::MissingAlg),
        Some(Raw::Str(raw)) if header_string(raw)? == "HS256" => {}
        Some(_) => return Err(TokenError::UnsupportedAlg),
    }
    if crit {
        return Err(TokenError::CritPresent);
    }
    match typ {
        None => {}
        Some(Raw::Str(raw)) if header_string(raw)?.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(TokenError::BadTyp),
    }
    match kid {
        None => Ok(keys.current()),
        Some(Raw::Str(raw)) => {
            let kid = header_string(raw)?;
            let printable = !kid.is_empty()
                && kid.len() <= MAX_KID_LEN
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !printable {
                return Err(TokenError::BadKid);
            }
            keys.get(&kid).ok_or(TokenError::UnknownKid)
        }
        Some(_) => Err(TokenError::BadKid),
    }
}

fn header_string(raw: &str) -> Result<std::borrow::Cow<'_, str>, TokenError> {
    Ok(strict_json::unescape(raw)?)
}

/// Whether `segment` is the canonical base64url encoding of its own decoding.
/// Used by the fuzz checks and tests to confirm verified tokens are canonical.
#[doc(hidden)]
pub fn is_canonical_segment(segment: &str) -> bool {
    B64.decode(segment)
        .is_ok_and(|bytes| B64.encode(bytes) == segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_dot_finds_every_dot_in_order() {
        let mut text = vec![b'a'; 40];
        for dots in [
            vec![],
            vec![0],
            vec![7, 8],
            vec![3, 15, 16, 39],
            vec![9, 31],
        ] {
            text.fill(b'a');
            dots.iter().for_each(|&i| text[i] = b'.');
            // Bytes that differ from '.' by one bit or by borrow must not match.
            text[1] = b'/';
            text[2] = b'-';
            let mut found = Vec::new();
            let mut from = 0;
            while let Some(i) = find_dot(&text, from) {
                found.push(i);
                from = i + 1;
            }
            assert_eq!(found, dots);
        }
        assert_eq!(find_dot(b"ab", 5), None);
    }
}
