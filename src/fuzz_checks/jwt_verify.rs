//! Fuzz invariants for `jwt::verify`, its shortcuts, and the strict JSON scanner under it.

use crate::jwt::strict_json::{self, JsonError};
use crate::jwt::{self, Claims, TokenError, TokenType, Validation};
use crate::keys::{KeySet, Keyring, Purpose};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
    json_matches_serde(data);
    base64_matches_crate(data);
    header_fast_path_agrees(data, &keys);
    flat_scan_agrees(data);
    signature_shortcut_agrees(data, &keys);
}

/// The flat claims scanner (the hot path's) only ever answers what the general
/// scanner answers: the same claims, for a payload both accept.
fn flat_scan_agrees(payload: &[u8]) {
    let Some(flat) = jwt::scan_flat(payload) else {
        return;
    };
    match jwt::scan_owned(payload) {
        Ok(claims) => assert_eq!(claims.view(), flat, "flat scan claims differ"),
        Err(e) => panic!("flat scan accepted what the general scan refuses: {e:?}"),
    }
}

/// The header-and-tag shortcut of verification agrees with the general checks (same
/// payload or same error) on the data as a token, and on a correctly signed token
/// broken in the ways the shortcut must notice: a byte of the data written over the
/// signature, the payload, or the separating dots, or the data appended.
fn signature_shortcut_agrees(data: &[u8], keys: &KeySet) {
    let payload = data.get(..data.len().min(64)).unwrap_or_default();
    let signed = jwt::sign_parts(HEADER, payload, keys.current());
    let mut tokens = vec![signed.clone()];
    if let Ok(text) = std::str::from_utf8(data) {
        tokens.push(text.to_owned());
        tokens.push(format!("{signed}{text}"));
    }
    for (i, &b) in data.iter().take(8).enumerate() {
        let mut bytes = signed.clone().into_bytes();
        let len = bytes.len();
        let at = usize::from(b).wrapping_mul(31).wrapping_add(i * 7) % len;
        for spot in [at, len - 1, len - 44, at.min(len - 45)] {
            if let Some(slot) = bytes.get_mut(spot) {
                *slot = data.get(i + 1).copied().unwrap_or(b'.');
            }
            if let Ok(text) = String::from_utf8(bytes.clone()) {
                tokens.push(text);
            }
        }
    }
    let (mut fast_buf, mut general_buf) = (Vec::new(), Vec::new());
    for token in &tokens {
        let fast = jwt::authenticate_into(token, keys, &mut fast_buf);
        let general = jwt::authenticate_general(token, keys, &mut general_buf);
        assert_eq!(
            fast, general,
            "signature shortcut disagrees with the general checks"
        );
    }
}

/// The header fast path answers exactly as the general header check, for the data
/// taken as a kid and as a base64 header.
fn header_fast_path_agrees(data: &[u8], keys: &KeySet) {
    let kid_header = [
        br#"{"alg":"HS256","typ":"JWT","kid":""#.as_slice(),
        data,
        b"\"}",
    ]
    .concat();
    let mut candidates = vec![jwt::B64.encode(&kid_header)];
    if let Ok(text) = std::str::from_utf8(data) {
        candidates.push(text.to_owned());
    }
    for header_b64 in candidates {
        let Some(fast) = jwt::header_key_fast(&header_b64, keys) else {
            continue;
        };
        let Ok(header) = jwt::B64.decode(&header_b64) else {
            panic!("fast path accepted non-canonical base64");
        };
        let slow = jwt::header_key(&header, keys);
        let fp = |r: Result<&crate::keys::Key, TokenError>| r.map(|k| k.fingerprint());
        assert_eq!(fp(fast), fp(slow), "header fast path disagrees");
    }
}

/// The hand-written base64url decoder agrees with the `base64` crate's canonical
/// unpadded URL-safe engine on every input.
fn base64_matches_crate(data: &[u8]) {
    let mut out = vec![0u8; data.len()];
    let ours = crate::b64url::decode(data, &mut out).map(|n| out.get(..n).map(<[u8]>::to_vec));
    let theirs = jwt::B64.decode(data).ok();
    assert_eq!(ours.flatten(), theirs, "base64 decoders disagree");
}

/// Arbitrary text as a token: no panic; an authentic token is canonical and its
/// first two segments are exactly what the tag covers.
fn as_token(token: &str, keys: &KeySet) {
    view_agrees(token, keys);
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
    assert!(segments.iter().all(|s| jwt::is_canonical_segment(s)));
    let (input, tag) = token.rsplit_once('.').unwrap_or_default();
    let mut mac = keys.current().mac();
    mac.update(input.as_bytes());
    let resigned = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
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
    view_agrees(&token, keys);
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

/// The validations both paths are compared under: the default one, and one that
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

/// `verify_view` (the request hot path) and `verify` agree on every token: the same
/// claims when both accept, the same error otherwise. A reused scratch buffer must
/// not leak one call's payload into the next.
fn view_agrees(token: &str, keys: &KeySet) {
    let mut scratch = b"{\"sub\":\"stale\"}".to_vec();
    for validation in validations() {
        let owned = jwt::verify(token, keys, &validation, NOW);
        let view = jwt::verify_view(token, keys, &validation, NOW, &mut scratch);
        match (owned, view) {
            (Ok(c), Ok(v)) => {
                assert_eq!(c.view(), v, "verify_view claims differ from verify");
                assert_eq!(c.sub.as_deref(), v.sub.as_deref());
                assert_eq!(c.jti.as_deref(), v.jti.as_deref());
                assert_eq!((c.iat, c.nbf, c.exp), (v.iat, v.nbf, v.exp));
                assert_eq!(c.token_type, v.token_type);
                assert_eq!(c.aud, v.aud.to_vec());
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "verify_view error differs from verify"),
            (a, b) => panic!("verify and verify_view disagree: {a:?} vs {b:?}"),
        }
    }
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

/// The strict scanner accepts exactly what serde_json accepts, minus duplicates,
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
