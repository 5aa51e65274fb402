//! Review of the integ speed work: security properties the fast paths must keep,
//! pinned across the shortcut/general split (jwt), the thread-local scratch reuse,
//! and the session-bound CSRF tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac;
use latchkey::cookie::{CookieError, csrf};
use latchkey::jwt::{self, TokenError, Validation};
use latchkey::keys::{KeySet, Keyring, Purpose};

const NOW: u64 = 1_700_000_000;

fn keys() -> KeySet {
    Keyring::from_master("k1", &[9u8; 32])
        .unwrap()
        .key_set(Purpose::ApiToken)
}

fn signed_with(header: &str, payload: &str) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let mut mac = keys().current().mac();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

const KID_HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;
const PLAIN_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Every single-character change, deletion and insertion of a token signed with
/// either header the shortcut recognises is refused (never a view of other claims).
#[test]
fn no_one_character_edit_of_a_shortcut_token_verifies() {
    let k = keys();
    let payload = format!(r#"{{"sub":"admin","exp":{},"type":"access"}}"#, NOW + 60);
    let mut scratch = Vec::new();
    for header in [KID_HEADER, PLAIN_HEADER] {
        let good = signed_with(header, &payload);
        assert!(jwt::verify_view(&good, &k, &Validation::default(), NOW, &mut scratch).is_ok());
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
            let got = jwt::verify_view(&t, &k, &Validation::default(), NOW, &mut scratch);
            assert!(got.is_err(), "{t} verified: {got:?}");
        }
    }
}

