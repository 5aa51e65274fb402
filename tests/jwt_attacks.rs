//! Hostile tokens: each case asserts the specific error it must produce.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac;
use latchkey::jwt::{self, Claims, TokenError, TokenType, Validation};
use latchkey::keys::{Key, KeySet, Keyring, Purpose};

const NOW: u64 = 1_700_000_000;
const GOOD_HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;

fn keys() -> KeySet {
    Keyring::from_master("k1", &[42u8; 32])
        .unwrap()
        .key_set(Purpose::ApiToken)
}

fn payload() -> String {
    format!(r#"{{"sub":"admin","iat":{NOW},"exp":{}}}"#, NOW + 600)
}

/// A token over arbitrary header and payload text, MACed with `key` when given.
fn forge(header: &str, payload: &str, key: Option<&Key>) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let tag = match key {
        Some(k) => {
            let mut mac = k.mac();
            mac.update(input.as_bytes());
            B64.encode(mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{input}.{tag}")
}

/// Verifies on both paths; every attack must get the same answer from the request
/// hot path (`verify_view`) as from `verify`.
fn check(token: &str) -> Result<Claims, TokenError> {
    check_with(token, &Validation::default())
}

fn check_with(token: &str, validation: &Validation) -> Result<Claims, TokenError> {
    let owned = jwt::verify(token, &keys(), validation, NOW);
    let mut scratch = Vec::new();
    let view = jwt::verify_view(token, &keys(), validation, NOW, &mut scratch);
    match (&owned, view) {
        (Ok(c), Ok(v)) => assert_eq!(c.view(), v, "verify_view claims differ"),
        (Err(a), Err(b)) => assert_eq!(*a, b, "verify_view error differs"),
        (a, b) => panic!("verify and verify_view disagree: {a:?} vs {b:?}"),
    }
    owned
}

fn valid() -> String {
    let k = keys();
    forge(GOOD_HEADER, &payload(), Some(k.current()))
}

#[test]
fn baseline_forged_token_is_valid() {
    assert_eq!(check(&valid()).unwrap().sub.as_deref(), Some("admin"));
}

#[test]
fn alg_none_in_every_spelling_is_unsupported() {
    let k = keys();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let unsigned = forge(&header, &payload(), None);
        assert_eq!(
            check(&unsigned),
            Err(TokenError::UnsupportedAlg),
            "{alg} empty sig"
        );
        let signed = forge(&header, &payload(), Some(k.current()));
        assert_eq!(
            check(&signed),
            Err(TokenError::UnsupportedAlg),
            "{alg} with sig"
        );
    }
}

#[test]
fn algorithm_swaps_are_unsupported() {
    let k = keys();
    for alg in [
        "HS384", "HS512", "RS256", "ES256", "PS256", "hs256", "HS256 ", "",
    ] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k1"}}"#);
        for key in [Some(k.current()), None] {
            let t = forge(&header, &payload(), key);
            assert_eq!(check(&t), Err(TokenError::UnsupportedAlg), "{alg}");
        }
    }
    assert_eq!(
        check(&forge(r#"{"alg":256}"#, &payload(), Some(k.current()))),
        Err(TokenError::UnsupportedAlg)
    );
    assert_eq!(
        check(&forge(r#"{"typ":"JWT"}"#, &payload(), Some(k.current()))),
        Err(TokenError::MissingAlg)
    );
}

#[test]
fn stripped_and_truncated_signatures_fail() {
    let t = valid();
    let (input, tag) = t.rsplit_once('.').unwrap();
    assert_eq!(check(&format!("{input}.")), Err(TokenError::EmptySegment));
    assert_eq!(check(input), Err(TokenError::SegmentCount));
    // 42 chars: not a valid base64 length for whole bytes with zero trailing bits, or
    // a 31-byte tag; either way refused.
    let short = &tag[..40];
    assert_eq!(
        check(&format!("{input}.{short}")),
        Err(TokenError::BadSignature)
    );
    let long = format!("{input}.{tag}AAAA");
    assert_eq!(check(&long), Err(TokenError::BadSignature));
    let zeros = B64.encode([0u8; 32]);
    assert_eq!(
        check(&format!("{input}.{zeros}")),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn every_single_bit_flip_is_refused() {
    let t = valid();
    let header_len = t.find('.').unwrap();
    for i in 0..t.len() {
        for bit in 0..8 {
            let mut bytes = t.clone().into_bytes();
            bytes[i] ^= 1 << bit;
            let Ok(flipped) = String::from_utf8(bytes) else {
                continue; // not a &str: refused by the type before verify runs
            };
            let result = check(&flipped);
            let expected = matches!(
                result,
                Err(TokenError::BadBase64
                    | TokenError::SegmentCount
                    | TokenError::EmptySegment
                    | TokenError::BadJson
                    | TokenError::BadSignature
                    | TokenError::UnsupportedAlg
                    | TokenError::BadTyp
                    | TokenError::BadKid
                    | TokenError::UnknownKid
                    | TokenError::MissingAlg)
            );
            assert!(
                expected,
                "flip byte {i} bit {bit} (header ends {header_len}): {result:?}"
            );
        }
    }
}

#[test]
fn duplicate_claims_cannot_smuggle_values() {
    let k = keys();
    let cases = [
        format!(r#"{{"sub":"admin","exp":{},"exp":99999999999}}"#, NOW + 1),
        format!(r#"{{"sub":"guest","sub":"admin","exp":{}}}"#, NOW + 600),
        format!(
            r#"{{"sub":"guest","\u0073ub":"admin","exp":{}}}"#,
            NOW + 600
        ),
        format!(
            r#"{{"sub":"a","exp":{},"ctx":{{"role":"user","role":"admin"}}}}"#,
            NOW + 600
        ),
        format!(r#"{{"sub":"a","exp":{},"l":[{{"x":1,"x":2}}]}}"#, NOW + 600),
    ];
    for p in cases {
        let t = forge(GOOD_HEADER, &p, Some(k.current()));
        assert_eq!(check(&t), Err(TokenError::DuplicateKey), "{p}");
    }
    let dup_header = r#"{"alg":"none","alg":"HS256","kid":"k1"}"#;
    let t = forge(dup_header, &payload(), Some(k.current()));
    assert_eq!(check(&t), Err(TokenError::DuplicateKey));
}

#[test]
fn wrong_segment_counts_are_refused() {
    let t = valid();
    assert_eq!(check(&format!("{t}.abc")), Err(TokenError::SegmentCount));
    assert_eq!(
        check(&format!("{t}.abc.def")),
        Err(TokenError::SegmentCount)
    );
    assert_eq!(check(&format!("{t}.")), Err(TokenError::SegmentCount));
    assert_eq!(check(""), Err(TokenError::SegmentCount));
    assert_eq!(check(".."), Err(TokenError::EmptySegment));
    let (h, rest) = t.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    assert_eq!(check(&format!("{h}..{s}")), Err(TokenError::EmptySegment));
}

#[test]
fn non_canonical_base64_is_refused() {
    let t = valid();
    let parts: Vec<&str> = t.split('.').collect();
    let join = |h: &str, p: &str, s: &str| format!("{h}.{p}.{s}");
    for bad in [
        join(&format!("{}=", parts[0]), parts[1], parts[2]),
        join(parts[0], parts[1], &format!("{}=", parts[2])),
        join(&format!(" {}", parts[0]), parts[1], parts[2]),
        join(parts[0], parts[1], &format!("{}\n", parts[2])),
        join(&format!("+{}", &parts[0][1..]), parts[1], parts[2]),
        join(&format!("/{}", &parts[0][1..]), parts[1], parts[2]),
        join(parts[0], parts[1], &format!("{}+", &parts[2][..42])),
    ] {
        assert_eq!(check(&bad), Err(TokenError::BadBase64), "{bad}");
    }
    // The payload is only decoded after the MAC, which covers its exact bytes.
    let spaced = join(parts[0], &format!(" {}", parts[1]), parts[2]);
    assert_eq!(check(&spaced), Err(TokenError::BadSignature));
    // Same bytes, non-zero trailing bits: the last char of a 32-byte tag carries 2
    // spare bits. Accepting it would make tokens malleable.
    let last = parts[2].as_bytes()[42];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.iter().position(|&c| c == last).unwrap();
    let sibling = alphabet[idx ^ 1] as char;
    let malleable = join(parts[0], parts[1], &format!("{}{sibling}", &parts[2][..42]));
    assert_eq!(check(&malleable), Err(TokenError::BadBase64));
}

#[test]
fn hostile_kids_are_refused_before_any_lookup() {
    let k = keys();
    for kid in [
        "../../etc/passwd",
        "' OR 1=1 --",
        "",
        "k1\u{0}",
        &"a".repeat(33),
        "k 1",
    ] {
        let header = serde_json::json!({"alg": "HS256", "kid": kid}).to_string();
        let t = forge(&header, &payload(), Some(k.current()));
        assert_eq!(check(&t), Err(TokenError::BadKid), "{kid:?}");
    }
    let t = forge(r#"{"alg":"HS256","kid":7}"#, &payload(), Some(k.current()));
    assert_eq!(check(&t), Err(TokenError::BadKid));
    let t = forge(
        r#"{"alg":"HS256","kid":"k9"}"#,
        &payload(),
        Some(k.current()),
    );
    assert_eq!(check(&t), Err(TokenError::UnknownKid));
}

#[test]
fn oversized_and_deeply_nested_tokens_are_refused() {
    let k = keys();
    let big = format!(r#"{{"exp":{},"pad":"{}"}}"#, NOW + 60, "x".repeat(7000));
    assert_eq!(
        check(&forge(GOOD_HEADER, &big, Some(k.current()))),
        Err(TokenError::TooLong)
    );
    let deep = format!(
        r#"{{"exp":{},"d":{}1{}}}"#,
        NOW + 60,
        "[".repeat(100),
        "]".repeat(100)
    );
    let t = forge(GOOD_HEADER, &deep, Some(k.current()));
    assert_eq!(check(&t), Err(TokenError::TooDeep));
    let deep_obj = format!(
        r#"{{"exp":{},"d":{}1{}}}"#,
        NOW + 60,
        r#"{"a":"#.repeat(16),
        "}".repeat(16)
    );
    assert_eq!(
        check(&forge(GOOD_HEADER, &deep_obj, Some(k.current()))),
        Err(TokenError::TooDeep)
    );
    let deep_header = format!(
        r#"{{"alg":"HS256","x":{}0{}}}"#,
        "[".repeat(20),
        "]".repeat(20)
    );
    assert_eq!(
        check(&forge(&deep_header, &payload(), None)),
        Err(TokenError::TooDeep)
    );
}

#[test]
fn claims_of_the_wrong_type_are_named() {
    let k = keys();
    let exp = NOW + 600;
    let cases = [
        (r#"{"exp":"1800000000"}"#.to_owned(), "exp"),
        (r#"{"exp":-1}"#.to_owned(), "exp"),
        (r#"{"exp":9007199254740993}"#.to_owned(), "exp"),
        (r#"{"exp":1e300}"#.to_owned(), "exp"),
        (r#"{"exp":null}"#.to_owned(), "exp"),
        (format!(r#"{{"exp":{exp},"sub":42}}"#), "sub"),
        (format!(r#"{{"exp":{exp},"aud":5}}"#), "aud"),
        (format!(r#"{{"exp":{exp},"aud":["a",5]}}"#), "aud"),
        (format!(r#"{{"exp":{exp},"nbf":"0"}}"#), "nbf"),
        (format!(r#"{{"exp":{exp},"iat":-3}}"#), "iat"),
        (format!(r#"{{"exp":{exp},"jti":[]}}"#), "jti"),
        (format!(r#"{{"exp":{exp},"type":"admin"}}"#), "type"),
    ];
    for (p, name) in cases {
        let t = forge(GOOD_HEADER, &p, Some(k.current()));
        let err = check(&t).unwrap_err();
        assert_eq!(err, TokenError::WrongType(name), "{p}");
        assert_eq!(err.to_string(), format!("claim {name} has the wrong type"));
    }
    let t = forge(GOOD_HEADER, r#"{"sub":"a"}"#, Some(k.current()));
    assert_eq!(check(&t), Err(TokenError::MissingClaim("exp")));
    let t = forge(GOOD_HEADER, "[1,2]", Some(k.current()));
    assert_eq!(check(&t), Err(TokenError::NotObject));
}

#[test]
fn crit_and_foreign_typ_are_refused() {
    let k = keys();
    let crit = r#"{"alg":"HS256","crit":["exp"],"exp":1}"#;
    assert_eq!(
        check(&forge(crit, &payload(), Some(k.current()))),
        Err(TokenError::CritPresent)
    );
    let jws = r#"{"alg":"HS256","typ":"JWS"}"#;
    assert_eq!(
        check(&forge(jws, &payload(), Some(k.current()))),
        Err(TokenError::BadTyp)
    );
    let lower = r#"{"alg":"HS256","typ":"jwt"}"#;
    assert!(check(&forge(lower, &payload(), Some(k.current()))).is_ok());
    // Key-carrying headers are never acted on: the token must still MAC with our key.
    let jwk = r#"{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"},"jku":"http://evil/"}"#;
    let other = KeySet::shared_secret(b"attacker").unwrap();
    assert_eq!(
        check(&forge(jwk, &payload(), Some(other.current()))),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_key_of_another_purpose_is_a_bad_signature() {
    let ring = Keyring::from_master("k1", &[42u8; 32]).unwrap();
    let cookie_key = ring.key_set(Purpose::SessionCookie);
    let claims = Claims::new_token("admin", NOW, 600, "j1", TokenType::Access);
    let t = jwt::sign(&claims, cookie_key.current());
    assert_eq!(check(&t), Err(TokenError::BadSignature));
    let t = jwt::sign(&claims, ring.key_set(Purpose::ApiToken).current());
    assert_eq!(check(&t).unwrap(), claims);
}

#[test]
fn rotated_keys_verify_until_dropped() {
    let ring = Keyring::generate().unwrap();
    let old = ring.key_set(Purpose::ApiToken);
    let claims = Claims::new_token("admin", NOW, 600, "j1", TokenType::Access);
    let t = jwt::sign(&claims, old.current());
    let mut ring = ring.rotated().unwrap();
    let rotated = ring.key_set(Purpose::ApiToken);
    assert_ne!(rotated.current().kid(), old.current().kid());
    assert_eq!(
        jwt::verify(&t, &rotated, &Validation::default(), NOW).unwrap(),
        claims
    );
    for _ in 0..latchkey::keys::KEEP_ON_ROTATE {
        ring = ring.rotated().unwrap();
    }
    let dropped = ring.key_set(Purpose::ApiToken);
    assert_eq!(
        jwt::verify(&t, &dropped, &Validation::default(), NOW),
        Err(TokenError::UnknownKid)
    );
}

#[test]
fn time_issuer_audience_and_type_are_enforced() {
    let k = keys();
    let token = |p: String| forge(GOOD_HEADER, &p, Some(k.current()));
    let exp = NOW + 600;
    assert_eq!(
        check(&token(format!(r#"{{"exp":{exp},"nbf":{}}}"#, NOW + 11))),
        Err(TokenError::NotYetValid)
    );
    assert!(check(&token(format!(r#"{{"exp":{exp},"nbf":{}}}"#, NOW + 10))).is_ok());
    assert_eq!(
        check(&token(format!(r#"{{"exp":{exp},"iat":{}}}"#, NOW + 11))),
        Err(TokenError::IssuedInFuture)
    );
    assert_eq!(
        check(&token(format!(r#"{{"exp":{}}}"#, NOW - 10))),
        Err(TokenError::Expired)
    );
    assert!(check(&token(format!(r#"{{"exp":{}}}"#, NOW - 9))).is_ok());
    let aud = token(format!(
        r#"{{"exp":{exp},"aud":["web","api"],"iss":"me","type":"refresh"}}"#
    ));
    assert_eq!(check(&aud), Err(TokenError::WrongAudience));
    let v = |f: fn(&mut Validation)| {
        let mut v = Validation {
            audience: Some("api".into()),
            ..Validation::default()
        };
        f(&mut v);
        check_with(&aud, &v)
    };
    assert!(v(|_| {}).is_ok());
    assert_eq!(
        v(|v| v.audience = Some("db".into())),
        Err(TokenError::WrongAudience)
    );
    assert_eq!(
        v(|v| v.issuer = Some("you".into())),
        Err(TokenError::WrongIssuer)
    );
    assert!(v(|v| v.issuer = Some("me".into())).is_ok());
    assert_eq!(
        v(|v| v.token_type = Some(TokenType::Access)),
        Err(TokenError::WrongTokenType)
    );
    assert!(v(|v| v.token_type = Some(TokenType::Refresh)).is_ok());
    let bare = token(format!(r#"{{"exp":{exp}}}"#));
    let want_iss = Validation {
        issuer: Some("me".into()),
        ..Validation::default()
    };
    assert_eq!(
        check_with(&bare, &want_iss),
        Err(TokenError::MissingClaim("iss"))
    );
}

#[test]
fn flask_jwt_identity_is_the_subject() {
    let k = keys();
    let t = forge(
        GOOD_HEADER,
        &format!(r#"{{"identity":"alice","exp":{}}}"#, NOW + 60),
        Some(k.current()),
    );
    assert_eq!(check(&t).unwrap().sub.as_deref(), Some("alice"));
    let t = forge(
        GOOD_HEADER,
        &format!(r#"{{"identity":7,"exp":{}}}"#, NOW + 60),
        Some(k.current()),
    );
    let c = check(&t).unwrap();
    assert_eq!(
        (c.sub, c.extra["identity"].clone()),
        (None, serde_json::json!(7))
    );
}

/// A token whose header is the one `sign` writes takes the verification shortcut;
/// broken in each way the shortcut skips looking for, it must get the general
/// path's error, not a guess.
#[test]
fn the_signing_shortcut_reports_the_general_errors() {
    let k = keys();
    let signed = |payload_b64: &str| {
        let input = format!("{}.{payload_b64}", B64.encode(GOOD_HEADER));
        let mut mac = k.current().mac();
        mac.update(input.as_bytes());
        format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
    };
    let payload_b64 = B64.encode(payload());
    assert!(check(&signed(&payload_b64)).is_ok());
    // A stray dot inside an authentic payload: four segments, not bad base64.
    let (front, back) = payload_b64.split_at(8);
    assert_eq!(
        check(&signed(&format!("{front}.{back}"))),
        Err(TokenError::SegmentCount)
    );
    // An authentic payload that is not base64url.
    assert_eq!(
        check(&signed(&format!("{front}+{back}"))),
        Err(TokenError::BadBase64)
    );
    let good = signed(&payload_b64);
    let (input, tag) = good.rsplit_once('.').unwrap();
    // The same tag bytes spelled with non-zero trailing bits: not canonical.
    let last = tag.as_bytes()[42];
    let sibling = if last % 2 == 0 { last + 1 } else { last - 1 };
    let spelled = format!("{input}.{}{}", &tag[..42], sibling as char);
    assert_eq!(check(&spelled), Err(TokenError::BadBase64));
    // A tag of the right length that is simply wrong.
    let wrong = format!("{input}.{}", B64.encode([0u8; 32]));
    assert_eq!(check(&wrong), Err(TokenError::BadSignature));
    // No dot where the tag's should be, and tags of the wrong length.
    assert_eq!(
        check(&format!("{input}x{tag}")),
        Err(TokenError::SegmentCount)
    );
    // 41 characters are no base64 length; 44 decode to 33 bytes, no HS256 tag.
    assert_eq!(check(&good[..good.len() - 2]), Err(TokenError::BadBase64));
    assert_eq!(check(&format!("{good}A")), Err(TokenError::BadSignature));
    // The header `sign` writes, naming a key this set does not have.
    let other = Keyring::from_master("k2", &[42u8; 32])
        .unwrap()
        .key_set(Purpose::ApiToken);
    let foreign = jwt::sign(
        &Claims::new_token("admin", NOW, 60, "j", TokenType::Access),
        other.current(),
    );
    assert_eq!(check(&foreign), Err(TokenError::UnknownKid));
}

/// The header `sign` writes for a key without id names the current key, on the
/// shortcut as on the general path.
#[test]
fn a_kidless_header_names_the_current_key() {
    let k = keys();
    let kidless = forge(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &payload(),
        Some(k.current()),
    );
    assert!(kidless.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
    assert_eq!(check(&kidless).unwrap().sub.as_deref(), Some("admin"));
}
