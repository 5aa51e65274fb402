//! A small memo of credentials that already proved authentic, so a browser, an API
//! client or a reverse proxy that sends the same session cookie or token on every
//! request pays for its MAC check and decoding once, not on every request.
//!
//! What a memo holds is the result of a pure function: the MAC check and payload
//! decode of exact credential bytes under keys that do not change while the server
//! runs (the app derives its keys once at start-up, and the memo lives beside them:
//! whatever one day replaces the keys must replace the memos too). Everything that can
//! change between two requests (expiry, revocation, whether the user still exists,
//! the password epoch) is still checked on every request, after the recall.
//!
//! Why it is safe to keep:
//! - Only credentials that passed the full check are remembered; a failed check
//!   remembers nothing and evicts nothing.
//! - A lookup compares the presented bytes with the one entry of their slot, in full
//!   and in constant time (the lengths too). The slot is picked from the presented
//!   bytes themselves, so the time a lookup takes says nothing about what is
//!   remembered, except whether it is exactly what was presented, which only a holder
//!   of that credential can ask.
//! - Entries are credentials the server has already read off the wire; they are never
//!   logged or shown (`Debug` prints the number of slots in use).

use std::cell::RefCell;

/// How many credentials a memo keeps: a few browsers and API clients at once, which
/// is what a device's admin page sees. A busier mix only falls back to full checks.
const SLOTS: usize = 8;

/// The longest credential remembered (a session cookie's value is at most 512 bytes;
/// access tokens from `latchkey` are about 270). Longer ones are checked every time.
pub const MAX_CREDENTIAL: usize = 512;

/// The longest payload remembered: the decoding of a [`MAX_CREDENTIAL`]-byte token's
/// payload segment fits.
pub const MAX_PAYLOAD: usize = MAX_CREDENTIAL / 4 * 3;

/// The service's memos, one per kind of credential so that one kind never evicts
/// another: a page view recalls a session cookie and its sign-out token together.
#[derive(Debug, Default)]
pub struct Memos {
    /// Session cookie values → their authentic payloads (context: which cookie name).
    pub sessions: Memo,
    /// Access tokens → their authentic payloads.
    pub tokens: Memo,
    /// Session ids → the sign-out form's CSRF token text.
    pub csrf: Memo,
}

struct Slot {
    context: u8,
    len: usize,
    /// Zero past `len`, so a comparison reads the same bytes whatever is stored.
    credential: [u8; MAX_CREDENTIAL],
    payload_len: usize,
    payload: [u8; MAX_PAYLOAD],
}

/// Remembers, for a few authentic credentials, the payload their check produced.
///
/// ```
/// use latchkey::web::memo::Memo;
/// let memo = Memo::new();
/// let mut out = [0u8; 16];
/// assert_eq!(memo.recall(0, b"v1.k1.cGF5.dGFn", &mut out), None);
/// memo.remember(0, b"v1.k1.cGF5.dGFn", b"pay");
/// assert_eq!(memo.recall(0, b"v1.k1.cGF5.dGFn", &mut out), Some(3));
/// assert_eq!(&out[..3], b"pay");
/// // Another context (here: another cookie name) is another credential.
/// assert_eq!(memo.recall(1, b"v1.k1.cGF5.dGFn", &mut out), None);
/// ```
pub struct Memo {
    // A slot's room is allocated the first time it is used, so an idle server holds none.
    slots: RefCell<[Option<Box<Slot>>; SLOTS]>,
}

impl Memo {
    /// An empty memo.
    pub fn new() -> Memo {
        Memo {
            slots: RefCell::new(Default::default()),
        }
    }

    /// The payload remembered for `credential` under `context` (what the caller uses
    /// to tell apart credentials checked differently, such as two cookie names),
    /// copied into the start of `out`, and its length; `None` if it is not remembered
    /// or `out` is too short.
    pub fn recall(&self, context: u8, credential: &[u8], out: &mut [u8]) -> Option<usize> {
        if credential.len() > MAX_CREDENTIAL {
            return None;
        }
        let slots = self.slots.try_borrow().ok()?;
        let slot = slots.get(slot_of(credential))?.as_deref()?;
        if !same(slot, context, credential) {
            return None;
        }
        let payload = slot.payload.get(..slot.payload_len)?;
        out.get_mut(..payload.len())?.copy_from_slice(payload);
        Some(payload.len())
    }

