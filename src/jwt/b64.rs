//! Canonical unpadded base64url decoding for the verify hot path.
//!
//! Behaves exactly like the `base64` crate's URL_SAFE engine configured with
//! `DecodePaddingMode::RequireNone` and `decode_allow_trailing_bits(false)` (the fuzz
//! check compares the two on every input), but decodes a short token segment several
//! times faster: no padding detection, no chunked fast-path setup.

/// Marks bytes outside the base64url alphabet; the top two bits flag it cheaply.
const INVALID: u8 = 0xFF;

const fn table() -> [u8; 256] {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
}

static DECODE: [u8; 256] = table();

/// The 6-bit value of `b`, or a value with the top bits set when `b` is not base64url.
fn sextet(b: u8) -> u8 {
    // A u8 always indexes a 256-entry table in bounds.
    DECODE[usize::from(b)]
}

/// Length of the decoding of `len` base64url characters, or `None` if no canonical
/// unpadded encoding has that length.
pub(crate) fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        0 => Some(len / 4 * 3),
        2 => Some(len / 4 * 3 + 1),
        3 => Some(len / 4 * 3 + 2),
        _ => None,
    }
}

/// Decodes `input` into the start of `out`, returning the decoded length. Fails on any
/// byte outside the URL-safe alphabet (`=`, `+`, `/`, whitespace included), on an
/// impossible length, on non-zero trailing bits, and when `out` is too small.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, ()> {
    let total = decoded_len(input.len()).ok_or(())?;
    let out = out.get_mut(..total).ok_or(())?;
    let mut chunks = input.chunks_exact(4);
    let mut dest = out.chunks_exact_mut(3);
    // Invalid bytes are collected and checked once: an early exit per quad costs more
    // than it saves on the tokens that matter (valid ones).
    let mut flags = 0u8;
    for (quad, triple) in chunks.by_ref().zip(dest.by_ref()) {
        if let ([a, b, c, d], [x, y, z]) = (quad, triple) {
            let (a, b, c, d) = (sextet(*a), sextet(*b), sextet(*c), sextet(*d));
            flags |= a | b | c | d;
            *x = a << 2 | b >> 4;
            *y = b << 4 | c >> 2;
            *z = c << 6 | d;
        }
    }
    if flags & 0xC0 != 0 {
        return Err(());
    }
    let tail = dest.into_remainder();
    match (chunks.remainder(), tail) {
        ([], []) => {}
        (&[a, b], [x]) => {
            let (a, b) = (sextet(a), sextet(b));
            if (a | b) & 0xC0 != 0 || b & 0x0F != 0 {
                return Err(());
            }
            *x = a << 2 | b >> 4;
        }
        (&[a, b, c], [x, y]) => {
            let (a, b, c) = (sextet(a), sextet(b), sextet(c));
            if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 {
                return Err(());
            }
            *x = a << 2 | b >> 4;
            *y = (b & 0x0F) << 4 | c >> 2;
        }
        _ => return Err(()),
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn dec(s: &str) -> Result<Vec<u8>, ()> {
        let mut out = vec![0u8; s.len()];
        let n = decode(s.as_bytes(), &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn matches_the_base64_crate_on_valid_and_invalid_input() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
            let s = super::super::B64.encode(&bytes);
            assert_eq!(dec(&s), Ok(bytes));
        }
        for bad in [
            "A", "AB=", "A+B/", "AB C", "AB\n", "AB", "ABD", "AAAAA", "QUJ=", "QUI",
        ] {
            let ours = dec(bad).ok();
            let theirs = super::super::B64.decode(bad).ok();
            assert_eq!(ours, theirs, "{bad:?}");
        }
        assert_eq!(dec("AA"), Ok(vec![0]));
        assert_eq!(dec("AB"), Err(()));
    }
}
