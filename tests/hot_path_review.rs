//! Security review of the hot-path work (branch `hotpath`): differential checks of the
//! byte-level rewrites against the text-level code they replaced, on random and
//! edge-case inputs, and wire checks of reused response buffers.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use latchkey::cookie::header::get_unique_in;
use latchkey::cookie::session::{MAX_VALUE_LEN, PayloadBuf, open_view};
use latchkey::cookie::{CookieError, Session, open, seal};
use latchkey::keys::{KeySet, Keyring, Purpose};
use latchkey::store::users::UserDb;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random `Cookie:` lines over the characters that matter to the walk, with long clean
/// runs so values cross several 8-byte words, compared with the text walk.
#[test]
fn cookie_walk_agrees_with_the_old_text_walk_on_random_lines() {
    let pieces: [&str; 22] = [
        "sid",
        "sid",
        "sid=",
        "=",
        ";",
        "; ",
        " ",
        "\t",
        "\"",
        ",",
        "\\",
        "é",
        "😀",
        "\u{7f}",
        "\0",
        "a",
        "AbCdEfGh",
        "v1.k1.QUJD.dGFn",
        "x=1",
        "SID",
        "sid =",
        "\r",
    ];
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut some, mut malformed, mut duplicate) = (0, 0, 0);
    for _ in 0..300_000 {
        let lines_n = 1 + rng.below(3);
        let mut lines: Vec<String> = Vec::new();
        for _ in 0..lines_n {
            let mut line = String::new();
            for _ in 0..rng.below(10) {
                line.push_str(pieces[rng.below(pieces.len())]);
            }
            lines.push(line);
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        for name in ["sid", "a", "x"] {
            let got = get_unique_in(refs.iter().copied(), name);
            assert_eq!(got, old_cookie_walk(&refs, name), "{refs:?} {name}");
            match got {
                Ok(Some(_)) => some += 1,
                Err(CookieError::MalformedPair) => malformed += 1,
                Err(CookieError::DuplicateCookie) => duplicate += 1,
                _ => {}
            }
        }
    }
    // The generator reaches every answer often.
    assert!(
        some > 10_000 && malformed > 10_000 && duplicate > 300,
        "{some} {malformed} {duplicate}"
    );
}

fn keys() -> KeySet {
    Keyring::from_master("k1", &[9u8; 32])
        .unwrap()
        .key_set(Purpose::SessionCookie)
}

/// The shape checks of `open` before `first_dot` (`split_once('.')`, `contains('.')`),
/// then the MAC and payload decode as they were: `Ok(())` when the value reaches
/// payload decoding.
fn old_verify(value: &str, name: &str, keys: &KeySet) -> Result<(), CookieError> {
    const MAX_PAYLOAD_B64: usize = ((51 + 64) * 4usize).div_ceil(3);
    if value.len() > MAX_VALUE_LEN {
        return Err(CookieError::TooLong);
    }
    let Some(rest) = value.strip_prefix("v1.") else {
        return Err(if value.split('.').count() == 4 {
            CookieError::UnsupportedVersion
        } else {
            CookieError::BadFormat
        });
    };
    let kid_len = rest
        .bytes()
        .take(latchkey::keys::MAX_KID_LEN + 1)
        .position(|b| b == b'.')
        .filter(|&n| n > 0)
        .ok_or(CookieError::BadFormat)?;
    let (kid, rest) = rest.split_at(kid_len);
    let rest = &rest[1..];
    let (payload_b64, tag_b64) = rest.split_once('.').ok_or(CookieError::BadFormat)?;
    if tag_b64.contains('.') || payload_b64.len() > MAX_PAYLOAD_B64 {
        return Err(CookieError::BadFormat);
    }
    let key = keys.get(kid).ok_or(CookieError::UnknownKid)?;
    if tag_b64.len() != 43 {
        return Err(CookieError::BadSignature);
    }
    let tag = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| CookieError::BadBase64)?;
    let mut mac = key.mac();
    mac.update(&(name.len() as u64).to_be_bytes());
    mac.update(name.as_bytes());
    mac.update(format!("v1.{kid}.{payload_b64}").as_bytes());
    mac.verify_slice(&tag)
        .map_err(|_| CookieError::BadSignature)?;
    URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map(|_| ())
        .map_err(|_| CookieError::BadBase64)
}

