//! Fuzz invariants for the `Cookie:` header parser ([`crate::cookie::header`]): parsing
//! never panics; the iterator agrees with a naive split-and-validate model, and every
//! parsed pair re-serialises to the exact text it came from; `get_unique` and
//! `get_unique_in` (input lines = header lines) agree with a naive count of names.

use crate::cookie::CookieError;
use crate::cookie::header::{get_unique, get_unique_in, pairs};

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn naive_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn naive_octets(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x21..=0x7E).contains(&b) && !b"\",;\\".contains(&b))
}

/// The segments of a header as the model sees them.
fn segments(header: &str) -> Vec<&str> {
    if trim(header).is_empty() {
        Vec::new()
    } else {
        header.split(';').map(trim).collect()
    }
}

/// `Ok((name, unquoted value))` for a well-formed segment, else `Err(claimed name)`.
fn naive_pair(segment: &str) -> Result<(&str, &str), &str> {
    let Some((name, value)) = segment.split_once('=') else {
        return Err("");
    };
    let inner = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        &value[1..value.len() - 1]
    } else {
        value
    };
    if naive_token(name) && naive_octets(inner) {
        Ok((name, inner))
    } else {
        Err(trim(name))
    }
}

/// What `get_unique_in` must answer, by counting.
fn naive_lookup<'a>(lines: &[&'a str], name: &str) -> Result<Option<&'a str>, ()> {
    let mut found = Vec::new();
    for line in lines {
        for segment in segments(line) {
            match naive_pair(segment) {
                Ok((n, v)) if n == name => found.push(v),
                Err(n) if n == name => return Err(()),
                _ => {}
            }
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(()),
    }
}

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let mut names = vec!["__Host-session", "sid"];
    for line in &lines {
        let model = segments(line);
        let parsed: Vec<_> = pairs(line).collect();
        assert_eq!(parsed.len(), model.len(), "pair count of {line:?}");
        for (got, segment) in parsed.iter().zip(&model) {
            match (got, naive_pair(segment)) {
                (Ok(pair), Ok((name, value))) => {
                    assert_eq!(pair.to_string(), *segment, "re-serialised pair");
                    assert_eq!((pair.name(), pair.value()), (name, value));
                    names.push(name);
                }
                (Err(CookieError::MalformedPair), Err(claimed)) => names.push(claimed),
                (got, want) => panic!("{segment:?}: parsed {got:?}, model {want:?}"),
            }
        }
    }
    for name in names {
        if !naive_token(name) {
            assert_eq!(
                get_unique_in(lines.iter().copied(), name),
                Err(CookieError::InvalidName)
            );
            continue;
        }
        let got = get_unique_in(lines.iter().copied(), name);
        match naive_lookup(&lines, name) {
            Ok(want) => assert_eq!(got, Ok(want), "lookup of {name:?}"),
            Err(()) => assert!(
                matches!(
                    got,
                    Err(CookieError::DuplicateCookie | CookieError::MalformedPair)
                ),
                "lookup of {name:?} gave {got:?}"
            ),
        }
        if let [single] = lines.as_slice() {
            assert_eq!(get_unique(single, name), got);
        }
    }
}
