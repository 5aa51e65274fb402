//! Fuzz invariants for the stored password hash parser ([`crate::password::parse`]):
//! no input panics; whatever parses writes back as the identical string (PHC, passlib
//! and Werkzeug alike), so a users-file rewrite never alters a hash; and verifying
//! against anything that parses never panics.

use crate::password::{self, Policy};

/// Highest cost the check will actually hash at, so each run stays fast.
const MAX_FUZZ_ITERATIONS: u32 = 1000;

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = password::parse(text);
    // Must not panic whatever the input; the answer itself is not constrained.
    let _ = password::needs_rehash(text, &Policy::insecure_for_tests(1000));
    let Ok(parsed) = parsed else {
        return;
    };
    assert_eq!(
        parsed.to_string(),
        text,
        "parse then display must be the identity"
    );
    assert!(parsed.iterations() >= 1 && parsed.iterations() <= password::MAX_ITERATIONS);
    if parsed.iterations() <= MAX_FUZZ_ITERATIONS {
        let direct = parsed.verify(b"fuzz password");
        assert_eq!(password::verify(b"fuzz password", text), Ok(direct));
    }
}
