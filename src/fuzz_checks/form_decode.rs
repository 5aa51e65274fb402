//! Fuzz invariants for form_decode: TODO (owned by the helper building this parser).

/// Checks the invariants for one input.
pub fn check(_data: &[u8]) {}
