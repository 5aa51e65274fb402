//! Known-answer vectors from RFC 7515 Appendix A.1 and RFC 7519 §6.1.

use latchkey::jwt::{self, TokenError, Validation};
use latchkey::keys::KeySet;

const VECTORS: &str = include_str!("../../vectors/rfc7515-rfc7519.json");
const KEY: &[u8] = include_bytes!("../../vectors/rfc7515-a1.key");

fn vector(section: &str, field: &str) -> serde_json::Value {
    let all: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    all[section][field].clone()
}

#[test]
fn rfc7515_a1_token_verifies_before_exp_over_its_exact_bytes() {
    let token = vector("hs256", "token");
    let exp = vector("hs256", "exp").as_u64().unwrap();
    let keys = KeySet::shared_secret(KEY).unwrap();
    // The payload holds CR LF and spaces: only the original bytes MAC correctly.
    let claims = jwt::verify(
        token.as_str().unwrap(),
        &keys,
        &Validation::default(),
        exp - 60,
    )
    .unwrap();
    assert_eq!(claims.exp, Some(exp));
    assert_eq!(claims.iss.as_deref(), Some("joe"));
    assert_eq!(claims.extra["http://example.com/is_root"], true);
    assert_eq!(claims.sub, None);
}

#[test]
fn rfc7515_a1_key_file_matches_the_json_key() {
    use base64::Engine;
    let b64 = vector("hs256", "key_base64url");
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, KEY);
}

#[test]
fn rfc7515_a1_token_is_expired_after_exp() {
    let token = vector("hs256", "token");
    let exp = vector("hs256", "exp").as_u64().unwrap();
    let keys = KeySet::shared_secret(KEY).unwrap();
    let strict = Validation {
        leeway: 0,
        ..Validation::default()
    };
    let at = |now| jwt::verify(token.as_str().unwrap(), &keys, &strict, now);
    assert!(at(exp - 1).is_ok());
    assert_eq!(at(exp), Err(TokenError::Expired));
    assert_eq!(
        jwt::verify(
            token.as_str().unwrap(),
            &keys,
            &Validation::default(),
            exp + 11
        ),
        Err(TokenError::Expired)
    );
}

#[test]
fn rfc7515_a1_token_fails_with_another_key() {
    let token = vector("hs256", "token");
    let keys = KeySet::shared_secret(b"not the rfc key").unwrap();
    assert_eq!(
        jwt::verify(token.as_str().unwrap(), &keys, &Validation::default(), 0),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn rfc7519_unsecured_token_is_unsupported_alg() {
    let token = vector("unsecured", "token");
    let keys = KeySet::shared_secret(KEY).unwrap();
    assert_eq!(
        jwt::verify(token.as_str().unwrap(), &keys, &Validation::default(), 0),
        Err(TokenError::UnsupportedAlg)
    );
}