/// A token signed over a payload segment holding a dot (header.a.b.tag with the MAC
/// over all of it) is refused by the shortcut and the general path alike.
#[test]
fn a_signed_input_with_an_extra_dot_is_refused() {
    let k = keys();
    let header = B64.encode(KID_HEADER);
    let p = B64.encode(format!(r#"{{"sub":"admin","exp":{}}}"#, NOW + 60));
    for input in [
        format!("{header}.{p}.{p}"),
        format!("{header}..{p}"),
        format!("{header}.{p}."),
    ] {
        let mut mac = k.current().mac();
        mac.update(input.as_bytes());
        let t = format!("{input}.{}", B64.encode(mac.finalize().into_bytes()));
        let mut scratch = Vec::new();
        let got = jwt::verify_view(&t, &k, &Validation::default(), NOW, &mut scratch);
        assert!(
            matches!(
                got,
                Err(TokenError::SegmentCount | TokenError::EmptySegment)
            ),
            "{input}: {got:?}"
        );
    }
}

/// The scratch buffer is reused without clearing: a later token, good or bad,
/// never reads the earlier token's claims.
#[test]
fn a_reused_scratch_never_answers_an_earlier_tokens_claims() {
    let k = keys();
    let v = Validation::default();
    let long = signed_with(
        KID_HEADER,
        &format!(
            r#"{{"sub":"admin","exp":{},"jti":"{}"}}"#,
            NOW + 60,
            "x".repeat(200)
        ),
    );
    let short = signed_with(
        KID_HEADER,
        &format!(r#"{{"sub":"bob","exp":{}}}"#, NOW + 60),
    );
    let mut scratch = Vec::new();
    assert!(jwt::verify_view(&long, &k, &v, NOW, &mut scratch).is_ok());
    let view = jwt::verify_view(&short, &k, &v, NOW, &mut scratch).unwrap();
    assert_eq!(view.sub.as_deref(), Some("bob"));
    assert_eq!(view.jti, None);
    // Authentic header and tag, payload segment not base64url: an error, not the
    // previous payload still in the buffer.
    assert!(jwt::verify_view(&long, &k, &v, NOW, &mut scratch).is_ok());
    let input = format!("{}.{}", B64.encode(KID_HEADER), "AB*D");
    let mut mac = k.current().mac();
    mac.update(input.as_bytes());
    let bad = format!("{input}.{}", B64.encode(mac.finalize().into_bytes()));
    assert_eq!(
        jwt::verify_view(&bad, &k, &v, NOW, &mut scratch).map(|c| c.sub.map(|s| s.into_owned())),
        Err(TokenError::BadBase64)
    );
    // Same for a token whose shortcut MAC fails.
    let mut forged = short.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(jwt::verify_view(&long, &k, &v, NOW, &mut scratch).is_ok());
    assert_eq!(
        jwt::verify_view(&forged, &k, &v, NOW, &mut scratch).map(|c| c.sub.map(|s| s.into_owned())),
        Err(TokenError::BadSignature)
    );
}

/// The flat scanner and the general one agree on sub/identity and duplicates for
/// payloads a shortcut could get wrong.
#[test]
fn flat_payload_edge_cases_answer_like_verify() {
    let k = keys();
    let v = Validation::default();
    let exp = NOW + 60;
    for payload in [
        format!(r#"{{"sub":"admin","sub":"bob","exp":{exp}}}"#),
        format!(r#"{{"sub":"admin","s\u0075b":"bob","exp":{exp}}}"#),
        format!(r#"{{"identity":"admin","identity":"bob","exp":{exp}}}"#),
        format!(r#"{{"sub":"admin","identity":"admin ","exp":{exp}}}"#),
        format!(r#"{{"sub":"admin","exp":{exp},"exp":1}}"#),
        format!(r#"{{"sub":"admin","exp":{exp}0}}"#),
        format!(r#"{{"sub":"admin","exp":{exp}.5}}"#),
        format!(r#"{{"sub":"admin","exp":0{exp}}}"#),
        format!(r#"{{"sub":"admin","exp":{exp},"type":"access","type":"refresh"}}"#),
        format!(r#"{{"sub":"ad\u0000min","exp":{exp}}}"#),
        format!("{{\"sub\":\"ad\u{1}min\",\"exp\":{exp}}}"),
        format!("{{\"sub\":\"admin\",\"exp\":{exp}}}\u{0}"),
        format!(
            r#"{{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"a":9,"sub":"x","exp":{exp}}}"#
        ),
        format!(
            r#"{{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"i":9,"sub":"x","exp":{exp}}}"#
        ),
    ] {
        let t = signed_with(KID_HEADER, &payload);
        let owned = jwt::verify(&t, &k, &v, NOW).map(|c| (c.sub, c.exp, c.token_type));
        let mut scratch = Vec::new();
        let view = jwt::verify_view(&t, &k, &v, NOW, &mut scratch)
            .map(|c| (c.sub.map(|s| s.into_owned()), c.exp, c.token_type));
        assert_eq!(owned, view, "{payload}");
        if payload.matches("\"sub\"").count() + payload.matches("\"s\\u0075b\"").count() > 1 {
            assert_eq!(view, Err(TokenError::DuplicateKey), "{payload}");
        }
    }
}

/// Session-bound logout tokens: bound to one session, refused for any other session,
/// and the bearer-identity placeholder token ends no session.
#[test]
fn logout_tokens_are_bound_to_one_session_only() {
    let ring = Keyring::from_master("k1", &[3u8; 32]).unwrap();
    let keys = ring.key_set(Purpose::Csrf);
    let a = [0x11u8; 16];
    let b = [0x22u8; 16];
    let ta = csrf::session_token(&a, &keys);
    assert_eq!(csrf::verify_session(ta.as_str(), &a, &keys), Ok(()));
    assert_eq!(
        csrf::verify_session(ta.as_str(), &b, &keys),
        Err(CookieError::BadCsrfToken)
    );
    // A login-form token handed to anyone (for their own pre-session) ends no session
    // but the one whose id encodes to that pre-session.
    let pre = csrf::new_presession().unwrap();
    let login_token = csrf::token(&pre, &keys);
    assert_eq!(
        csrf::verify_session(&login_token, &a, &keys),
        Err(CookieError::BadCsrfToken)
    );
    // The welcome page of a bearer identity carries the token of the empty binding.
    let placeholder = csrf::token_text("", &keys);
    for sid in [a, b, [0u8; 16]] {
        assert_eq!(
            csrf::verify_session(placeholder.as_str(), &sid, &keys),
            Err(CookieError::BadCsrfToken)
        );
    }
    assert_eq!(
        csrf::verify(placeholder.as_str(), "", &keys),
        Err(CookieError::BadCsrfToken)
    );
    // Another purpose's key never makes a valid token.
    let other = csrf::session_token(&a, &ring.key_set(Purpose::SessionCookie));
    assert_eq!(
        csrf::verify_session(other.as_str(), &a, &keys),
        Err(CookieError::BadCsrfToken)
    );
}
