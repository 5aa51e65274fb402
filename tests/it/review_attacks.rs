//! Security review of the kernel rewrite (one verification path per credential, the
//! `base64` crate, the plain response writer, `http::header`, the `store` module):
//! attacks on the kernel through its public API, on the HTTP layer through a test
//! handler, and on the real binary.
//!
//! Each test guards a behaviour that must not regress.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac;
use latchkey::cookie::{self, CookieError, Session, csrf};
use latchkey::jwt::{self, Claims, TokenError, TokenType, Validation};
use latchkey::keys::{Key, KeySet, Keyring, Purpose};

use crate::common::*;

const NOW: u64 = 1_700_000_000;
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn ring() -> Keyring {
    Keyring::from_master("k1", &[42u8; 32]).unwrap()
}

fn token_keys() -> KeySet {
    ring().key_set(Purpose::ApiToken)
}

/// `b64(header).b64(payload).b64(HS256 tag)`, the tag made with `key`.
fn forge(header: &str, payload: &str, key: &Key) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let mut mac = key.mac();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// A correctly MACed token over `input` (already `header.payload` text).
fn sign_input(input: &str, key: &Key) -> String {
    let mut mac = key.mac();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

fn good_payload() -> String {
    format!(
        r#"{{"sub":"admin","identity":"admin","iat":{NOW},"nbf":{NOW},"exp":{},"jti":"j1","type":"access"}}"#,
        NOW + 600
    )
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;

fn verify(token: &str) -> Result<Claims, TokenError> {
    jwt::verify(token, &token_keys(), &Validation::default(), NOW)
}

/// Every way to write one base64url segment other than its canonical spelling: the
/// other last characters (non-zero trailing bits, or simply other bytes), padding,
/// the standard alphabet's `+` and `/`, whitespace, NUL and a dot-free junk byte at
/// either end or in the middle.
fn respellings(segment: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (head, last) = segment.split_at(segment.len() - 1);
    for &c in ALPHABET {
        let c = char::from(c);
        if c.to_string() != last {
            out.push(format!("{head}{c}"));
        }
    }
    for pad in ["=", "==", "==="] {
        out.push(format!("{segment}{pad}"));
    }
    let mid = segment.len() / 2;
    for odd in [" ", "\t", "\n", "\r", "\0", "+", "/", "%", "\u{e9}", "*"] {
        out.push(format!("{odd}{segment}"));
        out.push(format!("{segment}{odd}"));
        out.push(format!("{}{odd}{}", &segment[..mid], &segment[mid..]));
    }
    // The standard alphabet's spelling of the same bytes.
    let standard = segment.replace('-', "+").replace('_', "/");
    if standard != segment {
        out.push(standard);
    }
    out
}

#[test]
fn review_jwt_no_respelling_of_any_segment_verifies() {
    let keys = token_keys();
    let good = forge(HEADER, &good_payload(), keys.current());
    assert!(verify(&good).is_ok());
    let parts: Vec<&str> = good.split('.').collect();
    for at in 0..3 {
        for variant in respellings(parts[at]) {
            let mut p: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
            p[at] = variant;
            let token = p.join(".");
            assert!(verify(&token).is_err(), "segment {at} respelled: {token:?}");
            // Re-MACing the respelled header or payload does not help either: a
            // non-canonical spelling is refused as such, and a canonical spelling of
            // other bytes no longer holds the JSON it was.
            if at < 2 {
                let resigned = sign_input(&format!("{}.{}", p[0], p[1]), keys.current());
                assert!(
                    verify(&resigned).is_err(),
                    "signed non-canonical segment {at}: {resigned:?}"
                );
            }
        }
    }
    // A padded signature is refused for its spelling, not compared.
    let tag = parts[2];
    let padded = format!("{}.{}.{tag}=", parts[0], parts[1]);
    assert_eq!(verify(&padded), Err(TokenError::BadBase64));
}

#[test]
fn review_jwt_header_tricks_are_refused() {
    let keys = token_keys();
    let k = keys.current();
    let p = good_payload();
    let cases: &[(&str, TokenError)] = &[
        (r#"{"alg":"HS256","alg":"none"}"#, TokenError::DuplicateKey),
        (
            r#"{"alg":"none","\u0061lg":"HS256"}"#,
            TokenError::DuplicateKey,
        ),
        (
            r#"{"alg":"HS256","kid":"k1","kid":"zz"}"#,
            TokenError::DuplicateKey,
        ),
        (
            r#"{"alg":"HS256","x":{"a":1,"a":2}}"#,
            TokenError::DuplicateKey,
        ),
        (
            r#"{"alg":"HS256","x":[{"a":1},{"b":{"c":1,"\u0063":2}}]}"#,
            TokenError::DuplicateKey,
        ),
        (r#"{"alg":"HS256\u0000"}"#, TokenError::UnsupportedAlg),
        (r#"{"alg":"HS256 "}"#, TokenError::UnsupportedAlg),
        (r#"{"alg":"hs256"}"#, TokenError::UnsupportedAlg),
        (r#"{"alg":["HS256"]}"#, TokenError::UnsupportedAlg),
        (r#"{"alg":null}"#, TokenError::UnsupportedAlg),
        (r#"{"typ":"JWT"}"#, TokenError::MissingAlg),
        (r#"{"alg":"HS256","crit":[]}"#, TokenError::CritPresent),
        (r#"{"alg":"HS256","crit":null}"#, TokenError::CritPresent),
        (
            r#"{"alg":"HS256","\u0063rit":["exp"]}"#,
            TokenError::CritPresent,
        ),
        (r#"{"alg":"HS256","typ":"JOSE"}"#, TokenError::BadTyp),
        (r#"{"alg":"HS256","typ":"at+jwt"}"#, TokenError::BadTyp),
        (r#"{"alg":"HS256","typ":1}"#, TokenError::BadTyp),
        (r#"{"alg":"HS256","kid":"../k1"}"#, TokenError::BadKid),
        (r#"{"alg":"HS256","kid":"k1\u0000"}"#, TokenError::BadKid),
        (r#"{"alg":"HS256","kid":"k1 "}"#, TokenError::BadKid),
        (r#"{"alg":"HS256","kid":""}"#, TokenError::BadKid),
        (r#"{"alg":"HS256","kid":1}"#, TokenError::BadKid),
        (r#"{"alg":"HS256","kid":null}"#, TokenError::BadKid),
        (r#"{"alg":"HS256","kid":["k1"]}"#, TokenError::BadKid),
        (r#"{"alg":"HS256","kid":"K1"}"#, TokenError::UnknownKid),
        (r#"["alg","HS256"]"#, TokenError::NotObject),
        (r#"{"alg":"HS256",}"#, TokenError::BadJson),
        ("\u{feff}{\"alg\":\"HS256\"}", TokenError::BadJson),
    ];
    for (header, want) in cases {
        // Correctly MACed with the right key: the header alone must refuse it.
        let token = forge(header, &p, k);
        assert_eq!(verify(&token).map(|_| ()), Err(*want), "{header}");
    }
    // A header that names its own key (jwk, jku, x5u) is not obeyed: MACed with the
    // attacker's key it is a bad signature.
    let attacker = Keyring::from_master("k1", &[1u8; 32])
        .unwrap()
        .key_set(Purpose::ApiToken);
    for header in [
        r#"{"alg":"HS256","kid":"k1","jwk":{"kty":"oct","k":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}}"#,
        r#"{"alg":"HS256","kid":"k1","jku":"https://evil.example/keys"}"#,
        r#"{"alg":"HS256","x5u":"https://evil.example/cert"}"#,
    ] {
        let token = forge(header, &p, attacker.current());
        assert_eq!(verify(&token).map(|_| ()), Err(TokenError::BadSignature));
    }
    // Escapes only spell the same text: a kid or alg written with \u escapes is the
    // same name (JSON semantics), and still needs the right key.
    let escaped = r#"{"alg":"HS\u0032\u0035\u0036","kid":"k\u0031"}"#;
    assert!(verify(&forge(escaped, &p, k)).is_ok());
    assert_eq!(
        verify(&forge(escaped, &p, attacker.current())).map(|_| ()),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn review_jwt_numeric_dates_at_the_edges() {
    let k = token_keys();
    let exp = |value: &str| {
        let payload = format!(r#"{{"sub":"admin","exp":{value}}}"#);
        verify(&forge(HEADER, &payload, k.current())).map(|c| c.exp)
    };
    let other = |claim: &str, value: &str| {
        let payload = format!(r#"{{"sub":"admin","exp":{},"{claim}":{value}}}"#, NOW + 600);
        verify(&forge(HEADER, &payload, k.current())).map(|_| ())
    };
    for bad in [
        "-1",
        "-1e3",
        "-0.5",
        "9007199254740993",
        "1e16",
        "99999999999999999999999",
        "\"1800000000\"",
        "true",
        "null",
        "[1800000000]",
        "{}",
    ] {
        assert_eq!(exp(bad), Err(TokenError::WrongType("exp")), "exp {bad}");
    }
    // Numbers out of the f64 range, and leading zeros, are not JSON (RFC 8259 §6).
    for bad in ["1.8e308", "1e400", "-1e400", "0001800000000", "01"] {
        assert_eq!(exp(bad), Err(TokenError::BadJson), "exp {bad}");
    }
    for (text, secs) in [
        ("1800000000", 1_800_000_000u64),
        ("1800000000.9", 1_800_000_000),
        ("1.8e9", 1_800_000_000),
        ("18E8", 1_800_000_000),
        ("9007199254740992", 1 << 53),
    ] {
        assert_eq!(exp(text), Ok(Some(secs)), "exp {text}");
    }
    // Past or at the edge of expiry, with the default 10 s leeway.
    assert_eq!(exp(&(NOW - 10).to_string()), Err(TokenError::Expired));
    assert_eq!(exp("0"), Err(TokenError::Expired));
    assert_eq!(exp("-0"), Err(TokenError::Expired));
    assert_eq!(exp("1e-9"), Err(TokenError::Expired));
    assert!(exp(&(NOW - 9).to_string()).is_ok());
    // nbf / iat in the future beyond the leeway, in every spelling.
    for v in [
        (NOW + 11).to_string(),
        format!("{}.5", NOW + 11),
        "9007199254740992".to_owned(),
        "1.8e9".to_owned(),
    ] {
        assert_eq!(other("nbf", &v), Err(TokenError::NotYetValid), "nbf {v}");
        assert_eq!(other("iat", &v), Err(TokenError::IssuedInFuture), "iat {v}");
    }
    assert_eq!(other("nbf", &(NOW + 10).to_string()), Ok(()));
    for name in ["nbf", "iat"] {
        for bad in ["-1", "\"0\"", "9007199254740993", "null", "{}"] {
            assert_eq!(
                other(name, bad),
                Err(TokenError::WrongType(name)),
                "{name} {bad}"
            );
        }
        assert_eq!(other(name, "1e400"), Err(TokenError::BadJson));
    }
    // A missing exp is refused by default.
    let no_exp = forge(HEADER, r#"{"sub":"admin"}"#, k.current());
    assert_eq!(verify(&no_exp), Err(TokenError::MissingClaim("exp")));
}

#[test]
fn review_jwt_subject_and_identity_must_agree() {
    let k = token_keys();
    let exp = NOW + 600;
    let check = |extra: &str| {
        let payload = format!(r#"{{"exp":{exp}{extra}}}"#);
        verify(&forge(HEADER, &payload, k.current())).map(|c| c.sub)
    };
    let conflict = Err(TokenError::ConflictingSubject);
    assert_eq!(check(r#","sub":"admin","identity":"Admin""#), conflict);
    assert_eq!(check(r#","sub":"admin","identity":"admin ""#), conflict);
    assert_eq!(check(r#","sub":"admin","identity":null"#), conflict);
    assert_eq!(check(r#","sub":"admin","identity":1"#), conflict);
    assert_eq!(check(r#","sub":"admin","identity":["admin"]"#), conflict);
    assert_eq!(
        check(r#","sub":"admin","identity":{"sub":"admin"}"#),
        conflict
    );
    assert_eq!(check(r#","identity":"root","sub":"admin""#), conflict);
    // Equal after unescaping is the same user.
    assert_eq!(
        check(r#","sub":"adm\u0069n","identity":"admin""#),
        Ok(Some("admin".into()))
    );
    // identity alone is the subject only when it is a string.
    assert_eq!(check(r#","identity":"admin""#), Ok(Some("admin".into())));
    assert_eq!(check(r#","identity":7"#), Ok(None));
    assert_eq!(check(r#","sub":7"#), Err(TokenError::WrongType("sub")));
    // A duplicate sub, spelled with an escape, never picks one.
    assert_eq!(
        check(r#","sub":"bob","\u0073ub":"admin""#),
        Err(TokenError::DuplicateKey)
    );
}

#[test]
fn review_jwt_access_and_refresh_are_not_interchangeable() {
    let k = token_keys();
    let want = |t: TokenType| Validation {
        token_type: Some(t),
        ..Validation::default()
    };
    let with_type = |ty: &str| {
        let payload = format!(r#"{{"sub":"admin","exp":{},"type":{ty}}}"#, NOW + 600);
        forge(HEADER, &payload, k.current())
    };
    let v = |token: &str, t: TokenType| jwt::verify(token, &k, &want(t), NOW).map(|_| ());
    assert_eq!(v(&with_type("\"access\""), TokenType::Access), Ok(()));
    assert_eq!(
        v(&with_type("\"refresh\""), TokenType::Access),
        Err(TokenError::WrongTokenType)
    );
    assert_eq!(
        v(&with_type("\"access\""), TokenType::Refresh),
        Err(TokenError::WrongTokenType)
    );
    for odd in [
        "\"Access\"",
        "\"ACCESS\"",
        "\"access \"",
        "\"acc\\u0065ss\"",
        "\"\"",
        "null",
        "1",
        "[\"access\"]",
    ] {
        assert_eq!(
            v(&with_type(odd), TokenType::Access),
            Err(TokenError::WrongType("type")),
            "{odd}"
        );
    }
    let untyped = forge(
        HEADER,
        &format!(r#"{{"sub":"admin","exp":{}}}"#, NOW + 600),
        k.current(),
    );
    assert_eq!(
        v(&untyped, TokenType::Access),
        Err(TokenError::MissingClaim("type"))
    );
}

#[test]
fn review_jwt_the_mac_covers_the_exact_bytes() {
    let k = token_keys();
    let good = forge(HEADER, &good_payload(), k.current());
    let (input, tag) = good.rsplit_once('.').unwrap();
    let (h, p) = input.split_once('.').unwrap();
    // The same JSON re-serialised (whitespace, key order, escapes) is other bytes.
    for payload in [
        format!(" {}", good_payload()),
        good_payload().replace(",", ", "),
        good_payload().replace("\"sub\"", "\"\\u0073ub\""),
    ] {
        let token = format!("{h}.{}.{tag}", B64.encode(payload));
        assert_eq!(verify(&token).map(|_| ()), Err(TokenError::BadSignature));
    }
    // Moving bytes between header and payload keeps the concatenation but not the
    // split: refused (the header must parse, the tag must cover `h.p`).
    let shifted = format!("{h}{}.{}.{tag}", &p[..4], &p[4..]);
    assert!(verify(&shifted).is_err());
    // A tag for `h.p` under the session-cookie or CSRF purpose of the same master.
    for purpose in [Purpose::SessionCookie, Purpose::Csrf] {
        let other = ring().key_set(purpose);
        let token = sign_input(input, other.current());
        assert_eq!(verify(&token).map(|_| ()), Err(TokenError::BadSignature));
    }
    // A token longer than the limit is refused before anything else, even if signed.
    let big = format!(
        r#"{{"sub":"admin","exp":{},"pad":"{}"}}"#,
        NOW + 600,
        "x".repeat(jwt::MAX_TOKEN_LEN)
    );
    assert_eq!(
        verify(&forge(HEADER, &big, k.current())).map(|_| ()),
        Err(TokenError::TooLong)
    );
}

/// xorshift64*: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Random and mutated inputs into every fuzz target's invariant check for a few
/// seconds, without cargo-fuzz: no panic, no broken invariant.
#[test]
fn review_fuzz_checks_hold_on_random_and_mutated_input() {
    let k = token_keys();
    let seeds: Vec<Vec<u8>> = vec![
        forge(HEADER, &good_payload(), k.current()).into_bytes(),
        good_payload().into_bytes(),
        b"GET /login?next=%2Fa HTTP/1.1\r\nHost: a\r\nCookie: a=1; latchkey_session=v1.k1.AAAA.BBBB\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
        b"v1.k1.AQEFYWRtaW4.AAAA".to_vec(),
        b"a=1; b=\"2\"; __Host-latchkey_session=x".to_vec(),
        b"username=a%20b&password=%E2%82%AC&next=%2F&csrf=x".to_vec(),
        b"//evil.example/%2e%2e".to_vec(),
        b"admin $pbkdf2-sha256$i=1000,l=32$AAAA$BBBB 3 -\n".to_vec(),
        b"$pbkdf2-sha256$i=1000,l=32$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_vec(),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let budget = Duration::from_millis(600);
    for (name, check) in latchkey::internal::fuzz::TARGETS {
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < budget || runs < 64 {
            let input = if rng.below(3) == 0 {
                rng.bytes(96)
            } else {
                let mut input = seeds[rng.below(seeds.len())].clone();
                for _ in 0..=rng.below(4) {
                    if input.is_empty() {
                        input.push(rng.next() as u8);
                    }
                    let at = rng.below(input.len());
                    match rng.below(4) {
                        0 => input[at] = rng.next() as u8,
                        1 => {
                            input.remove(at);
                        }
                        2 => {
                            const ODD: &[u8] = b"=.+/ \"\\{}:,%\r\n\0";
                            input.insert(at, ODD[rng.below(ODD.len())]);
                        }
                        _ => {
                            let from = rng.below(input.len());
                            let piece: Vec<u8> = input[from..input.len().min(from + 8)].to_vec();
                            input.splice(at..at, piece);
                        }
                    }
                }
                input
            };
            let caught = std::panic::catch_unwind(|| check(&input));
            assert!(
                caught.is_ok(),
                "{name}: invariant broken on {:?}",
                String::from_utf8_lossy(&input)
            );
            runs += 1;
        }
    }
}

// ---------------------------------------------------------------------------------
// Cookies and CSRF tokens.
// ---------------------------------------------------------------------------------

fn session_keys() -> KeySet {
    ring().key_set(Purpose::SessionCookie)
}

fn a_session() -> Session {
    Session {
        user: "admin".into(),
        sid: [0x5A; 16],
        issued_at: NOW - 10,
        expires_at: NOW + 3600,
        remember: false,
        auth_time: NOW - 10,
        epoch: 7,
    }
}

#[test]
fn review_cookie_values_open_only_under_their_own_name_key_and_spelling() {
    let keys = session_keys();
    let names = [
        "__Host-latchkey_session",
        "latchkey_session",
        "latchkey_pre",
        "__Host-latchkey_pre",
        "__Secure-latchkey_session",
        "Latchkey_session",
    ];
    for name in names {
        let value = cookie::seal(&a_session(), name, keys.current());
        assert_eq!(cookie::open(&value, name, &keys, NOW), Ok(a_session()));
        for other in names.iter().filter(|o| **o != name) {
            assert_eq!(
                cookie::open(&value, other, &keys, NOW),
                Err(CookieError::BadSignature),
                "{name} -> {other}"
            );
        }
        // Another purpose's key of the same master and another master's same kid.
        for wrong in [
            ring().key_set(Purpose::ApiToken),
            ring().key_set(Purpose::Csrf),
            Keyring::from_master("k1", &[41u8; 32])
                .unwrap()
                .key_set(Purpose::SessionCookie),
        ] {
            assert_eq!(
                cookie::open(&value, name, &wrong, NOW),
                Err(CookieError::BadSignature)
            );
        }
        // Every respelling of the payload or tag segment.
        let parts: Vec<&str> = value.split('.').collect();
        for at in [2, 3] {
            for variant in respellings(parts[at]) {
                let mut p: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
                p[at] = variant;
                let forged = p.join(".");
                assert!(
                    cookie::open(&forged, name, &keys, NOW).is_err(),
                    "{forged:?}"
                );
            }
        }
        // Expiry is exclusive and not bent by leeway.
        assert_eq!(
            cookie::open(&value, name, &keys, NOW + 3600),
            Err(CookieError::Expired)
        );
    }
    // A JWT signed with the session key is not a cookie, and a cookie value is not a
    // JWT (different shape and different derived key).
    let value = cookie::seal(&a_session(), "latchkey_session", keys.current());
    assert!(verify(&value).is_err());
    let token = forge(HEADER, &good_payload(), keys.current());
    assert!(cookie::open(&token, "latchkey_session", &keys, NOW).is_err());
}

#[test]
fn review_duplicate_and_malformed_cookie_tossing_is_refused() {
    use latchkey::cookie::header::{get_unique, get_unique_in};
    let name = "__Host-latchkey_session";
    for header in [
        "__Host-latchkey_session=a; __Host-latchkey_session=a",
        "__Host-latchkey_session=a;__Host-latchkey_session=\"a\"",
        "x=1; __Host-latchkey_session=a; y=2; __Host-latchkey_session=b",
    ] {
        assert_eq!(
            get_unique(header, name),
            Err(CookieError::DuplicateCookie),
            "{header}"
        );
    }
    for header in [
        "__Host-latchkey_session =a; __Host-latchkey_session=b",
        "\t__Host-latchkey_session\t=a;__Host-latchkey_session=b",
        "__Host-latchkey_session=a b; __Host-latchkey_session=b",
        "__Host-latchkey_session=\"a; __Host-latchkey_session=b",
        "__Host-latchkey_session=a,b",
        "__Host-latchkey_session=a\\b",
        "__Host-latchkey_session=\u{e9}",
    ] {
        assert_eq!(
            get_unique(header, name),
            Err(CookieError::MalformedPair),
            "{header}"
        );
    }
    assert_eq!(
        get_unique_in(
            [
                "a=1; __Host-latchkey_session=x",
                "__Host-latchkey_session=y"
            ],
            name
        ),
        Err(CookieError::DuplicateCookie)
    );
    // The unprefixed name a sibling subdomain can set is another cookie entirely.
    assert_eq!(
        get_unique("latchkey_session=evil; __Host-latchkey_session=ok", name),
        Ok(Some("ok"))
    );
}

#[test]
fn review_csrf_tokens_bind_to_their_presession_or_session_only() {
    let keys = ring().key_set(Purpose::Csrf);
    let pre = csrf::new_presession().unwrap();
    let other = csrf::new_presession().unwrap();
    let t = csrf::token(&pre, &keys);
    assert_eq!(csrf::verify(&t, &pre, &keys), Ok(()));
    assert_eq!(
        csrf::verify(&t, &other, &keys),
        Err(CookieError::BadCsrfToken)
    );
    // Respelled tokens, respelled presessions and other purposes' keys fail.
    for variant in respellings(&t) {
        assert_eq!(
            csrf::verify(&variant, &pre, &keys),
            Err(CookieError::BadCsrfToken),
            "{variant:?}"
        );
    }
    // (A respelling that is itself the canonical text of other 16 bytes is simply
    // another presession, so it is left out.)
    let canonical = |v: &str| {
        B64.decode(v)
            .is_ok_and(|b| b.len() == 16 && B64.encode(&b) == v)
    };
    for variant in respellings(&pre).into_iter().filter(|v| !canonical(v)) {
        assert_eq!(
            csrf::verify(&csrf::token(&variant, &keys), &variant, &keys),
            Err(CookieError::BadCsrfToken),
            "{variant:?}"
        );
    }
    for purpose in [Purpose::SessionCookie, Purpose::ApiToken] {
        let wrong = ring().key_set(purpose);
        assert_eq!(
            csrf::verify(&csrf::token(&pre, &wrong), &pre, &keys),
            Err(CookieError::BadCsrfToken)
        );
    }
    // The logout token of a session ends that session only; the placeholder a bearer
    // identity's page carries verifies for no presession and no session.
    let sid = [9u8; 16];
    let st = csrf::session_token(&sid, &keys);
    assert_eq!(csrf::verify_session(st.as_str(), &sid, &keys), Ok(()));
    assert!(csrf::verify_session(st.as_str(), &[8u8; 16], &keys).is_err());
    assert!(csrf::verify_session(&t, &sid, &keys).is_err());
    let placeholder = csrf::token_text("", &keys);
    assert!(csrf::verify(placeholder.as_str(), "", &keys).is_err());
    let mut rng = Rng(7);
    for _ in 0..256 {
        let mut sid = [0u8; 16];
        sid.iter_mut().for_each(|b| *b = rng.next() as u8);
        assert!(csrf::verify_session(placeholder.as_str(), &sid, &keys).is_err());
    }
}

#[test]
fn review_debug_output_shows_no_secret() {
    let secret: Vec<u8> = (0xA1..=0xC0).collect();
    let ring = Keyring::from_master("k1", &secret).unwrap();
    let b64_secret = B64.encode(&secret);
    let decimal = format!("{}, {}, {}", secret[0], secret[1], secret[2]);
    let hex = "a1a2a3";
    let keys = KeySets::new(&ring);
    let session_value = cookie::seal(&a_session(), "latchkey_session", keys.session.current());
    let token = csrf::session_token(&[3u8; 16], &keys.csrf);
    let response = latchkey::http::Response::new(303)
        .header("Set-Cookie", &format!("latchkey_session={session_value}"))
        .body(token.as_str().as_bytes().to_vec());
    for text in [
        format!("{ring:?}"),
        format!("{keys:?}"),
        format!("{:?}", keys.token.current()),
        format!("{token:?}"),
        format!("{response:?}"),
    ] {
        for needle in [b64_secret.as_str(), decimal.as_str(), hex] {
            assert!(!text.contains(needle), "{needle} in {text}");
        }
        assert!(!text.contains(&session_value), "{text}");
        assert!(!text.contains(token.as_str()), "{text}");
    }
}

// ---------------------------------------------------------------------------------
// The HTTP layer: response headers and framing.
// ---------------------------------------------------------------------------------

#[test]
fn review_response_headers_refuse_every_splitting_byte() {
    use latchkey::http::{HeaderError, Response};
    for b in (0u8..0x20).chain([0x7f]) {
        let c = char::from(b);
        for value in [
            format!("{c}"),
            format!("a{c}b"),
            format!("/x{c}Set-Cookie: a=b"),
        ] {
            let mut r = Response::new(302);
            let got = r.set_header("Location", &value);
            if b == b'\t' {
                assert_eq!(got, Ok(()));
            } else {
                assert_eq!(got, Err(HeaderError::InvalidValue), "{value:?}");
            }
            // The builder form turns a bad header into a 500 without it.
            let built = Response::new(200).header("Remote-User", &value);
            assert_eq!(built.header_error().is_some(), b != b'\t');
        }
    }
    // obs-fold needs CR LF, which are refused; so does a folded continuation.
    let mut r = Response::new(200);
    assert_eq!(
        r.set_header("X-A", "a\r\n b"),
        Err(HeaderError::InvalidValue)
    );
    for name in [
        "Content-Length",
        "content-LENGTH",
        "TRANSFER-ENCODING",
        "Date",
        "connection",
    ] {
        assert_eq!(
            r.set_header(name, "1"),
            Err(HeaderError::Reserved),
            "{name}"
        );
    }
    for name in [
        "Content-Length ",
        " Location",
        "Location:",
        "X\u{0}",
        "Cont\u{435}nt-Length",
        "Set-Cookie\r\nX",
        "",
    ] {
        assert_eq!(
            r.set_header(name, "1"),
            Err(HeaderError::InvalidName),
            "{name:?}"
        );
    }
}

/// Answers `/nocontent` with a 204 and `/notmodified` with a 304 (each with a body a
/// careless handler left on it), `/` with "ok".
struct FramingHandler;

impl latchkey::http::Handler for FramingHandler {
    type Done = ();

    fn handle(&mut self, req: &latchkey::http::Request<'_>) -> latchkey::http::Reply<()> {
        use latchkey::http::{Reply, Response};
        Reply::Respond(match req.path() {
            "/nocontent" => Response::new(204).body(b"LEAKED-BODY".to_vec()),
            "/notmodified" => Response::new(304).body(b"LEAKED-BODY".to_vec()),
            "/nocontent-empty" => Response::new(204),
            _ => Response::text(200, "ok"),
        })
    }

    fn complete(&mut self, _: ()) -> latchkey::http::Response {
        latchkey::http::Response::new(500)
    }
}

fn start_framing_server() -> (SocketAddr, latchkey::http::ShutdownHandle) {
    let server = latchkey::http::Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        latchkey::http::Limits::default(),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let shutdown = server.shutdown_handle();
    std::thread::spawn(move || server.run(FramingHandler));
    (addr, shutdown)
}

/// Sends `raw` and reads until the server closes the connection.
fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A 204 or 304 ends at its head: no `Content-Length`, no body, whatever the handler
/// gave (RFC 9110 §8.6, RFC 9112 §6.3); a body would be read as the next response.
#[test]
fn a_204_or_304_ends_at_its_head() {
    let (addr, shutdown) = start_framing_server();
    for path in ["/nocontent", "/notmodified"] {
        let raw = format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        let wire = exchange(addr, raw.as_bytes());
        let (head, rest) = wire.split_once("\r\n\r\n").expect("a response head");
        if path == "/nocontent" {
            assert!(
                !head.to_ascii_lowercase().contains("content-length"),
                "204 with Content-Length: {head}"
            );
        }
        assert!(
            rest.starts_with("HTTP/1.1 200 OK\r\n"),
            "{path}: bytes after the head are not the next response: {rest:?}"
        );
    }
    shutdown.shutdown();
}

#[test]
fn review_plain_responses_have_exactly_one_framing() {
    let (addr, shutdown) = start_framing_server();
    let wire = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\nHEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let answers: Vec<&str> = wire.split("HTTP/1.").skip(1).collect();
    assert_eq!(answers.len(), 4, "{wire}");
    for (i, a) in answers.iter().enumerate() {
        let head = format!("{}\r\n", a.split("\r\n\r\n").next().unwrap()).to_ascii_lowercase();
        assert_eq!(
            head.matches("\r\ncontent-length: 2\r\n").count(),
            1,
            "{i}: {head}"
        );
        assert_eq!(head.matches("\r\ndate: ").count(), 1, "{i}: {head}");
        assert!(!head.contains("transfer-encoding"), "{i}: {head}");
        assert!(head.matches("\r\nconnection: ").count() <= 1, "{i}: {head}");
    }
    assert!(
        answers[1].ends_with("\r\n\r\n"),
        "HEAD with a body: {:?}",
        answers[1]
    );
    assert!(answers[2].contains("\r\nConnection: keep-alive\r\n"));
    assert!(answers[3].contains("\r\nConnection: close\r\n"));
    shutdown.shutdown();
}

// ---------------------------------------------------------------------------------
// The real binary.
// ---------------------------------------------------------------------------------

/// The service's own key sets, read from its data dir as an insider with the keys
/// file would: to forge authentic credentials with unusual content.
fn server_keys(data: &Path) -> KeySets {
    let text = std::fs::read_to_string(data.join("keys")).unwrap();
    KeySets::new(&Keyring::parse(&text).unwrap())
}

/// Every purpose's key set, as the service derives them from its keyring.
#[derive(Debug)]
struct KeySets {
    session: latchkey::keys::KeySet,
    token: latchkey::keys::KeySet,
    csrf: latchkey::keys::KeySet,
}

impl KeySets {
    fn new(ring: &Keyring) -> KeySets {
        use latchkey::keys::Purpose;
        KeySets {
            session: ring.key_set(Purpose::SessionCookie),
            token: ring.key_set(Purpose::ApiToken),
            csrf: ring.key_set(Purpose::Csrf),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt_auth(token: &str) -> String {
    format!("JWT {token}")
}

/// The status of every route that accepts a credential, for one set of headers.
fn statuses(srv: &Server, headers: &[(&str, &str)]) -> Vec<(&'static str, u16)> {
    ["/", "/verify", "/forward-auth", "/protected"]
        .into_iter()
        .map(|path| (path, srv.get(path, headers).status))
        .collect()
}

fn all_refused(srv: &Server, headers: &[(&str, &str)]) -> bool {
    statuses(srv, headers).iter().all(|(_, s)| *s != 200)
}

fn refresh(srv: &Server, token: &str) -> u16 {
    srv.post(
        "/auth/refresh",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
    .status
}

#[test]
fn review_refresh_and_access_tokens_stay_in_their_lanes() {
    let tmp = TempDir::new("review-lanes");
    let data = data_dir_with_users(&tmp, &[("lane", "pw-lane-123")]);
    let srv = Server::start(&data, &["--refresh-ttl", "1h"]);
    let body = serde_json::json!({"username": "lane", "password": "pw-lane-123"}).to_string();
    let r = srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let refresh_token = r.json()["refresh_token"].as_str().unwrap().to_owned();

    let good = statuses(&srv, &[("Authorization", &jwt_auth(&access))]);
    assert!(good.iter().all(|(_, s)| *s == 200), "{good:?}");
    // A refresh token is no access token on any route, in any scheme.
    for scheme in ["JWT", "Bearer", "bearer"] {
        let h = format!("{scheme} {refresh_token}");
        let got = statuses(&srv, &[("Authorization", &h)]);
        assert!(got.iter().all(|(_, s)| *s != 200), "{scheme}: {got:?}");
    }
    // And an access token mints nothing.
    assert_eq!(refresh(&srv, &access), 401);
    let body = serde_json::json!({ "refresh_token": access }).to_string();
    assert_eq!(
        srv.post(
            "/auth/refresh",
            &[("Content-Type", "application/json")],
            body.as_bytes()
        )
        .status,
        401
    );
    assert_eq!(refresh(&srv, &refresh_token), 200);
    // A refreshed answer carries no new refresh token (no endless chain).
    let r = srv.post(
        "/auth/refresh",
        &[("Authorization", &jwt_auth(&refresh_token))],
        b"",
    );
    assert!(r.json().get("refresh_token").is_none(), "{}", r.text());
    // A refresh token revoked by its id mints nothing more.
    let claims = cli(
        &[
            "token",
            "verify",
            &refresh_token,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "",
    );
    let jti = serde_json::from_str::<serde_json::Value>(&claims.stdout).unwrap()["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = cli(
        &[
            "token",
            "revoke",
            &jti,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let deadline = Instant::now() + Duration::from_secs(5);
    while refresh(&srv, &refresh_token) == 200 {
        assert!(
            Instant::now() < deadline,
            "revoked refresh token still mints"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn review_authentic_credentials_still_pass_every_service_check() {
    let tmp = TempDir::new("review-admit");
    let data = data_dir_with_users(&tmp, &[("ann", "pw-ann-1234"), ("bob", "pw-bob-1234")]);
    let srv = Server::start(&data, &[]);
    let keys = server_keys(&data);
    let now = unix_now();
    let token_for = |payload: String| {
        let kid = keys.token.current().kid().unwrap().to_owned();
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
        jwt_auth(&forge(&header, &payload, keys.token.current()))
    };
    let base = |extra: &str| {
        format!(
            r#"{{"iat":{now},"nbf":{now},"exp":{},"jti":"review-{extra_len}","type":"access"{extra}}}"#,
            now + 300,
            extra_len = extra.len()
        )
    };
    // The baseline: an authentic access token for ann passes everywhere.
    let ok = token_for(base(r#","sub":"ann","identity":"ann""#));
    let got = statuses(&srv, &[("Authorization", &ok)]);
    assert!(got.iter().all(|(_, s)| *s == 200), "{got:?}");
    // Remote-User is the user's name, once, whatever the request said.
    let r = srv.get("/verify", &[("Authorization", &ok), ("Remote-User", "bob")]);
    assert_eq!(r.headers_all("remote-user"), ["ann"]);
    let r = srv.get("/verify", &[("Remote-User", "ann")]);
    assert_eq!(r.status, 401);
    assert!(r.header("remote-user").is_none());

    // Authentic, yet refused by the checks after the kernel.
    for (what, payload) in [
        ("unknown user", base(r#","sub":"ghost""#)),
        ("case-folded user", base(r#","sub":"Ann""#)),
        ("no subject", base("")),
        (
            "sub and identity differ",
            base(r#","sub":"ann","identity":"bob""#),
        ),
        (
            "identity not a string",
            base(r#","sub":"ann","identity":null"#),
        ),
        (
            "refresh on an access route",
            base(r#","sub":"ann","type":"refresh""#).replacen(r#","type":"access""#, "", 1),
        ),
        ("audience we are not", base(r#","sub":"ann","aud":"other""#)),
        (
            "issued in the future",
            base(r#","sub":"ann""#).replacen(
                &format!(r#""iat":{now}"#),
                &format!(r#""iat":{}"#, now + 3600),
                1,
            ),
        ),
        (
            "not yet valid",
            base(r#","sub":"ann""#).replacen(
                &format!(r#""nbf":{now}"#),
                &format!(r#""nbf":{}"#, now + 3600),
                1,
            ),
        ),
    ] {
        let h = token_for(payload);
        let got = statuses(&srv, &[("Authorization", &h)]);
        assert!(got.iter().all(|(_, s)| *s != 200), "{what}: {got:?}");
    }

    // Sessions: authentic cookies for a user who is not there, or whose password
    // epoch moved on, are refused too.
    let epoch = |name: &str| {
        let text = std::fs::read_to_string(data.join("users")).unwrap();
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split(' ').nth(2))
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let cookie_for = |user: &str, epoch: u64, issued_at: u64| {
        let s = Session {
            user: user.into(),
            sid: [now as u8; 16],
            issued_at,
            expires_at: now + 600,
            remember: false,
            auth_time: issued_at,
            epoch,
        };
        format!(
            "latchkey_session={}",
            cookie::seal(&s, "latchkey_session", keys.session.current())
        )
    };
    let good = cookie_for("ann", epoch("ann"), now);
    assert_eq!(srv.get("/", &[("Cookie", &good)]).status, 200);
    assert_eq!(srv.get("/verify", &[("Cookie", &good)]).status, 200);
    for (what, c) in [
        ("unknown user", cookie_for("ghost", 0, now)),
        (
            "wrong epoch",
            cookie_for("ann", epoch("ann").wrapping_add(1), now),
        ),
        ("another user's epoch", cookie_for("ann", epoch("bob"), now)),
    ] {
        assert_ne!(srv.get("/verify", &[("Cookie", &c)]).status, 200, "{what}");
        assert_ne!(srv.get("/", &[("Cookie", &c)]).status, 200, "{what}");
    }
    // The same authentic value under both names, or twice, is a toss: refused.
    let value = good.split_once('=').unwrap().1;
    for header in [
        format!("{good}; {good}"),
        format!("{good}; latchkey_session=x"),
        format!("latchkey_session=\"{value}\"; {good}"),
    ] {
        assert_ne!(
            srv.get("/verify", &[("Cookie", &header)]).status,
            200,
            "{header}"
        );
    }

    // A revoke-all ends authentic tokens without jti or iat too (iat counts as 0).
    let no_iat = token_for(format!(
        r#"{{"sub":"bob","exp":{},"type":"access"}}"#,
        now + 300
    ));
    assert_eq!(
        srv.get("/protected", &[("Authorization", &no_iat)]).status,
        200
    );
    let bob_cookie = cookie_for("bob", epoch("bob"), now);
    let r = cli(
        &[
            "session",
            "revoke-all",
            "bob",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(all_refused(&srv, &[("Authorization", &no_iat)])
        && all_refused(&srv, &[("Cookie", &bob_cookie)]))
    {
        assert!(
            Instant::now() < deadline,
            "revoke-all did not reach every route"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // ann is untouched.
    assert_eq!(srv.get("/protected", &[("Authorization", &ok)]).status, 200);
}

#[test]
fn review_deleted_and_recreated_users_do_not_inherit_credentials() {
    let tmp = TempDir::new("review-recreate");
    let data = data_dir_with_users(&tmp, &[("cat", "pw-cat-1234")]);
    let dd = data.to_str().unwrap();
    let srv = Server::start(&data, &["--refresh-ttl", "1h"]);
    let cookie = browser_login(&srv, "cat", "pw-cat-1234", true, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let body = serde_json::json!({"username": "cat", "password": "pw-cat-1234"}).to_string();
    let r = srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let refresh_token = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(srv.get("/verify", &[("Cookie", &cookie)]).status, 200);

    assert_eq!(cli(&["user", "del", "cat", "--data-dir", dd], "").code, 0);
    add_user(&data, "cat", "pw-cat-5678");
    // Give the server its reload tick, then every old credential is dead everywhere.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let dead = all_refused(&srv, &[("Cookie", &cookie)])
            && all_refused(&srv, &[("Authorization", &jwt_auth(&access))])
            && refresh(&srv, &refresh_token) != 200;
        if dead {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "an old credential survived user del + add"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The new account works with its own password, the old one is refused.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        browser_login(&srv, "cat", "pw-cat-5678", false, None).status,
        303
    );
    assert_eq!(
        browser_login(&srv, "cat", "pw-cat-1234", false, None).status,
        401
    );
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[test]
fn review_reflected_input_never_splits_a_response() {
    let tmp = TempDir::new("review-reflect");
    let data = data_dir_with_users(&tmp, &[("eve", "pw-eve-1234")]);
    let srv = Server::start(&data, &[]);
    let injected = |r: &Response| {
        r.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("x-pwn") || v.contains("pwn=1") || has_control(v))
    };
    let payloads = [
        "/%0d%0aSet-Cookie:%20pwn=1",
        "/%0D%0AX-Pwn:%201",
        "/%0aX-Pwn:%201",
        "/%0dX-Pwn:%201",
        "/%00X-Pwn",
        "/a%E2%80%A8X-Pwn:1",
        "/%c0%8d%c0%8aX-Pwn:1",
    ];
    for p in payloads {
        // The redirect to the login page carries the path as `next`.
        let r = srv.get(p, &[]);
        assert_eq!(r.status, 302, "{p}: {r:?}");
        assert!(!injected(&r), "{p}: {r:?}");
        let login = r.header("location").unwrap();
        assert!(login.starts_with("/login?next="), "{login}");
        // `next` on the login page and in the form post.
        let r = srv.get(&format!("/login?next={}", &p[1..]), &[]);
        assert_eq!(r.status, 200, "{p}");
        assert!(!injected(&r));
        let r = browser_login(&srv, "eve", "pw-eve-1234", false, Some(&url_decode(p)));
        assert_eq!(r.status, 303, "{p}: {r:?}");
        assert!(!injected(&r), "{p}: {r:?}");
        assert!(!has_control(r.header("location").unwrap()));
    }
    // Forward auth: the original URL headers end up in Location.
    for (name, value) in [
        ("X-Original-URL", "http://evil.example/%0d%0aX-Pwn:%201"),
        ("X-Original-URI", "/admin/%0d%0aSet-Cookie:%20pwn=1"),
        ("X-Forwarded-Uri", "/\u{e9}t\u{e9}?a=%0a"),
    ] {
        for path in ["/verify", "/forward-auth"] {
            let r = srv.get(path, &[(name, value), ("X-Forwarded-Host", "evil.example")]);
            assert!(matches!(r.status, 302 | 401), "{path} {name}: {r:?}");
            assert!(!injected(&r), "{path} {name}: {r:?}");
            let location = r.header("location").unwrap();
            assert!(location.starts_with("/login?next="), "{location}");
            assert!(!location.contains("evil.example"), "{location}");
        }
    }
}

/// Pipelines `HEAD path` and `GET path` with `headers` on one connection.
fn head_then_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (Response, Response) {
    let mut extra = String::new();
    for (n, v) in headers {
        extra.push_str(&format!("{n}: {v}\r\n"));
    }
    let mut conn = Conn::open(addr);
    conn.send(
        format!(
            "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\nGET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    let head = conn.head_response();
    let get = conn.response();
    (head, get)
}

#[test]
fn review_every_route_frames_head_and_get_exactly() {
    let tmp = TempDir::new("review-framing");
    let data = data_dir_with_users(&tmp, &[("fay", "pw-fay-1234")]);
    let srv = Server::start(&data, &[]);
    let cookie = browser_login(&srv, "fay", "pw-fay-1234", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let token = jwt_auth(&api_token(&srv, "fay", "pw-fay-1234"));
    let style = latchkey::internal::style_route();
    let routes = [
        "/healthz",
        "/login",
        "/login?next=%2Fadmin",
        "/",
        "/protected",
        "/verify",
        "/forward-auth",
        "/nope",
        "/auth",
        "/auth/refresh",
        style,
    ];
    let none: &[(&str, &str)] = &[];
    let with_cookie: &[(&str, &str)] = &[("Cookie", &cookie)];
    let with_token: &[(&str, &str)] = &[("Authorization", &token)];
    let api: &[(&str, &str)] = &[("Accept", "application/json")];
    for headers in [none, with_cookie, with_token, api] {
        for path in routes {
            let (head, get) = head_then_get(srv.addr, path, headers);
            assert_eq!(head.status, get.status, "{path} {headers:?}");
            for r in [&head, &get] {
                assert_eq!(r.headers_all("content-length").len(), 1, "{path}: {r:?}");
                assert_eq!(r.headers_all("date").len(), 1, "{path}: {r:?}");
                assert!(r.headers_all("transfer-encoding").is_empty(), "{path}");
                assert!(r.headers_all("connection").len() <= 1, "{path}");
                assert!(r.status != 204 && r.status != 304, "{path}");
            }
            let declared: usize = get.header("content-length").unwrap().parse().unwrap();
            assert_eq!(declared, get.body.len(), "{path}");
            assert_eq!(
                head.header("content-length"),
                get.header("content-length"),
                "{path} {headers:?}"
            );
        }
    }
}

/// Reads everything the server sends until it closes; counts the responses.
fn responses_until_close(addr: SocketAddr, raw: &[u8]) -> (usize, String) {
    let wire = exchange(addr, raw);
    (wire.matches("HTTP/1.1 ").count(), wire)
}

#[test]
fn review_smuggled_requests_are_never_answered_by_the_service() {
    let tmp = TempDir::new("review-smuggle");
    let data = data_dir_with_users(&tmp, &[("gus", "pw-gus-1234")]);
    let srv = Server::start(&data, &[]);
    let inner = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    let shapes: Vec<(String, &str)> = vec![
        (
            format!(
                "POST /auth HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{inner}"
            ),
            "HTTP/1.1 400 ",
        ),
        (
            format!(
                "POST /auth HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{inner}"
            ),
            "HTTP/1.1 411 ",
        ),
        (
            format!(
                "POST /auth HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n{inner}"
            ),
            "HTTP/1.1 ",
        ),
        (
            format!(
                "POST /auth HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 35\r\n\r\n{inner}"
            ),
            "HTTP/1.1 400 ",
        ),
        (
            format!("POST /auth HTTP/1.1\r\nHost: a\r\nX: a\r\n Content-Length: 35\r\n\r\n{inner}"),
            "HTTP/1.1 400 ",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n{inner}"),
            "HTTP/1.1 400 ",
        ),
        (
            format!(
                "POST /auth HTTP/1.1\r\nHost: a\r\nContent-Length: 35 \r\nContent-Length: 35\r\n\r\n{inner}"
            ),
            "HTTP/1.1 400 ",
        ),
    ];
    for (raw, want) in &shapes {
        let (count, wire) = responses_until_close(srv.addr, raw.as_bytes());
        assert_eq!(count, 1, "{raw:?}:\n{wire}");
        assert!(wire.starts_with(want), "{raw:?}:\n{wire}");
        assert!(
            !wire.contains("\r\n\r\nok\n"),
            "smuggled /healthz answered: {wire}"
        );
    }
    // A request hidden in a declared body is body, not a request; the next real
    // request on the connection gets the next answer.
    let body = inner;
    let raw = format!(
        "POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (count, wire) = responses_until_close(srv.addr, raw.as_bytes());
    assert_eq!(count, 2, "{wire}");
    assert!(!wire.contains("\r\n\r\nok\n"), "{wire}");
    assert!(srv.get("/healthz", &[]).status == 200);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs the binary with `args` under `umask 000`.
fn cli_umask0(args: &[&str], stdin: &str) -> Run {
    let mut quoted = String::new();
    for a in args {
        quoted.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
    }
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000; exec '{BIN}'{quoted}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn review_store_files_stay_private_under_a_permissive_umask() {
    let tmp = TempDir::new("review-umask");
    let data = tmp.path().join("fresh").join("data");
    let dd = data.to_str().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let r = cli_umask0(args, stdin);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    };
    run(&["calibrate", "--target", "1ms", "--data-dir", dd], "");
    run(
        &["user", "add", "hal", "--password-stdin", "--data-dir", dd],
        "pw-hal-1234\n",
    );
    run(&["key", "rotate", "--data-dir", dd], "");
    run(&["key", "rotate", "--data-dir", dd], "");
    run(&["token", "revoke", "some-id", "--data-dir", dd], "");
    run(&["session", "revoke-all", "hal", "--data-dir", dd], "");
    run(
        &[
            "user",
            "passwd",
            "hal",
            "--password-stdin",
            "--data-dir",
            dd,
        ],
        "pw-hal-5678\n",
    );
    assert_eq!(mode(&data), 0o700);
    for file in ["keys", "users", "revoked", "lock", "pbkdf2-iterations"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // No temporary file of an atomic write is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn review_serve_refuses_secret_files_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    for (file, loose) in [("keys", 0o640), ("users", 0o644), ("revoked", 0o604)] {
        let tmp = TempDir::new("review-perms");
        let data = data_dir_with_users(&tmp, &[("ian", "pw-ian-1234")]);
        let dd = data.to_str().unwrap();
        assert_eq!(cli(&["key", "rotate", "--data-dir", dd], "").code, 0);
        assert_eq!(cli(&["token", "revoke", "x", "--data-dir", dd], "").code, 0);
        std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(loose)).unwrap();
        let out = latchkey_command()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", dd])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} {loose:o}: {stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
        assert!(stderr.contains(file), "{stderr}");
    }
}

/// A users file that cannot be read (here: left readable by others after a hand edit)
/// does not keep the users it no longer lists: every credential is refused until it
/// reads again.
#[test]
fn an_unreadable_users_file_does_not_keep_removed_users() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("review-stale-users");
    let data = data_dir_with_users(&tmp, &[("ann", "pw-ann-1234"), ("leo", "pw-leo-1234")]);
    let srv = Server::start(&data, &[]);
    let cookie = browser_login(&srv, "leo", "pw-leo-1234", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    assert_eq!(srv.get("/verify", &[("Cookie", &cookie)]).status, 200);
    // Remove leo by hand; the new file ends up readable by others.
    let users = data.join("users");
    let kept: String = std::fs::read_to_string(&users)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("leo "))
        .map(|l| format!("{l}\n"))
        .collect();
    let edited = data.join("users.edit");
    std::fs::write(&edited, kept).unwrap();
    std::fs::set_permissions(&edited, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::rename(&edited, &users).unwrap();
    srv.wait_log("refusing every credential");
    assert_ne!(
        srv.get("/verify", &[("Cookie", &cookie)]).status,
        200,
        "a removed user's session still passes"
    );
}

/// A key dropped from the keys file stops verifying within a couple of seconds, and the
/// newest key signs, without a restart.
#[test]
fn a_key_dropped_from_the_keys_file_stops_verifying() {
    let tmp = TempDir::new("review-retire");
    let data = data_dir_with_users(&tmp, &[("jo", "pw-jo-12345")]);
    let dd = data.to_str().unwrap();
    let srv = Server::start(&data, &[]);
    let old_token = jwt_auth(&api_token(&srv, "jo", "pw-jo-12345"));
    let old_cookie = browser_login(&srv, "jo", "pw-jo-12345", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    assert_eq!(
        srv.get("/protected", &[("Authorization", &old_token)])
            .status,
        200
    );
    // Three rotations push the first key out of the file (three are kept).
    let first = Keyring::parse(&std::fs::read_to_string(data.join("keys")).unwrap())
        .unwrap()
        .current_kid()
        .to_owned();
    for _ in 0..3 {
        assert_eq!(cli(&["key", "rotate", "--data-dir", dd], "").code, 0);
    }
    let text = std::fs::read_to_string(data.join("keys")).unwrap();
    assert!(
        !text.contains(&format!("{first} ")),
        "first key still in the file"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        srv.get("/protected", &[("Authorization", &old_token)])
            .status,
        401,
        "a token signed with a dropped key still verifies"
    );
    assert_ne!(
        srv.get("/verify", &[("Cookie", &old_cookie)]).status,
        200,
        "a cookie sealed with a dropped key still opens"
    );
}

/// One client pipelining requests as fast as it can (and reading the answers) does not
/// keep the loop on its connection: the others are still answered promptly.
#[test]
fn one_pipelining_client_cannot_starve_the_others() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = TempDir::new("review-starve");
    let data = tmp.data_dir();
    let srv = Server::start(&data, &[]);
    let addr = srv.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let flood = TcpStream::connect(addr).unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut reader = flood.try_clone().unwrap();
    let mut writer = flood;
    let reading = Arc::clone(&stop);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        while !reading.load(Ordering::Relaxed) {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(_) => {}
            }
        }
        total
    });
    let writing = Arc::clone(&stop);
    let writer = std::thread::spawn(move || {
        let batch = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").repeat(2000);
        while !writing.load(Ordering::Relaxed) {
            if writer.write_all(batch.as_bytes()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // Another client asks three times; each must be answered within 5 s.
    let mut answered = 0;
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        if out.starts_with(b"HTTP/1.1 200 ") {
            answered += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(srv);
    let _ = writer.join();
    let flooded = reader.join().unwrap();
    assert!(flooded > 0, "the flooding client was not served at all");
    assert_eq!(
        answered, 3,
        "other clients starved while one connection pipelined"
    );
}
