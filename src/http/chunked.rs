//! The chunked transfer coding (RFC 9112 §7.1): a strict, incremental decoder and the
//! encoder used to re-frame bodies of unknown length.
//!
//! The decoder is shared by request bodies (client to upstream) and response bodies
//! (upstream to client); what it accepts is the RFC grammar with these choices:
//! - Lines end in CRLF; a bare LF or CR anywhere in the framing is an error (RFC 9112
//!   §2.2 lets a recipient accept a bare LF, which is what request smuggling through
//!   two parsers that disagree uses).
//! - A chunk size is 1 to 16 hex digits; the sizes add up to at most the caller's
//!   limit. Whitespace may come before a `;` (BWS) but not before the CRLF.
//! - Chunk extensions and trailer fields are read and dropped (§7.1.1, §7.1.2 allow
//!   a recipient to ignore them); a size line is at most [`MAX_LINE`] bytes and the
//!   trailer section at most [`MAX_TRAILERS`], and neither may hold a control byte
//!   other than HTAB.
//! - The data of a chunk is followed by exactly CRLF.

use std::fmt;

/// Longest chunk-size line, extensions included, in bytes.
pub const MAX_LINE: usize = 4096;
/// Largest trailer section, in bytes.
pub const MAX_TRAILERS: usize = 8192;
/// Most hex digits in a chunk size: 16 fit a `u64`.
const MAX_SIZE_DIGITS: u8 = 16;

/// The chunk that ends a body, with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Why a chunked body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    /// A chunk size is missing, not hex, or longer than 16 digits.
    BadSize,
    /// A size line or trailer line holds a control byte, or ends without CRLF.
    BadLine,
    /// A size line is longer than [`MAX_LINE`].
    LineTooLong,
    /// A chunk's data is not followed by CRLF.
    BadChunkEnd,
    /// The trailer section is larger than [`MAX_TRAILERS`].
    TrailersTooLarge,
    /// The sizes add up to more than the decoder's limit.
    BodyTooLarge,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkError::BadSize => "invalid chunk size",
            ChunkError::BadLine => "invalid chunk line",
            ChunkError::LineTooLong => "chunk line too long",
            ChunkError::BadChunkEnd => "chunk data not followed by crlf",
            ChunkError::TrailersTooLarge => "trailer section too large",
            ChunkError::BodyTooLarge => "chunked body too large",
        })
    }
}

impl std::error::Error for ChunkError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a size.
    Size {
        value: u64,
        digits: u8,
    },
    /// Blanks after the size: only more blanks or `;` may follow.
    SizeBlank {
        value: u64,
    },
    /// Inside the extensions of a size line, up to its CR.
    Extension {
        value: u64,
    },
    /// Saw the size line's CR; LF must follow.
    SizeLf {
        value: u64,
    },
    /// Inside a chunk's data.
    Data {
        left: u64,
    },
    /// After a chunk's data: CR, then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final blank line).
    TrailerStart,
    /// Inside a trailer line, up to its CR.
    TrailerLine,
    /// Saw a trailer line's CR; LF must follow.
    TrailerLf,
    /// Saw the final blank line's CR; LF must follow.
    EndLf,
    /// The body is complete.
    Done,
}

/// What one [`ChunkedDecoder::decode`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input used; the rest belongs to whatever follows, or is still
    /// to be decoded once there is room for its data.
    pub consumed: usize,
    /// The last chunk and trailer section have been read.
    pub done: bool,
}

/// An incremental decoder of one chunked body.
///
/// ```
/// use latchkey::http::chunked::ChunkedDecoder;
/// let mut decoder = ChunkedDecoder::new(1024);
/// let mut data = Vec::new();
/// let wire = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
/// let progress = decoder.decode(wire, usize::MAX, |d| data.extend_from_slice(d)).unwrap();
/// assert_eq!(data, b"hello world");
/// assert!(progress.done);
/// assert_eq!(&wire[progress.consumed..], b"NEXT");
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Data bytes announced so far.
    total: u64,
    /// Most data bytes the body may hold.
    limit: u64,
    /// Bytes of the current size line, or of the trailer section.
    line: usize,
}

