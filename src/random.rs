//! Randomness from the operating system, for salts, session ids, token ids and keys.
//!
//! There is deliberately no userspace generator: every byte comes from the OS
//! (`getrandom(2)` on Linux), so there is no seeding or fork-safety to get wrong.

use std::fmt;

/// The operating system could not provide random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operating system randomness unavailable")
    }
}

impl std::error::Error for RandomError {}

/// Fills `buf` with random bytes from the OS.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|_| RandomError)
}

/// Returns `N` random bytes from the OS.
pub(crate) fn array<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod examples {
    #[test]
    fn fill_example() {
        let mut salt = [0u8; 16];
        crate::random::fill(&mut salt).unwrap();
    }

    #[test]
    fn array_example() {
        let sid: [u8; 16] = crate::random::array().unwrap();
        assert_ne!(sid, [0u8; 16]);
    }
}
