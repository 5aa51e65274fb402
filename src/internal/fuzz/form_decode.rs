//! Fuzz invariants for `web::form::parse_form`: never panics, and whatever it
//! accepts survives a round trip through `encode_form`, pair by pair and whole.

use crate::web::form::{MAX_FIELDS, encode_form, parse_form};

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let Ok(form) = parse_form(data) else { return };
    assert!(
        form.len() <= MAX_FIELDS,
        "more than MAX_FIELDS fields accepted"
    );
    for (name, value) in form.iter() {
        let encoded = encode_form([(name, value)]);
        let reparsed = parse_form(encoded.as_bytes()).expect("re-encoded pair must parse");
        assert_eq!(reparsed.iter().collect::<Vec<_>>(), [(name, value)]);
    }
    let encoded = encode_form(form.iter());
    let reparsed = parse_form(encoded.as_bytes()).expect("re-encoded form must parse");
    assert_eq!(reparsed, form, "form changed across a round trip");
}
