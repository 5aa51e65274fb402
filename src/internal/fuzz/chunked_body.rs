//! Fuzz invariants for chunked_body: arbitrary bytes through the chunked decoder. The
//! first byte picks the data budget of each call (how much room the other side has)
//! and the body limit; the rest is the body as it arrives. The decoder must not
//! panic; its data and its verdict (done where, or which error) must not depend on
//! how the input is split or how much room there is; it must never hand out more data
//! than the input holds or the limit allows; and a body it accepted, encoded again by
//! the encoder, must decode to the same data.

use crate::http::chunked::{self, ChunkError, ChunkedDecoder, LAST_CHUNK};

/// Decodes `input` fed in pieces of `piece` bytes with `budget` bytes of data per
/// call: the data, and where the body ended or why it failed.
fn run(
    input: &[u8],
    piece: usize,
    budget: usize,
    limit: u64,
) -> (Vec<u8>, Result<Option<usize>, ChunkError>) {
    let mut decoder = ChunkedDecoder::new(limit);
    let mut data = Vec::new();
    let mut at = 0;
    let mut end = 0;
    while end < input.len() {
        end = (end + piece).min(input.len());
        while at < end {
            let window = input.get(at..end).unwrap_or_default();
            match decoder.decode(window, budget, |d| data.extend_from_slice(d)) {
                Err(e) => return (data, Err(e)),
                Ok(progress) => {
                    assert!(progress.consumed <= window.len());
                    at += progress.consumed;
                    if progress.done {
                        return (data, Ok(Some(at)));
                    }
                    assert!(progress.consumed > 0, "no progress with budget {budget}");
                }
            }
        }
    }
    (data, Ok(None))
}

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let (selector, input) = data
        .split_first()
        .map_or((0, data), |(first, rest)| (*first, rest));
    let budget = [1, 3, 64, usize::MAX][usize::from(selector & 3)];
    let limit = [u64::MAX, 16, 0, 1 << 20][usize::from((selector >> 2) & 3)];
    let (whole_data, whole) = run(input, input.len().max(1), usize::MAX, limit);
    assert!(whole_data.len() <= input.len());
    assert!(whole_data.len() as u64 <= limit);
    for piece in [1, 2, 7] {
        let (split_data, split) = run(input, piece, budget, limit);
        assert_eq!(
            split, whole,
            "verdict depends on the split ({piece}, {budget})"
        );
        assert_eq!(
            split_data, whole_data,
            "data depends on the split ({piece}, {budget})"
        );
    }
    if let Ok(Some(end)) = whole {
        assert!(end <= input.len());
        let mut again = Vec::new();
        chunked::encode_chunk(&mut again, &whole_data);
        again.extend_from_slice(LAST_CHUNK);
        let (round, verdict) = run(&again, again.len(), usize::MAX, limit);
        assert_eq!(verdict, Ok(Some(again.len())));
        assert_eq!(round, whole_data);
    }
}