/// Dots, non-ASCII and other bytes inserted or substituted at every position of a
/// sealed value (so on both sides of every 8-byte word boundary of the payload and
/// tag): `open` and `open_view` refuse with the error the old split gave, and accept
/// only what it accepted.
#[test]
fn session_value_dot_search_answers_what_the_old_split_did() {
    const NAME: &str = "__Host-session";
    let keys = keys();
    let session = Session::new("ops.admin", 1_000, 3_600, true, 900).unwrap();
    let good = seal(&session, NAME, keys.current());
    assert_eq!(open(&good, NAME, &keys, 2_000), Ok(session.clone()));
    let mut cases: Vec<String> = vec![
        format!("{good}."),
        format!(".{good}"),
        format!("{good}.."),
        good.replacen('.', "..", 3),
        good.replace('.', ""),
        "v1.k1..".to_owned(),
        "v1.k1...".to_owned(),
        "v1.k1.".to_owned(),
        "v1..a.b".to_owned(),
        "v2.k1.a.b".to_owned(),
        "v1.k1.é.ü".to_owned(),
    ];
    for at in 0..=good.len() {
        for ins in [".", "é", "\u{80}", "😀", "=", "A", "/", "+"] {
            let mut v = good.clone();
            v.insert_str(at, ins);
            cases.push(v);
        }
        if at < good.len() {
            for sub in [".", "é", "B", "_"] {
                let mut v = good.clone();
                v.replace_range(at..at + 1, sub);
                cases.push(v);
            }
            let mut v = good.clone();
            v.remove(at);
            cases.push(v);
        }
    }
    for case in &cases {
        let want = old_verify(case, NAME, &keys);
        let got = open(case, NAME, &keys, 2_000);
        let mut payload = PayloadBuf::new();
        let got_view = open_view(case, NAME, &keys, 2_000, &mut payload).map(|v| v.to_session());
        assert_eq!(got, got_view, "{case:?}");
        match want {
            Err(e) => assert_eq!(got, Err(e), "{case:?}"),
            // The MAC vouched for it: only an unchanged value gets this far.
            Ok(()) => assert_eq!(got, Ok(session.clone()), "{case:?}"),
        }
    }
}

/// The linear scan of small user files and the index of larger ones find the same
/// users, case-sensitively, after removals and additions shift the lines.
#[test]
fn user_lookup_is_exact_across_the_scan_threshold_after_edits() {
    const HASH: &str = "$pbkdf2-sha256$i=1000,l=32$AAAA$BBBB";
    for users in 1..=12usize {
        let mut text = String::from("# head\n\n");
        for u in 0..users {
            text.push_str(&format!("User{u} {HASH} {u} -\n"));
        }
        let mut db = UserDb::parse(&text).unwrap();
        // Names that differ only in case are different users (or none).
        for u in 0..users {
            assert!(db.get(&format!("user{u}")).is_none());
            assert!(db.get(&format!("USER{u}")).is_none());
            assert_eq!(db.get(&format!("User{u}")).unwrap().epoch, u as u64);
        }
        assert!(db.get("").is_none());
        db.remove("User0").unwrap();
        assert!(db.get("User0").is_none(), "deleted, {users} users");
        db.add("user0", HASH).unwrap();
        assert!(db.get("User0").is_none(), "recreated in another case");
        assert_eq!(db.get("user0").unwrap().name, "user0");
        for u in 1..users {
            assert_eq!(db.get(&format!("User{u}")).unwrap().epoch, u as u64);
        }
        let before = db.get("user0").unwrap().epoch;
        db.set_password("user0", HASH).unwrap();
        assert_eq!(db.get("user0").unwrap().epoch, before + 1);
    }
}

fn connect(srv: &Server) -> TcpStream {
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// One pipelined answer: status, head lines, body (none for HEAD), keeping any bytes
/// after it in `pending`.
fn next_answer(
    s: &mut TcpStream,
    pending: &mut Vec<u8>,
    head_only: bool,
) -> (u16, Vec<String>, Vec<u8>) {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before a head");
        pending.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(pending[..head_end].to_vec()).unwrap();
    let lines: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
    let declared: usize = lines
        .iter()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    let len = if head_only { 0 } else { declared };
    while pending.len() < head_end + len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed mid-body");
        pending.extend_from_slice(&chunk[..n]);
    }
    let body = pending[head_end..head_end + len].to_vec();
    pending.drain(..head_end + len);
    (head[9..12].parse().unwrap(), lines, body)
}

fn declared_len(lines: &[String]) -> usize {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap()
}

