//! `verify_view`, the request hot path: the claims the web layer needs, borrowed,
//! with the same answers as `verify`.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac;
use latchkey::jwt::{self, Claims, TokenError, TokenType, Validation};
use latchkey::keys::{KeySet, Keyring, Purpose};

const NOW: u64 = 1_700_000_000;

fn keys() -> KeySet {
    Keyring::from_master("k1", &[9u8; 32])
        .unwrap()
        .key_set(Purpose::ApiToken)
}

/// A correctly signed token over arbitrary payload text.
fn signed(payload: &str) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#),
        B64.encode(payload)
    );
    let mut mac = keys().current().mac();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

#[test]
fn a_service_token_yields_subject_jti_iat_and_type_borrowed() {
    let k = keys();
    let claims = Claims::new_token("admin", NOW, 900, "jti-7", TokenType::Access);
    let token = jwt::sign(&claims, k.current());
    let mut scratch = Vec::new();
    let v = jwt::verify_view(&token, &k, &Validation::default(), NOW + 5, &mut scratch).unwrap();
    assert!(matches!(v.sub, Some(Cow::Borrowed("admin"))));
    assert!(matches!(v.jti, Some(Cow::Borrowed("jti-7"))));
    assert_eq!(
        (v.iat, v.nbf, v.exp),
        (Some(NOW), Some(NOW), Some(NOW + 900))
    );
    assert_eq!(v.token_type, Some(TokenType::Access));
    assert!(v.aud.is_empty());
    assert_eq!(v, claims.view());
}

#[test]
fn a_reused_scratch_never_leaks_the_previous_payload() {
    let k = keys();
    let v = Validation::default();
    let long = signed(&format!(
        r#"{{"sub":"{}","exp":{}}}"#,
        "x".repeat(700),
        NOW + 60
    ));
    let short = signed(&format!(r#"{{"exp":{}}}"#, NOW + 60));
    let mut scratch = Vec::new();
    let first = jwt::verify_view(&long, &k, &v, NOW, &mut scratch).unwrap();
    assert_eq!(first.sub.as_deref().map(str::len), Some(700));
    let second = jwt::verify_view(&short, &k, &v, NOW, &mut scratch).unwrap();
    assert_eq!(second.sub, None);
    assert_eq!(
        jwt::verify_view(&short, &k, &v, NOW + 1000, &mut scratch),
        Err(TokenError::Expired)
    );
}

#[test]
fn escaped_strings_are_decoded() {
    let k = keys();
    let token = signed(&format!(
        r#"{{"sub":"a\u00e9\"b","jti":"j\/1","exp":{}}}"#,
        NOW + 60
    ));
    let mut scratch = Vec::new();
    let v = jwt::verify_view(&token, &k, &Validation::default(), NOW, &mut scratch).unwrap();
    assert_eq!(v.sub.as_deref(), Some("a\u{e9}\"b"));
    assert_eq!(v.jti.as_deref(), Some("j/1"));
}

#[test]
fn flask_identity_is_the_subject_only_without_sub() {
    let k = keys();
    let mut scratch = Vec::new();
    let mut subject = |payload: &str| {
        let t = signed(payload);
        jwt::verify_view(&t, &k, &Validation::default(), NOW, &mut scratch)
            .map(|v| v.sub.map(Cow::into_owned))
    };
    let exp = NOW + 60;
    assert_eq!(
        subject(&format!(r#"{{"identity":"alice","exp":{exp}}}"#)),
        Ok(Some("alice".into()))
    );
    assert_eq!(
        subject(&format!(r#"{{"identity":"bob","sub":"bob","exp":{exp}}}"#)),
        Ok(Some("bob".into()))
    );
    // Escapes are resolved before the two names are compared.
    assert_eq!(
        subject(&format!(
            r#"{{"identity":"\u0062ob","sub":"bob","exp":{exp}}}"#
        )),
        Ok(Some("bob".into()))
    );
    assert_eq!(
        subject(&format!(r#"{{"identity":7,"exp":{exp}}}"#)),
        Ok(None)
    );
}

#[test]
fn sub_and_identity_naming_different_users_are_refused() {
    let k = keys();
    let exp = NOW + 60;
    let mut scratch = Vec::new();
    for payload in [
        format!(r#"{{"identity":"alice","sub":"bob","exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":"Bob","exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":7,"exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":null,"exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":["bob"],"exp":{exp}}}"#),
    ] {
        let t = signed(&payload);
        assert_eq!(
            jwt::verify_view(&t, &k, &Validation::default(), NOW, &mut scratch),
            Err(TokenError::ConflictingSubject),
            "{payload}"
        );
        assert_eq!(
            jwt::verify(&t, &k, &Validation::default(), NOW),
            Err(TokenError::ConflictingSubject),
            "{payload}"
        );
    }
    // Only between two well-formed claims: a claim error found first still wins.
    let t = signed(r#"{"sub":"bob","identity":"alice","exp":"soon"}"#);
    assert_eq!(
        jwt::verify_view(&t, &k, &Validation::default(), NOW, &mut scratch),
        Err(TokenError::WrongType("exp"))
    );
}

#[test]
fn audience_arrays_are_checked_like_verify() {
    let k = keys();
    let exp = NOW + 60;
    let want_api = Validation {
        audience: Some("api".into()),
        ..Validation::default()
    };
    let mut scratch = Vec::new();
    let mut both = |payload: &str, v: &Validation| {
        let t = signed(payload);
        let owned = jwt::verify(&t, &k, v, NOW).map(|c| c.aud);
        let view = jwt::verify_view(&t, &k, v, NOW, &mut scratch).map(|c| c.aud.to_vec());
        assert_eq!(owned, view, "{payload}");
        view
    };
    let escaped = format!(r#"{{"aud":["web", "\u0061pi"],"exp":{exp}}}"#);
    assert_eq!(
        both(&escaped, &want_api),
        Ok(vec!["web".into(), "api".into()])
    );
    assert_eq!(
        both(&escaped, &Validation::default()),
        Err(TokenError::WrongAudience)
    );
    let empty = format!(r#"{{"aud":[ ],"exp":{exp}}}"#);
    assert_eq!(both(&empty, &Validation::default()), Ok(vec![]));
    assert_eq!(
        both(&empty, &want_api),
        Err(TokenError::MissingClaim("aud"))
    );
    assert_eq!(
        both(&format!(r#"{{"aud":["api",1],"exp":{exp}}}"#), &want_api),
        Err(TokenError::WrongType("aud"))
    );
    assert_eq!(
        both(&format!(r#"{{"aud":"api","exp":{exp}}}"#), &want_api),
        Ok(vec!["api".into()])
    );
}

#[test]
fn the_first_claim_error_wins_on_both_paths() {
    let k = keys();
    let t = signed(r#"{"exp":"soon","jti":5,"sub":"a"}"#);
    let mut scratch = Vec::new();
    assert_eq!(
        jwt::verify_view(&t, &k, &Validation::default(), NOW, &mut scratch),
        Err(TokenError::WrongType("exp"))
    );
    assert_eq!(
        jwt::verify(&t, &k, &Validation::default(), NOW),
        Err(TokenError::WrongType("exp"))
    );
}