    /// Remembers that `credential` under `context` checked out with `payload`,
    /// replacing whatever its slot held. Call it only after the full check passed.
    /// A credential or payload too long to keep is not remembered.
    pub fn remember(&self, context: u8, credential: &[u8], payload: &[u8]) {
        if credential.len() > MAX_CREDENTIAL || payload.len() > MAX_PAYLOAD {
            return;
        }
        let Ok(mut slots) = self.slots.try_borrow_mut() else {
            return;
        };
        let Some(entry) = slots.get_mut(slot_of(credential)) else {
            return;
        };
        let slot = entry.get_or_insert_with(|| {
            Box::new(Slot {
                context: 0,
                len: 0,
                credential: [0; MAX_CREDENTIAL],
                payload_len: 0,
                payload: [0; MAX_PAYLOAD],
            })
        });
        slot.context = context;
        slot.len = credential.len();
        slot.credential = [0; MAX_CREDENTIAL];
        if let Some(dst) = slot.credential.get_mut(..credential.len()) {
            dst.copy_from_slice(credential);
        }
        slot.payload_len = payload.len();
        if let Some(dst) = slot.payload.get_mut(..payload.len()) {
            dst.copy_from_slice(payload);
        }
    }
}

impl Default for Memo {
    fn default() -> Memo {
        Memo::new()
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self
            .slots
            .try_borrow()
            .map_or(0, |s| s.iter().filter(|s| s.is_some()).count());
        write!(f, "Memo({used} of {SLOTS} slots used)")
    }
}

/// The slot a credential may live in, from its last eight bytes: the end of a cookie
/// or token is its MAC's encoding, as good as random. (A multiplication spreads
/// them: the very last base64url character carries only 4 bits.)
fn slot_of(credential: &[u8]) -> usize {
    let mut tail = [0u8; 8];
    let start = credential.len().saturating_sub(8);
    let end = credential.get(start..).unwrap_or_default();
    if let Some(dst) = tail.get_mut(..end.len()) {
        dst.copy_from_slice(end);
    }
    let mixed = u64::from_le_bytes(tail).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The top bits of the product, as many as SLOTS (a power of two) needs.
    (mixed >> (64 - SLOTS.trailing_zeros())) as usize
}

