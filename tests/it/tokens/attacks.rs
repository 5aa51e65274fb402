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

/// Verifies with the default validation at `NOW`.
fn check(token: &str) -> Result<Claims, TokenError> {
    check_with(token, &Validation::default())
}

fn check_with(token: &str, validation: &Validation) -> Result<Claims, TokenError> {
    jwt::verify(token, &keys(), validation, NOW)
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

/// A correctly signed token broken in one place gets the precise error of that
/// place, never a guess.
#[test]
fn a_broken_signed_token_gets_a_precise_error() {
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

/// The header `sign` writes for a key without id names the current key.
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

const PLAIN_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Every single-character change, deletion and insertion of a token signed with
/// either header `sign` writes is refused (never a token of other claims).
#[test]
fn no_one_character_edit_of_a_signed_token_verifies() {
    let k = keys();
    let payload = format!(r#"{{"sub":"admin","exp":{},"type":"access"}}"#, NOW + 60);
    for header in [GOOD_HEADER, PLAIN_HEADER] {
        let good = forge(header, &payload, Some(k.current()));
        assert!(check(&good).is_ok());
        let bytes = good.as_bytes();
        let mut edits = Vec::new();
        for i in 0..bytes.len() {
            for c in [b'.', b'A', b'B', b'-', b'_', b'=', b'Q'] {
                if bytes[i] != c {
                    let mut t = bytes.to_vec();
                    t[i] = c;
                    edits.push(t);
                }
            }
            let mut del = bytes.to_vec();
            del.remove(i);
            edits.push(del);
            let mut ins = bytes.to_vec();
            ins.insert(i, b'.');
            edits.push(ins);
        }
        edits.push([bytes, b"."].concat());
        edits.push([bytes, b"A"].concat());
        for t in edits {
            let t = String::from_utf8(t).unwrap();
            // A change in the tag's last character that only touches its ignored
            // low bits is not canonical base64url: refused as such.
            let got = check(&t);
            assert!(got.is_err(), "{t} verified: {got:?}");
        }
    }
}

/// A token signed over a payload segment holding a dot (header.a.b.tag with the MAC
/// over all of it) is refused for its shape.
#[test]
fn a_signed_input_with_an_extra_dot_is_refused() {
    let k = keys();
    let header = B64.encode(GOOD_HEADER);
    let p = B64.encode(format!(r#"{{"sub":"admin","exp":{}}}"#, NOW + 60));
    for input in [
        format!("{header}.{p}.{p}"),
        format!("{header}..{p}"),
        format!("{header}.{p}."),
    ] {
        let mut mac = k.current().mac();
        mac.update(input.as_bytes());
        let t = format!("{input}.{}", B64.encode(mac.finalize().into_bytes()));
        let got = check(&t);
        assert!(
            matches!(
                got,
                Err(TokenError::SegmentCount | TokenError::EmptySegment)
            ),
            "{input}: {got:?}"
        );
    }
}

/// Payloads near the shape `sign` writes, each with the answer the rules give:
/// duplicates (also through escapes), a conflicting `identity`, numbers that are not
/// plain NumericDates, raw control characters and trailing bytes.
#[test]
fn near_issued_payloads_get_their_exact_answer() {
    let k = keys();
    let exp = NOW + 60;
    let dup = Err(TokenError::DuplicateKey);
    // The subject and expiry a payload verifies to, or its error.
    type Answer = Result<(Option<&'static str>, Option<u64>), TokenError>;
    let cases: Vec<(String, Answer)> = vec![
        (format!(r#"{{"sub":"admin","sub":"bob","exp":{exp}}}"#), dup),
        (
            format!(r#"{{"sub":"admin","s\u0075b":"bob","exp":{exp}}}"#),
            dup,
        ),
        (
            format!(r#"{{"identity":"admin","identity":"bob","exp":{exp}}}"#),
            dup,
        ),
        (format!(r#"{{"sub":"admin","exp":{exp},"exp":1}}"#), dup),
        (
            format!(r#"{{"sub":"admin","exp":{exp},"type":"access","type":"refresh"}}"#),
            dup,
        ),
        (
            format!(
                r#"{{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"a":9,"sub":"x","exp":{exp}}}"#
            ),
            dup,
        ),
        (
            format!(
                r#"{{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"i":9,"sub":"x","exp":{exp}}}"#
            ),
            dup,
        ),
        (
            format!(r#"{{"sub":"admin","identity":"admin ","exp":{exp}}}"#),
            Err(TokenError::ConflictingSubject),
        ),
        (
            format!(r#"{{"sub":"admin","exp":{exp}0}}"#),
            Ok((Some("admin"), Some(exp * 10))),
        ),
        (
            format!(r#"{{"sub":"admin","exp":{exp}.5}}"#),
            Ok((Some("admin"), Some(exp))),
        ),
        (
            format!(r#"{{"sub":"admin","exp":0{exp}}}"#),
            Err(TokenError::BadJson),
        ),
        (
            format!(r#"{{"sub":"ad\u0000min","exp":{exp}}}"#),
            Ok((Some("ad\u{0}min"), Some(exp))),
        ),
        (
            format!("{{\"sub\":\"ad\u{1}min\",\"exp\":{exp}}}"),
            Err(TokenError::BadJson),
        ),
        (
            format!("{{\"sub\":\"admin\",\"exp\":{exp}}}\u{0}"),
            Err(TokenError::BadJson),
        ),
    ];
    for (payload, want) in cases {
        let t = forge(GOOD_HEADER, &payload, Some(k.current()));
        let got = check(&t);
        let got = got
            .as_ref()
            .map(|c| (c.sub.as_deref(), c.exp))
            .map_err(|e| *e);
        assert_eq!(got, want, "{payload}");
    }
}

/// An authentic header and tag over a payload segment that is not base64url is
/// refused as such; a forged tag over a good payload as a bad signature.
#[test]
fn an_authentic_but_undecodable_payload_is_bad_base64() {
    let k = keys();
    let input = format!("{}.{}", B64.encode(GOOD_HEADER), "AB*D");
    let mut mac = k.current().mac();
    mac.update(input.as_bytes());
    let bad = format!("{input}.{}", B64.encode(mac.finalize().into_bytes()));
    assert_eq!(check(&bad), Err(TokenError::BadBase64));
    let mut forged = valid().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(check(&forged), Err(TokenError::BadSignature));
}

/// A token `sign` wrote reads back with every claim, typed ones and the rest.
#[test]
fn a_signed_token_yields_every_claim() {
    let k = keys();
    let claims = Claims::new_token("admin", NOW, 900, "jti-7", TokenType::Access);
    let token = jwt::sign(&claims, k.current());
    let c = jwt::verify(&token, &k, &Validation::default(), NOW + 5).unwrap();
    assert_eq!(c.sub.as_deref(), Some("admin"));
    assert_eq!(c.jti.as_deref(), Some("jti-7"));
    assert_eq!(
        (c.iat, c.nbf, c.exp),
        (Some(NOW), Some(NOW), Some(NOW + 900))
    );
    assert_eq!(c.token_type, Some(TokenType::Access));
    assert!(c.aud.is_empty());
    assert_eq!(c.extra["identity"], "admin");
    assert_eq!(c, claims);
}

#[test]
fn escaped_strings_are_decoded() {
    let k = keys();
    let token = forge(
        GOOD_HEADER,
        &format!(r#"{{"sub":"a\u00e9\"b","jti":"j\/1","exp":{}}}"#, NOW + 60),
        Some(k.current()),
    );
    let c = check(&token).unwrap();
    assert_eq!(c.sub.as_deref(), Some("a\u{e9}\"b"));
    assert_eq!(c.jti.as_deref(), Some("j/1"));
}

#[test]
fn flask_identity_is_the_subject_only_without_sub() {
    let k = keys();
    let subject =
        |payload: &str| check(&forge(GOOD_HEADER, payload, Some(k.current()))).map(|c| c.sub);
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
    for payload in [
        format!(r#"{{"identity":"alice","sub":"bob","exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":"Bob","exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":7,"exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":null,"exp":{exp}}}"#),
        format!(r#"{{"sub":"bob","identity":["bob"],"exp":{exp}}}"#),
    ] {
        let t = forge(GOOD_HEADER, &payload, Some(k.current()));
        assert_eq!(check(&t), Err(TokenError::ConflictingSubject), "{payload}");
    }
    // Only between two well-formed claims: a claim error found first still wins.
    let t = forge(
        GOOD_HEADER,
        r#"{"sub":"bob","identity":"alice","exp":"soon"}"#,
        Some(k.current()),
    );
    assert_eq!(check(&t), Err(TokenError::WrongType("exp")));
}

#[test]
fn audience_arrays_are_read_and_checked() {
    let k = keys();
    let exp = NOW + 60;
    let want_api = Validation {
        audience: Some("api".into()),
        ..Validation::default()
    };
    let aud = |payload: &str, v: &Validation| {
        check_with(&forge(GOOD_HEADER, payload, Some(k.current())), v).map(|c| c.aud)
    };
    let escaped = format!(r#"{{"aud":["web", "\u0061pi"],"exp":{exp}}}"#);
    assert_eq!(
        aud(&escaped, &want_api),
        Ok(vec!["web".into(), "api".into()])
    );
    assert_eq!(
        aud(&escaped, &Validation::default()),
        Err(TokenError::WrongAudience)
    );
    let empty = format!(r#"{{"aud":[ ],"exp":{exp}}}"#);
    assert_eq!(aud(&empty, &Validation::default()), Ok(vec![]));
    assert_eq!(aud(&empty, &want_api), Err(TokenError::MissingClaim("aud")));
    assert_eq!(
        aud(&format!(r#"{{"aud":["api",1],"exp":{exp}}}"#), &want_api),
        Err(TokenError::WrongType("aud"))
    );
    assert_eq!(
        aud(&format!(r#"{{"aud":"api","exp":{exp}}}"#), &want_api),
        Ok(vec!["api".into()])
    );
}

#[test]
fn the_first_claim_error_wins() {
    let k = keys();
    let t = forge(
        GOOD_HEADER,
        r#"{"exp":"soon","jti":5,"sub":"a"}"#,
        Some(k.current()),
    );
    assert_eq!(check(&t), Err(TokenError::WrongType("exp")));
}
