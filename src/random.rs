//! Randomness from the operating system, for salts, session ids, token ids and keys.
//!
//! There is deliberately no userspace generator: every byte comes from the OS
//! (`getrandom(2)` on Linux), so there is no seeding or fork-safety to get wrong.

use std::fmt;

/// The operating system could not provide random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operating system randomness unavailable")
    }
}

impl std::error::Error for RandomError {}

/// Fills `buf` with random bytes from the OS.
///
/// ```
/// let mut salt = [0u8; 16];
/// latchkey::random::fill(&mut salt).unwrap();
/// ```
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|_| RandomError)
}

/// Returns `N` random bytes from the OS.
///
/// ```
/// let sid: [u8; 16] = latchkey::random::array().unwrap();
/// assert_ne!(sid, [0u8; 16]);
/// ```
pub fn array<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}
