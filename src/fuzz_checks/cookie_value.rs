//! Fuzz invariants for the signed session cookie value ([`crate::cookie::session`]):
//! `open` never panics on arbitrary bytes and answers exactly what a plain
//! split-and-decode model with the `base64` crate answers, error variant included;
//! anything that opens re-seals to the identical value; a session built from the
//! input round-trips seal → open; and a one-byte change to a sealed value never opens
//! to anything but the original.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

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

/// The checks of `open` as first written: split on dots, then decode with the
/// `base64` crate. `Ok` means the value would reach payload decoding, which both
/// share.
fn model_open_shape(value: &str, keys: &KeySet) -> Result<(), CookieError> {
    const MAX_PAYLOAD_B64: usize = ((51 + MAX_USER_LEN) * 4).div_ceil(3);
    if value.len() > MAX_VALUE_LEN {
        return Err(CookieError::TooLong);
    }
    let parts: Vec<&str> = value.split('.').collect();
    let [version, kid, payload_b64, tag_b64] = parts.as_slice() else {
        return Err(CookieError::BadFormat);
    };
    if *version != "v1" {
        return Err(CookieError::UnsupportedVersion);
    }
    if kid.is_empty() || kid.len() > crate::keys::MAX_KID_LEN || payload_b64.len() > MAX_PAYLOAD_B64
    {
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
    mac.update(&(NAME.len() as u64).to_be_bytes());
    mac.update(NAME.as_bytes());
    mac.update(format!("v1.{kid}.{payload_b64}").as_bytes());
    mac.verify_slice(&tag)
        .map_err(|_| CookieError::BadSignature)?;
    URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map(|_| ())
        .map_err(|_| CookieError::BadBase64)
}

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let (keys, other_keys) = keys();

    // 1. Arbitrary bytes as a cookie value.
    let text = String::from_utf8_lossy(data);
    let opened = open(&text, NAME, keys, 0);
    match model_open_shape(&text, keys) {
        Err(want) => assert_eq!(opened, Err(want), "open disagrees with the model"),
        Ok(()) => assert!(
            !matches!(
                opened,
                Err(CookieError::TooLong
                    | CookieError::BadFormat
                    | CookieError::UnsupportedVersion
                    | CookieError::UnknownKid
                    | CookieError::BadSignature
                    | CookieError::BadBase64)
            ),
            "open refused what the model accepts: {opened:?}"
        ),
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
