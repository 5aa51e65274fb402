//! Canonical unpadded base64url into and out of fixed buffers, for the hot paths of
//! session cookies, CSRF tokens and access tokens.
//!
//! Decoding accepts exactly what the `base64` crate's `URL_SAFE_NO_PAD` engine accepts
//! (no padding, no bytes outside `A-Za-z0-9-_`, no non-zero trailing bits, no length
//! of 1 mod 4; the tests and the `jwt_verify` and `cookie_value` fuzz checks compare
//! the two), so every value has one encoding. It decodes eight characters a step with
//! pre-shifted tables and checks validity once at the end: the crate's general-purpose
//! engine spends most of its time setting up chunked paths that a 43-character tag
//! never reaches. Encoding writes into a caller's buffer, so a tag or token needs no heap.

/// Marks bytes outside the base64url alphabet; the top two bits flag it cheaply.
const INVALID: u8 = 0xFF;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const fn table() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
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

/// Whether or-ed quads say every character was in the alphabet.
#[inline]
fn valid(flags: u32) -> bool {
    flags & SHIFTED_INVALID == 0
}

/// Marks an invalid character in a [`SHIFTED`] entry: above the 24 data bits, so it
/// survives or-ing four entries together.
const SHIFTED_INVALID: u32 = 1 << 31;

const fn shifted_tables() -> [[u32; 256]; 4] {
    let mut t = [[SHIFTED_INVALID; 256]; 4];
    let mut c = 0;
    while c < 256 {
        let v = DECODE[c];
        if v != INVALID {
            let v = v as u32;
            t[0][c] = v << 18;
            t[1][c] = v << 12;
            t[2][c] = v << 6;
            t[3][c] = v;
        }
        c += 1;
    }
    t
}

/// The sextet of a character already shifted to its place in a 24-bit quad, one
/// table per place: a quad is then four loads and three ors, with validity riding
/// along in bit 31 (4 KiB of tables, of which the 64 valid entries are ever hot).
static SHIFTED: [[u32; 256]; 4] = shifted_tables();

/// Four characters as a 24-bit value, bit 31 set if any is not base64url.
#[inline]
fn quad(chars: [u8; 4]) -> u32 {
    let [t0, t1, t2, t3] = &SHIFTED;
    let [c0, c1, c2, c3] = chars;
    // A u8 always indexes a 256-entry table in bounds.
    t0[usize::from(c0)] | t1[usize::from(c1)] | t2[usize::from(c2)] | t3[usize::from(c3)]
}

/// Eight characters into six bytes; returns the or of the two quads (see [`valid`]).
#[inline]
fn decode_octet(chars: &[u8; 8], bytes: &mut [u8; 6]) -> u32 {
    let &[c0, c1, c2, c3, c4, c5, c6, c7] = chars;
    let (high, low) = (quad([c0, c1, c2, c3]), quad([c4, c5, c6, c7]));
    let group = u64::from(high) << 24 | u64::from(low & 0xFF_FFFF);
    bytes.copy_from_slice(&group.to_be_bytes()[2..]);
    high | low
}

/// Decodes `input` into the start of `out`, returning the decoded length. Fails on any
/// byte outside the URL-safe alphabet (`=`, `+`, `/`, whitespace included), on an
/// impossible length, on non-zero trailing bits, and when `out` is too small.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let total = decoded_len(input.len())?;
    let out = out.get_mut(..total)?;
    let (octets, rest_in) = input.as_chunks::<8>();
    let (sixes, rest_out) = out.as_chunks_mut::<6>();
    // Invalid bytes are collected and checked once: an early exit per step costs more
    // than it saves on the tokens that matter (valid ones).
    let mut flags = 0u32;
    for (chars, bytes) in octets.iter().zip(sixes.iter_mut()) {
        flags |= decode_octet(chars, bytes);
    }
    let (quads, tail_in) = rest_in.as_chunks::<4>();
    let (triples, tail_out) = rest_out.as_chunks_mut::<3>();
    for (chars, triple) in quads.iter().zip(triples.iter_mut()) {
        let n = quad(*chars);
        flags |= n;
        let [_, x, y, z] = n.to_be_bytes();
        *triple = [x, y, z];
    }
    if !valid(flags) {
        return None;
    }
    match (tail_in, tail_out) {
        ([], []) => {}
        (&[a, b], [x]) => {
            let (a, b) = (sextet(a), sextet(b));
            if (a | b) & 0xC0 != 0 || b & 0x0F != 0 {
                return None;
            }
            *x = a << 2 | b >> 4;
        }
        (&[a, b, c], [x, y]) => {
            let (a, b, c) = (sextet(a), sextet(b), sextet(c));
            if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 {
                return None;
            }
            *x = a << 2 | b >> 4;
            *y = (b & 0x0F) << 4 | c >> 2;
        }
        _ => return None,
    }
    Some(total)
}

/// The character for the low six bits of `v`.
fn symbol(v: u8) -> u8 {
    ALPHABET[usize::from(v & 0x3F)]
}

/// Length of the unpadded encoding of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    (len * 4).div_ceil(3)
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
    fn a_bad_character_anywhere_in_the_eight_character_steps_is_refused() {
        for len in [8, 9, 16, 17, 24, 27, 30, 31] {
            let mut s = URL_SAFE_NO_PAD.encode(vec![0x5Au8; len]);
            for (i, bad) in [(0, b'.'), (len / 2, b'='), (s.len() - 1, b'+')] {
                let mut t = s.clone().into_bytes();
                t[i] = bad;
                assert_eq!(dec(&t), None, "{len} {i}");
            }
            s.push('A');
            assert_eq!(dec(s.as_bytes()), URL_SAFE_NO_PAD.decode(&s).ok(), "{len}");
        }
    }

    #[test]
    fn short_buffers_are_refused_not_overrun() {
        assert_eq!(decode(b"AAAA", &mut [0u8; 2]), None);
        assert_eq!(encode(&[1, 2, 3], &mut [0u8; 3]), None);
    }
}