/// Whether `slot` holds exactly `credential` under `context`, in time that depends
/// only on the length of `credential` (which is the caller's own).
fn same(slot: &Slot, context: u8, credential: &[u8]) -> bool {
    // `len` is at most MAX_CREDENTIAL, checked by the caller: the slot's zero-padded
    // buffer always has that many bytes to compare against.
    let Some(stored) = slot.credential.get(..credential.len()) else {
        return false;
    };
    let mut diff = (slot.len ^ credential.len()) as u64 | u64::from(slot.context ^ context);
    let (words, tail) = credential.as_chunks::<8>();
    let (stored_words, stored_tail) = stored.as_chunks::<8>();
    for (a, b) in words.iter().zip(stored_words) {
        diff |= u64::from_ne_bytes(*a) ^ u64::from_ne_bytes(*b);
    }
    for (a, b) in tail.iter().zip(stored_tail) {
        diff |= u64::from(a ^ b);
    }
    // Fold to one bit without a data-dependent branch, then keep the optimiser from
    // turning the loop above into an early exit.
    std::hint::black_box((diff | diff.wrapping_neg()) >> 63) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recall(memo: &Memo, context: u8, credential: &[u8]) -> Option<Vec<u8>> {
        let mut out = [0u8; MAX_PAYLOAD];
        let n = memo.recall(context, credential, &mut out)?;
        Some(out.get(..n)?.to_vec())
    }

    #[test]
    fn recalls_exactly_what_was_remembered() {
        let memo = Memo::new();
        let a = b"v1.k1.AAAAAAAA.abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG";
        memo.remember(3, a, b"payload a");
        assert_eq!(recall(&memo, 3, a).as_deref(), Some(&b"payload a"[..]));
        // Every one-byte change, every prefix and every extension is another credential.
        for i in 0..a.len() {
            let mut b = a.to_vec();
            b[i] ^= 1;
            assert_eq!(recall(&memo, 3, &b), None, "byte {i} flipped");
            assert_eq!(recall(&memo, 3, &a[..i]), None, "prefix of {i}");
        }
        let mut longer = a.to_vec();
        longer.push(0);
        assert_eq!(recall(&memo, 3, &longer), None);
        assert_eq!(recall(&memo, 4, a), None, "another context");
    }

    #[test]
    fn a_slot_keeps_the_latest_and_nothing_of_the_one_before() {
        let memo = Memo::new();
        // Find two credentials of the same length that share a slot.
        let first = b"token-0000000000000000".to_vec();
        let second = (1u32..)
            .map(|n| format!("token-{n:016}").into_bytes())
            .find(|c| slot_of(c) == slot_of(&first))
            .unwrap();
        memo.remember(0, &first, b"first payload, the longer one");
        memo.remember(0, &second, b"second");
        assert_eq!(recall(&memo, 0, &first), None);
        assert_eq!(recall(&memo, 0, &second).as_deref(), Some(&b"second"[..]));
        // A shorter credential in the same slot does not match the old one's leftovers.
        let short = (0u32..)
            .map(|n| format!("t{n}").into_bytes())
            .find(|c| slot_of(c) == slot_of(&first))
            .unwrap();
        memo.remember(0, &short, b"s");
        assert_eq!(recall(&memo, 0, &second), None);
        assert_eq!(recall(&memo, 0, &short).as_deref(), Some(&b"s"[..]));
    }

    #[test]
    fn too_long_is_never_remembered_and_short_output_is_a_miss() {
        let memo = Memo::new();
        let long = vec![b'a'; MAX_CREDENTIAL + 1];
        memo.remember(0, &long, b"p");
        assert_eq!(recall(&memo, 0, &long), None);
        memo.remember(0, b"c", &[1; MAX_PAYLOAD + 1]);
        assert_eq!(recall(&memo, 0, b"c"), None);
        let edge = vec![b'b'; MAX_CREDENTIAL];
        memo.remember(0, &edge, &[2; MAX_PAYLOAD]);
        assert_eq!(recall(&memo, 0, &edge).map(|p| p.len()), Some(MAX_PAYLOAD));
        let mut small = [0u8; 4];
        assert_eq!(memo.recall(0, &edge, &mut small), None);
    }

    #[test]
    fn the_empty_credential_is_an_ordinary_key() {
        let memo = Memo::new();
        assert_eq!(recall(&memo, 0, b""), None);
        memo.remember(0, b"", b"x");
        assert_eq!(recall(&memo, 0, b"").as_deref(), Some(&b"x"[..]));
        assert_eq!(recall(&memo, 0, b"\0"), None);
    }

    #[test]
    fn slots_spread_over_tokens_that_differ_only_in_their_tags() {
        // The last base64url character of a 32-byte tag takes 16 values; with the
        // other seven bytes mixed in, tags of real shape use every slot.
        let mut seen = [false; SLOTS];
        for n in 0u32..256 {
            let tag: String = format!("{:043}", n * 7919)
                .bytes()
                .map(|b| char::from(b'A' + (b - b'0')))
                .collect();
            seen[slot_of(format!("v1.k1.cGF5bG9hZA.{tag}").as_bytes())] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn debug_shows_no_credential() {
        let memo = Memo::new();
        memo.remember(0, b"secret-cookie-value", b"secret payload");
        let shown = format!("{memo:?}");
        assert_eq!(shown, "Memo(1 of 8 slots used)");
    }
}
