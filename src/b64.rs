//! Base64url as tokens, session cookies and CSRF tokens carry it: RFC 4648 §5, no
//! padding (as RFC 7515 §2 requires for JWS), and canonical only.
//!
//! [`B64URL`] decodes nothing but the one encoding it writes itself: padding, `+` or
//! `/`, whitespace, a length of 1 mod 4 and non-zero trailing bits (RFC 4648 §3.5)
//! are all refused. So every byte string has exactly one spelling, and a signed value
//! cannot be re-spelled into a twin that still verifies.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The canonical, unpadded, URL-safe base64 engine shared by `jwt` and `cookie`.
pub(crate) const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

#[cfg(test)]
mod tests {
    use super::B64URL;
    use base64::Engine;

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn decode(s: &[u8]) -> Option<Vec<u8>> {
        B64URL.decode(s).ok()
    }

    #[test]
    fn every_length_round_trips_and_reencodes_to_itself() {
        for len in 0..70u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
            let text = B64URL.encode(&bytes);
            assert!(!text.contains(['=', '+', '/']), "{text}");
            assert_eq!(decode(text.as_bytes()), Some(bytes));
        }
        assert_eq!(decode(b""), Some(vec![]));
        assert_eq!(decode(b"AA"), Some(vec![0]));
        assert_eq!(decode(b"QUI"), Some(b"AB".to_vec()));
        assert_eq!(decode(b"QUJD"), Some(b"ABC".to_vec()));
        assert_eq!(decode(b"-_-_"), Some(vec![0xFB, 0xFF, 0xBF]));
    }

    #[test]
    fn padding_other_alphabets_and_whitespace_are_refused() {
        for bad in [
            "QUI=", "QQ==", "QUJD=", "AB=", "A+B/", "QUJ+", "QU/D", "AB C", "AB\n", " QUI",
            "QUI\t", "QUJD.", "\u{e9}AA", "AA\u{0}A",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn impossible_lengths_are_refused() {
        for bad in ["A", "AAAAA", "QUJDQ"] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn non_zero_trailing_bits_are_refused() {
        for bad in ["AB", "QR", "ABD", "QUJ"] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
        // A 2-character tail holds 12 bits for 1 byte: only last characters whose
        // low 4 bits are zero are canonical. A 3-character tail: the low 2 bits.
        for (prefix, canonical) in [("A", 4), ("AA", 16), ("QUJDA", 4), ("QUJDAA", 16)] {
            let accepted: Vec<String> = ALPHABET
                .iter()
                .map(|&last| format!("{prefix}{}", char::from(last)))
                .filter(|s| decode(s.as_bytes()).is_some())
                .collect();
            assert_eq!(accepted.len(), canonical, "{prefix}: {accepted:?}");
            for s in accepted {
                assert_eq!(B64URL.encode(decode(s.as_bytes()).unwrap()), s);
            }
        }
    }

    #[test]
    fn a_bad_character_anywhere_is_refused() {
        for len in [8, 9, 16, 17, 24, 27, 30, 31] {
            let good = B64URL.encode(vec![0x5Au8; len]);
            for at in 0..good.len() {
                for bad in [b'.', b'=', b'+', b'/', b' ', 0xC3] {
                    let mut t = good.clone().into_bytes();
                    t[at] = bad;
                    assert_eq!(decode(&t), None, "{len} {at} {bad}");
                }
            }
        }
    }
}
