//! HS256 JSON Web Tokens (RFC 7519 / RFC 7515), written by hand, strict and total.
//!
//! Only one algorithm exists here: HMAC-SHA256 with a key of the
//! [`Purpose::ApiToken`](crate::keys::Purpose) key set. Verification refuses anything
//! a careful reader could interpret two ways: non-canonical base64, duplicate JSON keys
//! at any depth, `crit`, any `alg` but `HS256`, unknown key ids. The MAC is checked in
//! constant time over the token's exact bytes before any claim is looked at, and the
//! claims are read from the strict parser's output. [`verify`] is the one way in.
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

mod claims;
pub(crate) mod strict_json;

use std::fmt;

use base64::Engine;
use hmac::Mac;

use crate::b64::B64URL;
use crate::keys::{Key, KeySet, MAX_KID_LEN};
pub use claims::{Claims, MAX_NUMERIC_DATE, TokenType};
use strict_json::{JsonError, Raw};

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Deepest nesting of objects and arrays accepted in a header or payload.
pub const MAX_JSON_DEPTH: usize = 16;
/// Default clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: u64 = 10;

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
    let mut token = B64URL.encode(header);
    token.push('.');
    B64URL.encode_string(payload, &mut token);
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    let tag = mac.finalize().into_bytes();
    token.push('.');
    B64URL.encode_string(tag, &mut token);
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

/// Everything [`verify`] does but the claim validation: the token is authentic and
/// well-formed, and these are its claims.
pub(crate) fn authenticate(token: &str, keys: &KeySet) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    // `header.payload.tag`: the tag covers everything before its dot, byte for byte.
    let (signing_input, tag_b64) = token.rsplit_once('.').ok_or(TokenError::SegmentCount)?;
    let (header_b64, payload_b64) = signing_input
        .split_once('.')
        .ok_or(TokenError::SegmentCount)?;
    if payload_b64.contains('.') {
        return Err(TokenError::SegmentCount);
    }
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(TokenError::EmptySegment);
    }
    // The header is read before the tag so that an `alg: none` token (whose tag is
    // empty) is reported as such.
    let key = header_key(&decode(header_b64)?, keys)?;
    if tag_b64.is_empty() {
        return Err(TokenError::EmptySegment);
    }
    let tag = decode(tag_b64)?;
    let mut mac = key.mac();
    mac.update(signing_input.as_bytes());
    // Constant time (`subtle`, inside `hmac`); a tag of any length but 32 bytes fails.
    mac.verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    claims::parse(&decode(payload_b64)?)
}

/// One segment, canonical unpadded base64url.
fn decode(segment: &str) -> Result<Vec<u8>, TokenError> {
    B64URL.decode(segment).map_err(|_| TokenError::BadBase64)
}

/// Checks the header and picks the key it names.
fn header_key<'k>(header: &[u8], keys: &'k KeySet) -> Result<&'k Key, TokenError> {
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
