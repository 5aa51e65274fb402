//! Fuzz invariants for the users file parser (`store::users::UserDb::parse`): no input
//! panics; a parsed file written back out parses to the same users in the same order
//! (and the same comments); and the written text is a fixed point, so repeated
//! rewrites never drift.

use crate::store::users::{User, UserDb, validate_username};

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(db) = UserDb::parse(text) else {
        return;
    };
    for user in db.iter() {
        assert!(
            validate_username(&user.name).is_ok(),
            "parsed an invalid name"
        );
        assert!(db.get(&user.name).is_some_and(|found| found == user));
    }
    let written = db.to_text();
    let reparsed = match UserDb::parse(&written) {
        Ok(r) => r,
        Err(e) => panic!("written users file does not parse: {e}"),
    };
    let before: Vec<&User> = db.iter().collect();
    let after: Vec<&User> = reparsed.iter().collect();
    assert_eq!(before, after, "users changed across a rewrite");
    assert_eq!(
        reparsed, db,
        "comments or blank lines changed across a rewrite"
    );
    assert_eq!(reparsed.to_text(), written, "rewrite is not a fixed point");
}