/// HEAD answers on the hot paths carry no body (the next pipelined answer starts right
/// after the head) and the Content-Length of the GET; long then short names and
/// bodies in one pipeline never carry bytes of each other.
#[test]
fn pipelined_head_and_get_on_the_hot_paths_frame_exactly() {
    let tmp = TempDir::new("hot-review");
    let data = tmp.data_dir();
    let long = "ops.administrator.of.the.long.name";
    add_user(&data, "a", "pw-short-1");
    add_user(&data, long, "pw-long-1");
    let srv = Server::start(&data, &[]);
    let long_cookie = browser_login(&srv, long, "pw-long-1", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let short_cookie = browser_login(&srv, "a", "pw-short-1", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let long_token = api_token(&srv, long, "pw-long-1");
    let short_token = api_token(&srv, "a", "pw-short-1");
    let plan = [
        ("GET", "/", format!("Cookie: {long_cookie}")),
        ("HEAD", "/", format!("Cookie: {short_cookie}")),
        ("GET", "/", format!("Cookie: {short_cookie}")),
        (
            "GET",
            "/protected",
            format!("Authorization: JWT {long_token}"),
        ),
        (
            "HEAD",
            "/protected",
            format!("Authorization: JWT {short_token}"),
        ),
        (
            "GET",
            "/protected",
            format!("Authorization: JWT {short_token}"),
        ),
        ("GET", "/verify", format!("Cookie: {long_cookie}")),
        ("HEAD", "/verify", format!("Cookie: {short_cookie}")),
        ("GET", "/verify", format!("Cookie: {short_cookie}")),
        ("GET", "/protected", "Authorization: JWT x.y.z".to_owned()),
        (
            "GET",
            "/protected",
            format!("Authorization: JWT {short_token}"),
        ),
    ];
    let all: String = plan
        .iter()
        .map(|(m, p, h)| format!("{m} {p} HTTP/1.1\r\nHost: a\r\n{h}\r\n\r\n"))
        .collect();
    let mut s = connect(&srv);
    s.write_all(all.as_bytes()).unwrap();
    let mut pending = Vec::new();
    let answers: Vec<_> = plan
        .iter()
        .map(|(m, _, _)| next_answer(&mut s, &mut pending, *m == "HEAD"))
        .collect();
    assert!(
        pending.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&pending)
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200]
    );
    let short_page = String::from_utf8(answers[2].2.clone()).unwrap();
    assert!(short_page.contains("Welcome, a!"), "{short_page}");
    assert!(!short_page.contains("administrator"));
    assert!(answers[1].2.is_empty());
    assert_eq!(declared_len(&answers[1].1), answers[2].2.len());
    assert_eq!(answers[5].2, br#"{"identity":"a","username":"a"}"#);
    assert_eq!(answers[10].2, answers[5].2);
    assert!(answers[4].2.is_empty());
    assert_eq!(declared_len(&answers[4].1), answers[5].2.len());
    for i in [7, 8] {
        let users: Vec<&String> = answers[i]
            .1
            .iter()
            .filter(|l| l.starts_with("Remote-User:"))
            .collect();
        assert_eq!(users, ["Remote-User: a"], "{:?}", answers[i].1);
    }
    for (i, (m, _, _)) in plan.iter().enumerate() {
        if *m == "GET" {
            assert_eq!(declared_len(&answers[i].1), answers[i].2.len(), "{i}");
        }
    }
}

/// `bearer_token` on bytes accepts exactly what the text rule it replaced accepted, on
/// random header values (schemes in any case, spaces, tabs, non-UTF-8, non-ASCII).
#[test]
fn bearer_token_agrees_with_the_old_text_rule_on_random_values() {
    fn by_text(value: &[u8]) -> Option<&str> {
        let value = std::str::from_utf8(value).ok()?;
        let (scheme, token) = value.split_once(' ')?;
        let scheme_ok = scheme.eq_ignore_ascii_case("jwt") || scheme.eq_ignore_ascii_case("bearer");
        let token = token.trim_matches(' ');
        (scheme_ok && !token.is_empty() && !token.contains(' ')).then_some(token)
    }
    let pieces: [&[u8]; 16] = [
        b"JWT",
        b"jWt",
        b"BEARER",
        b"Bearer",
        b"bearer ",
        b" ",
        b"  ",
        b"\t",
        b"a.b.c",
        b"\xff",
        b"\xc3",
        b"\xa9",
        b"\xc3\xa9",
        b"JWT ",
        b"x",
        b"0123456789abcdef",
    ];
    let mut rng = Rng(0xBEA5_E700_0000_0042);
    let mut accepted = 0;
    for _ in 0..200_000 {
        let mut value = Vec::new();
        for _ in 0..rng.below(7) {
            value.extend_from_slice(pieces[rng.below(pieces.len())]);
        }
        let got = latchkey::web::auth::bearer_token(&value).ok();
        assert_eq!(got, by_text(&value), "{value:?}");
        accepted += usize::from(got.is_some());
    }
    assert!(accepted > 1_000, "{accepted}");
}