impl ChunkedDecoder {
    /// A decoder of a body of at most `limit` data bytes.
    pub fn new(limit: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            total: 0,
            limit,
            line: 0,
        }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, handing the data to `emit` (in one or more slices of
    /// `input`, at most `max_data` bytes in all), and stops at the end of the body,
    /// the end of the input, or once `max_data` bytes were handed out and more data
    /// follows. After an error the decoder must not be used again.
    pub fn decode(
        &mut self,
        input: &[u8],
        max_data: usize,
        mut emit: impl FnMut(&[u8]),
    ) -> Result<Progress, ChunkError> {
        let mut at = 0;
        let mut budget = max_data;
        while let Some(rest) = input.get(at..).filter(|rest| !rest.is_empty()) {
            match self.state {
                State::Done => break,
                State::Data { left } => {
                    if budget == 0 {
                        break;
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(rest.len())
                        .min(budget);
                    emit(rest.get(..take).unwrap_or_default());
                    at += take;
                    budget -= take;
                    // `take` is at most `left`, so this cannot wrap.
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { left }
                    };
                }
                _ => {
                    let byte = rest.first().copied().unwrap_or_default();
                    self.step(byte)?;
                    at += 1;
                }
            }
        }
        Ok(Progress {
            consumed: at,
            done: self.state == State::Done,
        })
    }

    /// Advances over one byte of framing.
    fn step(&mut self, byte: u8) -> Result<(), ChunkError> {
        let in_size_line = matches!(
            self.state,
            State::Size { .. }
                | State::SizeBlank { .. }
                | State::Extension { .. }
                | State::SizeLf { .. }
        );
        if in_size_line {
            self.line += 1;
            if self.line > MAX_LINE {
                return Err(ChunkError::LineTooLong);
            }
        }
        let in_trailers = matches!(
            self.state,
            State::TrailerStart | State::TrailerLine | State::TrailerLf | State::EndLf
        );
        if in_trailers {
            self.line += 1;
            if self.line > MAX_TRAILERS {
                return Err(ChunkError::TrailersTooLarge);
            }
        }
        self.state = match self.state {
            State::Size { value, digits } => match (hex_value(byte), byte) {
                (Some(digit), _) => {
                    if digits >= MAX_SIZE_DIGITS {
                        return Err(ChunkError::BadSize);
                    }
                    State::Size {
                        value: value << 4 | u64::from(digit),
                        digits: digits + 1,
                    }
                }
                (None, _) if digits == 0 => return Err(ChunkError::BadSize),
                (None, b' ' | b'\t') => State::SizeBlank { value },
                (None, b';') => State::Extension { value },
                (None, b'\r') => State::SizeLf { value },
                (None, _) => return Err(ChunkError::BadSize),
            },
            State::SizeBlank { value } => match byte {
                b' ' | b'\t' => State::SizeBlank { value },
                b';' => State::Extension { value },
                _ => return Err(ChunkError::BadSize),
            },
            State::Extension { value } => match byte {
                b'\r' => State::SizeLf { value },
                b if is_control(b) => return Err(ChunkError::BadLine),
                _ => State::Extension { value },
            },
            State::SizeLf { value } => {
                if byte != b'\n' {
                    return Err(ChunkError::BadLine);
                }
                self.line = 0;
                self.total = self
                    .total
                    .checked_add(value)
                    .filter(|&total| total <= self.limit)
                    .ok_or(ChunkError::BodyTooLarge)?;
                if value == 0 {
                    State::TrailerStart
                } else {
                    State::Data { left: value }
                }
            }
            // Data is taken in bulk by `decode`; a zero-length remainder never stays.
            State::Data { left } => State::Data { left },
            State::DataCr => match byte {
                b'\r' => State::DataLf,
                _ => return Err(ChunkError::BadChunkEnd),
            },
            State::DataLf => match byte {
                b'\n' => State::Size {
                    value: 0,
                    digits: 0,
                },
                _ => return Err(ChunkError::BadChunkEnd),
            },
            State::TrailerStart => match byte {
                b'\r' => State::EndLf,
                b if is_control(b) => return Err(ChunkError::BadLine),
                _ => State::TrailerLine,
            },
            State::TrailerLine => match byte {
                b'\r' => State::TrailerLf,
                b if is_control(b) => return Err(ChunkError::BadLine),
                _ => State::TrailerLine,
            },
            State::TrailerLf => match byte {
                b'\n' => State::TrailerStart,
                _ => return Err(ChunkError::BadLine),
            },
            State::EndLf => match byte {
                b'\n' => State::Done,
                _ => return Err(ChunkError::BadLine),
            },
            State::Done => State::Done,
        };
        Ok(())
    }
}

/// A control byte other than HTAB (RFC 9110 §5.5: CR, LF and NUL are never part of a
/// field; the others are not `field-vchar`).
fn is_control(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Appends `data` as one chunk (nothing for empty data: an empty chunk would end the
/// body).
///
/// ```
/// let mut out = Vec::new();
/// latchkey::http::chunked::encode_chunk(&mut out, b"hello world, it is me");
/// assert_eq!(out, b"15\r\nhello world, it is me\r\n");
/// ```
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Bytes of framing [`encode_chunk`] adds to at most `usize::MAX` bytes of data.
pub const CHUNK_OVERHEAD: usize = 2 * std::mem::size_of::<usize>() + 4;

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` whole; the data and what was consumed, or the error.
    fn decode_all(wire: &[u8], limit: u64) -> Result<(Vec<u8>, Progress), ChunkError> {
        let mut decoder = ChunkedDecoder::new(limit);
        let mut data = Vec::new();
        let progress = decoder.decode(wire, usize::MAX, |d| data.extend_from_slice(d))?;
        Ok((data, progress))
    }

    #[test]
    fn valid_bodies_decode_to_their_data() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"0\r\n\r\n", b""),
            (b"1\r\na\r\n0\r\n\r\n", b"a"),
            (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
            (b"0000a\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
            (b"3 ; x=\"y z\"\r\nabc\r\n0;last\r\n\r\n", b"abc"),
            (b"3\r\nabc\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", b"abc"),
        ];
        for (wire, data) in cases {
            let (got, progress) = decode_all(wire, 1 << 20).unwrap();
            assert_eq!(got, data, "{wire:?}");
            assert!(progress.done);
            assert_eq!(progress.consumed, wire.len());
        }
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let cases: [(&[u8], ChunkError); 14] = [
            // Bare LF where CRLF belongs: the classic disagreement between parsers.
            (b"3\nabc\r\n0\r\n\r\n", ChunkError::BadSize),
            (b"3\r\nabc\n0\r\n\r\n", ChunkError::BadChunkEnd),
            (b"3\r\nabc\r\n0\r\n\n", ChunkError::BadLine),
            (b"3\r\nabcX\r\n0\r\n\r\n", ChunkError::BadChunkEnd),
            (b"-3\r\nabc\r\n", ChunkError::BadSize),
            (b"+3\r\nabc\r\n", ChunkError::BadSize),
            (b"0x3\r\nabc\r\n", ChunkError::BadSize),
            (b"3 \r\nabc\r\n", ChunkError::BadSize),
            (b" 3\r\nabc\r\n", ChunkError::BadSize),
            (b"\r\n", ChunkError::BadSize),
            (b"3;a\0b\r\nabc\r\n", ChunkError::BadLine),
            (b"3;a\nb\r\nabc\r\n", ChunkError::BadLine),
            (b"0\r\nX: a\rb\r\n\r\n", ChunkError::BadLine),
            (b"00000000000000001\r\n", ChunkError::BadSize),
        ];
        for (wire, error) in cases {
            assert_eq!(
                decode_all(wire, 1 << 20).map(|_| ()),
                Err(error),
                "{wire:?}"
            );
        }
        // Sixteen digits are allowed, and the limit catches what they announce.
        assert_eq!(
            decode_all(b"ffffffffffffffff\r\n", u64::MAX).map(|(d, p)| (d, p.done)),
            Ok((Vec::new(), false))
        );
        assert_eq!(
            decode_all(b"ffffffffffffffff\r\n", 1 << 20).map(|_| ()),
            Err(ChunkError::BodyTooLarge)
        );
    }

    #[test]
    fn sizes_add_up_to_the_limit_and_no_further() {
        assert!(decode_all(b"4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", 8).is_ok());
        assert_eq!(
            decode_all(b"4\r\nabcd\r\n5\r\nefghi\r\n0\r\n\r\n", 8).map(|_| ()),
            Err(ChunkError::BodyTooLarge)
        );
        // Refused when the size is read, before any of its data is handed out.
        let mut decoder = ChunkedDecoder::new(8);
        let mut data = Vec::new();
        let outcome = decoder.decode(b"9\r\nabcdefghi", usize::MAX, |d| data.extend_from_slice(d));
        assert_eq!(outcome, Err(ChunkError::BodyTooLarge));
        assert!(data.is_empty());
    }

    #[test]
    fn long_lines_and_trailers_are_refused() {
        let mut line = b"1;".to_vec();
        line.resize(MAX_LINE + 10, b'x');
        assert_eq!(
            decode_all(&line, 1 << 20).map(|_| ()),
            Err(ChunkError::LineTooLong)
        );
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() < MAX_TRAILERS + 100 {
            trailers.extend_from_slice(b"X-Long: 0123456789\r\n");
        }
        assert_eq!(
            decode_all(&trailers, 1 << 20).map(|_| ()),
            Err(ChunkError::TrailersTooLarge)
        );
    }

    #[test]
    fn any_split_and_any_budget_give_the_same_data() {
        let wire = b"5\r\nhello\r\n1;e\r\n \r\n5\r\nworld\r\n0\r\nT: 1\r\n\r\nrest";
        for budget in [1, 2, 3, 7, usize::MAX] {
            let mut decoder = ChunkedDecoder::new(100);
            let mut data = Vec::new();
            let mut at = 0;
            // Feed one byte more each time, as reads that trickle in would.
            for end in 1..=wire.len() {
                loop {
                    let progress = decoder
                        .decode(&wire[at..end], budget, |d| data.extend_from_slice(d))
                        .unwrap();
                    at += progress.consumed;
                    if progress.consumed == 0 || progress.done {
                        break;
                    }
                }
            }
            assert!(decoder.is_done());
            assert_eq!(data, b"hello world");
            assert_eq!(&wire[at..], b"rest");
        }
    }

    #[test]
    fn encoded_chunks_decode_back() {
        let mut wire = Vec::new();
        encode_chunk(&mut wire, b"");
        assert!(wire.is_empty());
        let long = vec![b'z'; 70_000];
        for data in [&b"a"[..], b"\r\n0\r\n\r\n", &long] {
            encode_chunk(&mut wire, data);
        }
        wire.extend_from_slice(LAST_CHUNK);
        let (data, progress) = decode_all(&wire, 1 << 20).unwrap();
        assert_eq!(data.len(), 1 + 7 + long.len());
        assert!(data.starts_with(b"a\r\n0\r\n\r\nzz"));
        assert!(progress.done && progress.consumed == wire.len());
        let mut max = Vec::new();
        encode_chunk(&mut max, b"x");
        assert!(max.len() - 1 <= CHUNK_OVERHEAD);
    }
}
