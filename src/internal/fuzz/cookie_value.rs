//! Fuzz invariants for the signed session cookie value ([`crate::cookie::session`]):
//! `open` never panics on arbitrary bytes, and anything that opens re-seals to the
//! identical value (so every session has one encoding); a session built from the
//! input round-trips seal → open, and only under its own cookie name and keys; and a
//! one-byte change to a sealed value never opens.

use std::sync::OnceLock;

use crate::cookie::session::{MAX_USER_LEN, MAX_VALUE_LEN, is_valid_user};
use crate::cookie::{CookieError, Session, open, seal};
use crate::keys::{KeySet, Keyring, Purpose};

const NAME: &str = "__Host-session";

fn keys() -> &'static (KeySet, KeySet) {
    static KEYS: OnceLock<(KeySet, KeySet)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ring = |kid| {
            Keyring::from_master(kid, &[0x5A; 32])
                .expect("constant master secret is valid")
                .key_set(Purpose::SessionCookie)
        };
        (ring("k1"), ring("k2"))
    })
}

/// Takes `N` bytes off the front of `data`, zero-padded when it runs out.
fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let (keys, other_keys) = keys();

    // 1. Arbitrary bytes as a cookie value.
    let text = String::from_utf8_lossy(data);
    let opened = open(&text, NAME, keys, 0);
    if text.len() > MAX_VALUE_LEN {
        assert_eq!(opened, Err(CookieError::TooLong));
    }
    if let Ok(session) = opened {
        let kid = text.split('.').nth(1).expect("an opened value has a kid");
        let key = keys.get(kid).expect("an opened value names a known key");
        assert_eq!(
            seal(&session, NAME, key),
            text,
            "opened value re-seals differently"
        );
    }

    // 2. A session built from the input round-trips.
    let mut rest = data;
    let [flags, user_len] = take::<2>(&mut rest);
    let user_bytes = &rest[..usize::from(user_len).min(rest.len())];
    rest = &rest[user_bytes.len()..];
    let mut user: String = user_bytes
        .iter()
        .map(|&b| char::from(b))
        .filter(|c| is_valid_user(c.encode_utf8(&mut [0; 4])))
        .take(MAX_USER_LEN)
        .collect();
    if user.is_empty() {
        user.push('u');
    }
    let session = Session {
        user,
        sid: take(&mut rest),
        issued_at: u64::from_le_bytes(take(&mut rest)),
        expires_at: u64::from_le_bytes(take(&mut rest)),
        remember: flags & 1 != 0,
        auth_time: u64::from_le_bytes(take(&mut rest)),
        epoch: u64::from_le_bytes(take(&mut rest)),
    };
    let value = seal(&session, NAME, keys.current());
    let now = session.expires_at.saturating_sub(1);
    if session.expires_at == 0 {
        assert_eq!(open(&value, NAME, keys, now), Err(CookieError::Expired));
    } else {
        assert_eq!(open(&value, NAME, keys, now).as_ref(), Ok(&session));
        assert_eq!(
            open(&value, NAME, keys, session.expires_at),
            Err(CookieError::Expired)
        );
    }
    assert!(
        open(&value, "session", keys, now).is_err(),
        "moved to another name"
    );
    assert_eq!(
        open(&value, NAME, other_keys, now),
        Err(CookieError::UnknownKid)
    );

    // 3. Any one-byte change of the sealed value fails.
    let [pos, replacement] = take::<2>(&mut rest);
    let mut tampered = value.clone().into_bytes();
    let i = usize::from(pos) % tampered.len();
    if tampered[i] != replacement {
        tampered[i] = replacement;
        let tampered = String::from_utf8_lossy(&tampered);
        assert!(
            open(&tampered, NAME, keys, now).is_err(),
            "a changed value opened"
        );
    }
}
