//! End-to-end use of the cookie module as the web layer uses it: login sets the
//! session cookie, later requests read it back, logout removes it; plus a pinned value
//! so a format change that would log every user out cannot slip in unnoticed; no
//! edit of a sealed value opens, and logout tokens are bound to their session.

use latchkey::cookie::set_cookie::{SetCookie, cookie_name};
use latchkey::cookie::{CookieError, Session, csrf, header, open, seal};
use latchkey::keys::{Keyring, Purpose};

/// Sealed by this version with master `[0x5A; 32]`, kid `k1`, name `__Host-session`
/// (also the committed fuzz seed `fuzz/seeds/cookie_value/admin_session`).
const PINNED: &str = "v1.k1.AQAFYWRtaW4RERERERERERERERERERERAAAAAGkkgQAAAAAAaSXSgAAAAABpJIEAAAAAAAAAAAA.Wxf8LHVJ_EXr0DJMt2nIY2qpfK6GWsiQRfIBCI8ty0Y";

#[test]
fn cookies_issued_by_this_version_keep_opening() {
    let keys = Keyring::from_master("k1", &[0x5A; 32])
        .unwrap()
        .key_set(Purpose::SessionCookie);
    let s = open(PINNED, "__Host-session", &keys, 1_764_000_001).unwrap();
    assert_eq!(
        s,
        Session {
            user: "admin".into(),
            sid: [0x11; 16],
            issued_at: 1_764_000_000,
            expires_at: 1_764_086_400,
            remember: false,
            auth_time: 1_764_000_000,
            epoch: 0,
        }
    );
    assert_eq!(seal(&s, "__Host-session", keys.current()), PINNED);
}

#[test]
fn login_request_logout_flow() {
    let ring = Keyring::from_master("k1", &[9u8; 32]).unwrap();
    let session_keys = ring.key_set(Purpose::SessionCookie);
    let csrf_keys = ring.key_set(Purpose::Csrf);
    let now = 1_700_000_000;

    // Login page: pre-session cookie plus the form token.
    let pre = csrf::new_presession().unwrap();
    let pre_line = SetCookie::new("pre", &pre).build().unwrap();
    let form_token = csrf::token(&pre, &csrf_keys);
    // Login POST: the browser sends the pre-session cookie back with the form.
    let sent_pre = pre_line.split(';').next().unwrap();
    let got_pre = header::get_unique(sent_pre, &cookie_name("pre", true))
        .unwrap()
        .unwrap();
    csrf::verify(&form_token, got_pre, &csrf_keys).unwrap();

    // Password accepted: issue the session cookie.
    let name = cookie_name("session", true);
    let session = Session::new("admin", now, 3_600, false, 1).unwrap();
    let value = seal(&session, &name, session_keys.current());
    let line = SetCookie::new("session", &value).build().unwrap();
    assert!(
        !line.contains("Max-Age"),
        "not remembered: a browser-session cookie"
    );

    // Next request, cookies split over two header lines by an HTTP/2 proxy.
    let sent = line.split(';').next().unwrap();
    let lines = ["theme=dark", sent];
    let got = header::get_unique_in(lines, &name).unwrap().unwrap();
    assert_eq!(open(got, &name, &session_keys, now + 10), Ok(session));

    // A sibling subdomain tosses in a second cookie of the same name: refused.
    let tossed = format!("{sent}; {name}=v1.k1.forged.forged");
    assert_eq!(
        header::get_unique(&tossed, &name),
        Err(CookieError::DuplicateCookie)
    );

    // Logout.
    let removal = SetCookie::new("session", &value).removal().build().unwrap();
    assert!(removal.starts_with(&format!("{name}=; Path=/; Max-Age=0;")));
}

/// Dots, non-ASCII and other characters inserted, substituted or deleted at every
/// position of a sealed value: nothing but the unchanged value opens.
#[test]
fn no_edit_of_a_sealed_value_opens() {
    const NAME: &str = "__Host-session";
    let keys = Keyring::from_master("k1", &[9u8; 32])
        .unwrap()
        .key_set(Purpose::SessionCookie);
    let session = Session::new("ops.admin", 1_000, 3_600, true, 900).unwrap();
    let good = seal(&session, NAME, keys.current());
    assert_eq!(open(&good, NAME, &keys, 2_000), Ok(session));
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
    for case in cases.iter().filter(|c| **c != good) {
        let got = open(case, NAME, &keys, 2_000);
        assert!(
            matches!(
                got,
                Err(CookieError::BadFormat
                    | CookieError::UnsupportedVersion
                    | CookieError::UnknownKid
                    | CookieError::BadBase64
                    | CookieError::BadSignature)
            ),
            "{case:?}: {got:?}"
        );
    }
}

/// Session-bound logout tokens: bound to one session, refused for any other session,
/// and the token a bearer identity's page carries ends no session.
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
