//! Fuzz invariants for `jwt::verify`, the strict JSON parser under it and the
//! canonical base64url engine it decodes with.

use crate::b64::B64URL;
use crate::jwt::strict_json::{self, JsonError};
use crate::jwt::{self, Claims, TokenError, TokenType, Validation};
use crate::keys::{KeySet, Keyring, Purpose};
use base64::Engine;
use hmac::Mac;

const NOW: u64 = 1_700_000_000;
const HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT","kid":"fz"}"#;

fn keys() -> KeySet {
    match Keyring::from_master("fz", &[0x5a; 32]) {
        Ok(ring) => ring.key_set(Purpose::ApiToken),
        Err(e) => panic!("fixed keyring must build: {e}"),
    }
}

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let keys = keys();
    if let Ok(token) = std::str::from_utf8(data) {
        as_token(token, &keys);
    }
    as_payload(data, &keys);
    tampering_is_refused(data, &keys);
    json_matches_serde(data);
    base64_is_canonical(data);
}

/// Whatever the engine decodes, it encodes back to the very same text: every byte
/// string has one spelling.
fn base64_is_canonical(data: &[u8]) {
    if let Ok(bytes) = B64URL.decode(data) {
        assert_eq!(
            B64URL.encode(bytes).as_bytes(),
            data,
            "base64url decoded a non-canonical spelling"
        );
    }
}

/// Arbitrary text as a token: no panic; an authentic token is canonical and its
/// first two segments are exactly what the tag covers.
fn as_token(token: &str, keys: &KeySet) {
    for validation in validations() {
        let _ = jwt::verify(token, keys, &validation, NOW);
    }
    let verified = jwt::verify(token, keys, &Validation::default(), NOW);
    let Ok(claims) = jwt::authenticate(token, keys) else {
        assert!(verified.is_err());
        return;
    };
    assert_eq!(
        verified.is_ok(),
        Validation::default().validate(&claims, NOW).is_ok()
    );
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3);
    for segment in &segments {
        let decoded = B64URL.decode(segment);
        assert!(
            decoded.is_ok_and(|bytes| B64URL.encode(bytes) == *segment),
            "verified token has a non-canonical segment"
        );
    }
    let (input, tag) = token.rsplit_once('.').unwrap_or_default();
    let mut mac = keys.current().mac();
    mac.update(input.as_bytes());
    let resigned = B64URL.encode(mac.finalize().into_bytes());
    assert_eq!(
        resigned, tag,
        "verified tag is not the MAC of the signing input"
    );
    round_trip(&claims, keys);
}

/// Arbitrary bytes as the payload of a correctly signed token, so the payload parser
/// and claim rules run past the MAC.
fn as_payload(payload: &[u8], keys: &KeySet) {
    let token = jwt::sign_parts(HEADER, payload, keys.current());
    for validation in validations() {
        let _ = jwt::verify(&token, keys, &validation, NOW);
    }
    match jwt::authenticate(&token, keys) {
        Ok(claims) => {
            let _ = Validation::default().validate(&claims, NOW);
            round_trip(&claims, keys);
        }
        Err(TokenError::TooLong) => assert!(token.len() > jwt::MAX_TOKEN_LEN),
        Err(TokenError::EmptySegment) => assert!(payload.is_empty()),
        Err(
            TokenError::BadJson
            | TokenError::NotObject
            | TokenError::DuplicateKey
            | TokenError::TooDeep
            | TokenError::WrongType(_)
            | TokenError::ConflictingSubject,
        ) => {}
        Err(other) => panic!("signed payload refused for a non-payload reason: {other:?}"),
    }
}

/// A correctly signed token with one byte of it replaced (by a byte of the data,
/// at a spot the data picks), or with the data appended, never authenticates.
fn tampering_is_refused(data: &[u8], keys: &KeySet) {
    let payload = data.get(..data.len().min(64)).unwrap_or_default();
    let signed = jwt::sign_parts(HEADER, payload, keys.current());
    let mut tampered = Vec::new();
    if let Ok(text) = std::str::from_utf8(data)
        && !text.is_empty()
    {
        tampered.push(format!("{signed}{text}"));
    }
    for (i, &b) in data.iter().take(8).enumerate() {
        let len = signed.len();
        let at = usize::from(b).wrapping_mul(31).wrapping_add(i * 7) % len;
        let replacement = data.get(i + 1).copied().unwrap_or(b'.');
        for spot in [at, len - 1, len - 44, at.min(len - 45)] {
            let mut bytes = signed.clone().into_bytes();
            if let Some(slot) = bytes.get_mut(spot)
                && *slot != replacement
            {
                *slot = replacement;
                if let Ok(text) = String::from_utf8(bytes) {
                    tampered.push(text);
                }
            }
        }
    }
    for token in &tampered {
        assert!(
            jwt::authenticate(token, keys).is_err(),
            "a tampered token authenticated: {token:?}"
        );
    }
}

/// The validations each token is verified under: the default one, and one that
/// checks issuer, audience and type and does not require `exp`.
fn validations() -> [Validation; 2] {
    [
        Validation::default(),
        Validation {
            require_exp: false,
            issuer: Some("fz-iss".to_owned()),
            audience: Some("fz-aud".to_owned()),
            token_type: Some(TokenType::Access),
            ..Validation::default()
        },
    ]
}

/// Claims survive sign → verify unchanged.
fn round_trip(claims: &Claims, keys: &KeySet) {
    let token = jwt::sign(claims, keys.current());
    if token.len() > jwt::MAX_TOKEN_LEN {
        return;
    }
    match jwt::authenticate(&token, keys) {
        Ok(again) => assert_eq!(&again, claims, "claims changed through sign/verify"),
        Err(e) => panic!("re-signed claims do not verify: {e:?}"),
    }
}

/// The strict parser accepts exactly what serde_json accepts, minus duplicates,
/// excess depth and non-objects; the members it reports are serde_json's keys.
fn json_matches_serde(data: &[u8]) {
    let mut names = Vec::new();
    let strict = strict_json::parse_object(data, jwt::MAX_JSON_DEPTH, &mut |k, _| {
        names.push(k.to_owned())
    });
    let serde = serde_json::from_slice::<serde_json::Value>(data);
    match (strict, serde) {
        (Ok(()), Ok(serde_json::Value::Object(map))) => {
            assert_eq!(names.len(), map.len());
            assert!(names.iter().all(|n| map.contains_key(n)));
        }
        (Ok(()), other) => panic!("strict accepted what serde_json did not: {other:?}"),
        (Err(JsonError::Duplicate | JsonError::TooDeep), _) => {}
        (Err(JsonError::NotObject), Ok(v)) => assert!(!v.is_object()),
        (Err(e), Ok(_)) => panic!("strict refused valid json: {e:?}"),
        (Err(_), Err(_)) => {}
    }
}
