//! A strict, validating JSON scanner for token headers and payloads.
//!
//! serde_json silently keeps the last of two equal keys, so `{"exp":1,"exp":9}` would
//! mean different things to different parsers: a classic token-smuggling vector. This
//! scanner accepts exactly RFC 8259 JSON (as serde_json does), and in addition rejects
//! a duplicate key in any object at any depth (keys compared after unescaping, so
//! `"exp"` and `"\u0065xp"` collide) and nesting deeper than a bound. It builds no tree:
//! the members of the top-level object are handed to a callback as raw slices.

use std::borrow::Cow;

/// Why a document is not strict JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not well-formed JSON (or not UTF-8, or a number out of the f64 range).
    Syntax,
    /// An object holds the same key twice.
    Duplicate,
    /// Objects and arrays nest deeper than allowed.
    TooDeep,
    /// The document is well-formed JSON but not an object.
    NotObject,
}

/// A member value of the top-level object, as the raw text it was written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raw<'a> {
    /// A string: its text between the quotes, escapes not yet resolved.
    Str(&'a str),
    /// A number exactly as written.
    Num(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object, braces included.
    Obj(&'a str),
    /// An array, brackets included.
    Arr(&'a str),
}

impl<'a> Raw<'a> {
    /// The value's JSON text (strings without their quotes).
    pub(crate) fn text(self) -> &'a str {
        match self {
            Raw::Str(s) | Raw::Num(s) | Raw::Obj(s) | Raw::Arr(s) => s,
            Raw::Bool(true) => "true",
            Raw::Bool(false) => "false",
            Raw::Null => "null",
        }
    }
}

/// The callback receiving each top-level member: its decoded name and raw value.
pub(crate) type OnMember<'f, 'a> = dyn FnMut(&str, Raw<'a>) + 'f;

/// The callback receiving each item of a top-level array.
pub(crate) type OnItem<'f, 'a> = dyn FnMut(Raw<'a>) + 'f;

/// Validates `bytes` as one JSON object with unique keys at every depth and at most
/// `max_depth` nested objects/arrays (the top-level object counts as 1), calling
/// `on_member(name, value)` for each top-level member in order.
///
/// The callback may run for members before a later error is found, so callers must
/// only trust what it collected when this returns `Ok`.
pub(crate) fn parse_object<'a>(
    bytes: &'a [u8],
    max_depth: usize,
    on_member: &mut OnMember<'_, 'a>,
) -> Result<(), JsonError> {
    let mut p = Parser::new(bytes, max_depth)?;
    if p.peek() == Some(b'{') {
        p.object(1, Some(on_member))?;
    } else {
        // Tell "not JSON" from "JSON, but not an object" so the error is precise.
        p.value(0)?;
        return Err(p.end().err().unwrap_or(JsonError::NotObject));
    }
    p.end()
}

/// Validates `bytes` as one JSON array (same rules as [`parse_object`]), calling
/// `on_item(value)` for each of its items in order.
pub(crate) fn parse_array<'a>(
    bytes: &'a [u8],
    max_depth: usize,
    on_item: &mut OnItem<'_, 'a>,
) -> Result<(), JsonError> {
    let mut p = Parser::new(bytes, max_depth)?;
    if p.peek() != Some(b'[') {
        return Err(JsonError::Syntax);
    }
    p.array(1, Some(on_item))?;
    p.end()
}

/// The decoded text of a string's raw contents (as found between its quotes).
pub(crate) fn unescape(raw: &str) -> Result<Cow<'_, str>, JsonError> {
    if !raw.contains('\\') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).ok_or(JsonError::Syntax)?);
        let esc = rest.get(i + 1..).ok_or(JsonError::Syntax)?;
        let b = esc.as_bytes();
        let (ch, used) = match b.first() {
            Some(b'"') => ('"', 1),
            Some(b'\\') => ('\\', 1),
            Some(b'/') => ('/', 1),
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => {
                let hi = hex4(b.get(1..5))?;
                if (0xD800..0xDC00).contains(&hi) {
                    if b.get(5..7) != Some(b"\\u") {
                        return Err(JsonError::Syntax);
                    }
                    let lo = hex4(b.get(7..11))?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(JsonError::Syntax);
                    }
                    let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    (char::from_u32(cp).ok_or(JsonError::Syntax)?, 11)
                } else {
                    (char::from_u32(hi).ok_or(JsonError::Syntax)?, 5)
                }
            }
            _ => return Err(JsonError::Syntax),
        };
        out.push(ch);
        rest = esc.get(used..).ok_or(JsonError::Syntax)?;
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

