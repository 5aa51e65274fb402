//! Canonical unpadded base64url into and out of fixed buffers, for the cookie hot path.
//!
//! Decoding accepts exactly what the `base64` crate's `URL_SAFE_NO_PAD` engine accepts
//! (no padding, no bytes outside `A-Za-z0-9-_`, no non-zero trailing bits, no length
//! of 1 mod 4; the tests compare the two), so every value has one encoding. It is a
//! table lookup per character with one validity check at the end: the crate's
//! general-purpose engine spends most of its time setting up chunked paths that a
//! 43-character tag never reaches. Encoding writes into a caller's buffer, so a tag
//! or token needs no heap.

/// Marks bytes outside the base64url alphabet; any of the top two bits flags it.
const INVALID: u8 = 0xFF;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const fn decode_table() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}

static DECODE: [u8; 256] = decode_table();

/// Marks an invalid character in the shifted tables: above the 24 bits of a quad.
const INVALID_QUAD: u32 = 0xFF00_0000;

/// `DECODE` with each sextet already shifted to its place in a quad's 24 bits, so a
/// quad decodes with three ORs and one more records whether it was valid.
const fn shifted_table(shift: u32) -> [u32; 256] {
    let mut t = [INVALID_QUAD; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = (i as u32) << shift;
        i += 1;
    }
    t
}

static QUAD: [[u32; 256]; 4] = [
    shifted_table(18),
    shifted_table(12),
    shifted_table(6),
    shifted_table(0),
];

/// The 6-bit value of `b`, or a byte with a top bit set when `b` is not base64url.
fn sextet(b: u8) -> u8 {
    // A u8 index into a 256-entry table is always in bounds.
    DECODE[usize::from(b)]
}

/// The 24 bits of a full quad, with bits above them set if a character is invalid.
fn quad_bits(a: u8, b: u8, c: u8, d: u8) -> u32 {
    let [ta, tb, tc, td] = &QUAD;
    ta[usize::from(a)] | tb[usize::from(b)] | tc[usize::from(c)] | td[usize::from(d)]
}

/// The character for the low six bits of `v`.
fn symbol(v: u8) -> u8 {
    ALPHABET[usize::from(v & 0x3F)]
}

/// Length of the unpadded encoding of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    (len * 4).div_ceil(3)
}

/// Decodes `input` into the start of `out` and returns the decoded length, or `None`
/// when `input` is not canonical unpadded base64url or `out` is too short.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let total = match input.len() % 4 {
        0 => input.len() / 4 * 3,
        2 => input.len() / 4 * 3 + 1,
        3 => input.len() / 4 * 3 + 2,
        _ => return None,
    };
    let out = out.get_mut(..total)?;
    let mut quads = input.chunks_exact(4);
    let mut triples = out.chunks_exact_mut(3);
    // Invalid characters are collected and checked once: valid values, the ones that
    // matter for speed, never take the early exit.
    let mut quad_flags = 0u32;
    for (quad, triple) in quads.by_ref().zip(triples.by_ref()) {
        if let (&[a, b, c, d], [x, y, z]) = (quad, triple) {
            let bits = quad_bits(a, b, c, d);
            quad_flags |= bits;
            let [_, high, mid, low] = bits.to_be_bytes();
            (*x, *y, *z) = (high, mid, low);
        }
    }
    let mut flags = u8::from(quad_flags & INVALID_QUAD != 0) << 7;
    match (quads.remainder(), triples.into_remainder()) {
        ([], []) => {}
        (&[a, b], [x]) => {
            let (a, b) = (sextet(a), sextet(b));
            // Canonical: the four bits the last character carries beyond the byte are zero.
            flags |= a | b | u8::from(b & 0x0F != 0) << 7;
            *x = a << 2 | b >> 4;
        }
        (&[a, b, c], [x, y]) => {
            let (a, b, c) = (sextet(a), sextet(b), sextet(c));
            flags |= a | b | c | u8::from(c & 0x03 != 0) << 7;
            *x = a << 2 | b >> 4;
            *y = b << 4 | c >> 2;
        }
        _ => return None,
    }
    (flags & 0xC0 == 0).then_some(total)
}

/// Encodes `input` into the start of `out` and returns the encoded length, or `None`
/// when `out` is shorter than [`encoded_len`] of the input.
pub(crate) fn encode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let total = encoded_len(input.len());
    let out = out.get_mut(..total)?;
    let mut triples = input.chunks_exact(3);
    let mut quads = out.chunks_exact_mut(4);
    for (triple, quad) in triples.by_ref().zip(quads.by_ref()) {
        if let (&[x, y, z], [a, b, c, d]) = (triple, quad) {
            *a = symbol(x >> 2);
            *b = symbol(x << 4 | y >> 4);
            *c = symbol(y << 2 | z >> 6);
            *d = symbol(z);
        }
    }
    match (triples.remainder(), quads.into_remainder()) {
        ([], []) => {}
        (&[x], [a, b]) => {
            *a = symbol(x >> 2);
            *b = symbol(x << 4);
        }
        (&[x, y], [a, b, c]) => {
            *a = symbol(x >> 2);
            *b = symbol(x << 4 | y >> 4);
            *c = symbol(y << 2);
        }
        _ => return None,
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn dec(s: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; s.len()];
        let n = decode(s, &mut out)?;
        out.truncate(n);
        Some(out)
    }

    fn enc(bytes: &[u8]) -> String {
        let mut out = vec![0u8; encoded_len(bytes.len())];
        assert_eq!(encode(bytes, &mut out), Some(out.len()));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn agrees_with_the_base64_crate_on_every_length() {
        for len in 0..70u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
            let want = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(enc(&bytes), want);
            assert_eq!(dec(want.as_bytes()), Some(bytes));
        }
    }

    #[test]
    fn refuses_exactly_what_the_base64_crate_refuses() {
        for bad in [
            "A", "AB=", "A+B/", "AB C", "AB\n", "AB", "ABD", "AAAAA", "QUJ=", "QUI", "QR", "QUJD=",
            "QUJD.", "\u{e9}AA", "AA\u{0}A",
        ] {
            let ours = dec(bad.as_bytes());
            let theirs = URL_SAFE_NO_PAD.decode(bad).ok();
            assert_eq!(ours, theirs, "{bad:?}");
        }
        // Every last character of a 2- and 3-character tail: only canonical ones pass.
        for last in ALPHABET {
            for prefix in ["A", "AA"] {
                let s = [prefix.as_bytes(), &[*last]].concat();
                assert_eq!(dec(&s), URL_SAFE_NO_PAD.decode(&s).ok(), "{s:?}");
            }
        }
        assert_eq!(dec(b"AA"), Some(vec![0]));
        assert_eq!(dec(b"AB"), None);
    }

    #[test]
    fn short_buffers_are_refused_not_overrun() {
        assert_eq!(decode(b"AAAA", &mut [0u8; 2]), None);
        assert_eq!(encode(&[1, 2, 3], &mut [0u8; 3]), None);
    }
}