fn hex4(digits: Option<&[u8]>) -> Result<u32, JsonError> {
    let digits = digits.ok_or(JsonError::Syntax)?;
    let mut v = 0u32;
    for &d in digits {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(JsonError::Syntax),
        };
        v = (v << 4) | u32::from(n);
    }
    Ok(v)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The keys of every object currently open, innermost last; an object owns the
    /// entries from where it started.
    keys: Vec<Cow<'a, str>>,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    /// A parser at the first non-whitespace byte of `bytes`, which must be UTF-8.
    fn new(bytes: &'a [u8], max_depth: usize) -> Result<Parser<'a>, JsonError> {
        let text = std::str::from_utf8(bytes).map_err(|_| JsonError::Syntax)?;
        let mut p = Parser {
            text,
            bytes,
            pos: 0,
            keys: Vec::new(),
            max_depth,
        };
        p.ws();
        Ok(p)
    }

    /// Accepts only trailing whitespace after the document.
    fn end(&mut self) -> Result<(), JsonError> {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn slice(&self, start: usize) -> Result<&'a str, JsonError> {
        self.text.get(start..self.pos).ok_or(JsonError::Syntax)
    }

    /// One value at the current position (whitespace already skipped); `depth` is the
    /// nesting level of the container holding it.
    fn value(&mut self, depth: usize) -> Result<Raw<'a>, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1, None).map(Raw::Obj),
            Some(b'[') => self.array(depth + 1, None).map(Raw::Arr),
            Some(b'"') => self.string().map(Raw::Str),
            Some(b't') => self.literal(b"true").map(|()| Raw::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Raw::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Raw::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Raw::Num),
            _ => Err(JsonError::Syntax),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<&'a str, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(JsonError::Syntax),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                return Err(JsonError::Syntax);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(JsonError::Syntax);
            }
        }
        let raw = self.slice(start)?;
        // Like serde_json, refuse a number that overflows f64; short integers cannot.
        if !integer || raw.len() > 15 {
            let value: f64 = raw.parse().map_err(|_| JsonError::Syntax)?;
            if !value.is_finite() {
                return Err(JsonError::Syntax);
            }
        }
        Ok(raw)
    }

    /// A string at the current position; returns its raw contents.
    fn string(&mut self) -> Result<&'a str, JsonError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            // Skip to the next quote, backslash or control byte.
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            self.pos += rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            match self.peek() {
                None | Some(0x00..=0x1f) => return Err(JsonError::Syntax),
                Some(b'"') => {
                    let raw = self.slice(start)?;
                    self.pos += 1;
                    return Ok(raw);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(JsonError::Syntax),
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// After `\`, at `u`: one code point, a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<(), JsonError> {
        let hi = hex4(self.bytes.get(self.pos + 1..self.pos + 5))?;
        self.pos += 5;
        if (0xDC00..0xE000).contains(&hi) {
            return Err(JsonError::Syntax);
        }
        if (0xD800..0xDC00).contains(&hi) {
            if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return Err(JsonError::Syntax);
            }
            let lo = hex4(self.bytes.get(self.pos + 2..self.pos + 6))?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(JsonError::Syntax);
            }
            self.pos += 6;
        }
        Ok(())
    }

    fn array(
        &mut self,
        depth: usize,
        mut on_item: Option<&mut OnItem<'_, 'a>>,
    ) -> Result<&'a str, JsonError> {
        if depth > self.max_depth {
            return Err(JsonError::TooDeep);
        }
        let start = self.pos;
        self.pos += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return self.slice(start);
        }
        loop {
            self.ws();
            let item = self.value(depth)?;
            if let Some(f) = on_item.as_mut() {
                f(item);
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return self.slice(start);
                }
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    fn object(
        &mut self,
        depth: usize,
        mut on_member: Option<&mut OnMember<'_, 'a>>,
    ) -> Result<&'a str, JsonError> {
        if depth > self.max_depth {
            return Err(JsonError::TooDeep);
        }
        let start = self.pos;
        self.pos += 1;
        let keys_start = self.keys.len();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return self.slice(start);
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(JsonError::Syntax);
            }
            let name = unescape(self.string()?)?;
            if self
                .keys
                .get(keys_start..)
                .unwrap_or_default()
                .contains(&name)
            {
                return Err(JsonError::Duplicate);
            }
            let index = self.keys.len();
            self.keys.push(name);
            self.ws();
            if self.peek() != Some(b':') {
                return Err(JsonError::Syntax);
            }
            self.pos += 1;
            self.ws();
            let value = self.value(depth)?;
            if let (Some(f), Some(name)) = (on_member.as_mut(), self.keys.get(index)) {
                f(name, value);
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.keys.truncate(keys_start);
                    return self.slice(start);
                }
                _ => return Err(JsonError::Syntax),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &str) -> Result<Vec<(String, Raw<'_>)>, JsonError> {
        let mut out = Vec::new();
        parse_object(s.as_bytes(), 16, &mut |k, v| out.push((k.to_owned(), v)))?;
        Ok(out)
    }

    #[test]
    fn members_come_back_raw_and_in_order() {
        let m = members(r#" {"a":"x\ny","b":-1.5e3,"c":[1,{"d":null}],"e":{},"f":true} "#).unwrap();
        let names: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "e", "f"]);
        assert_eq!(m[0].1, Raw::Str("x\\ny"));
        assert_eq!(m[1].1, Raw::Num("-1.5e3"));
        assert_eq!(m[2].1, Raw::Arr(r#"[1,{"d":null}]"#));
        assert_eq!(m[3].1, Raw::Obj("{}"));
        assert_eq!(m[4].1, Raw::Bool(true));
    }

    #[test]
    fn duplicates_are_found_at_any_depth_and_through_escapes() {
        assert_eq!(members(r#"{"exp":1,"exp":2}"#), Err(JsonError::Duplicate));
        assert_eq!(
            members(r#"{"exp":1,"\u0065xp":2}"#),
            Err(JsonError::Duplicate)
        );
        assert_eq!(
            members(r#"{"a":{"b":[{"c":1,"c":1}]}}"#),
            Err(JsonError::Duplicate)
        );
        // The same key in sibling objects is fine.
        assert!(members(r#"{"a":{"k":1},"b":{"k":2},"k":3}"#).is_ok());
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let doc = format!("{{{},\"k39\":0}}", many.join(","));
        assert_eq!(members(&doc), Err(JsonError::Duplicate));
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(15), "]".repeat(15));
        assert!(members(&ok).is_ok());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(16), "]".repeat(16));
        assert_eq!(members(&deep), Err(JsonError::TooDeep));
    }

    #[test]
    fn malformed_json_is_refused() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":1e400}",
            "{} {}",
            "{'a':1}",
            "\u{feff}{}",
        ] {
            assert_eq!(members(bad), Err(JsonError::Syntax), "{bad:?}");
        }
        assert_eq!(members("[1]"), Err(JsonError::NotObject));
        assert_eq!(members(" 5 "), Err(JsonError::NotObject));
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}", 16, &mut |_, _| {}),
            Err(JsonError::Syntax)
        );
    }

    #[test]
    fn unescape_decodes_every_escape() {
        assert_eq!(
            unescape(r#"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"#).unwrap(),
            "a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1f600}"
        );
        assert!(matches!(unescape("plain").unwrap(), Cow::Borrowed("plain")));
    }
}
