//! HTML escaping for everything reflected into a page.

/// Appends `text` to `out` with `& < > " '` replaced by entities, which makes it
/// safe both as element content and inside a double- or single-quoted attribute.
///
/// ```
/// let mut page = String::from("<p>");
/// latchkey::web::html::escape_into(&mut page, "a<b");
/// assert_eq!(page, "<p>a&lt;b");
/// ```
pub fn escape_into(out: &mut String, text: &str) {
    // Most values (paths, names, tokens) hold no special at all: find that out eight
    // bytes at a time and copy them whole.
    if !has_special(text.as_bytes()) {
        out.push_str(text);
        return;
    }
    // Byte by byte: the five specials are ASCII, so they never occur inside a
    // multi-byte character, and every cut below falls on a character boundary.
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.push_str(text.get(plain_from..at).unwrap_or_default());
        out.push_str(entity);
        plain_from = at + 1;
    }
    out.push_str(text.get(plain_from..).unwrap_or_default());
}

/// [`escape_into`] for a page built as bytes (a response body): the same entities,
/// and text that holds no special is copied whole. Escaping never splits a UTF-8
/// character (the specials are ASCII), so valid text stays valid.
///
/// ```
/// let mut body = b"<p>".to_vec();
/// latchkey::web::html::escape_bytes_into(&mut body, b"a<b");
/// assert_eq!(body, b"<p>a&lt;b");
/// ```
pub fn escape_bytes_into(out: &mut Vec<u8>, text: &[u8]) {
    if !has_special(text) {
        out.extend_from_slice(text);
        return;
    }
    let mut plain_from = 0;
    for (at, &byte) in text.iter().enumerate() {
        let entity: &[u8] = match byte {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&#x27;",
            _ => continue,
        };
        out.extend_from_slice(text.get(plain_from..at).unwrap_or_default());
        out.extend_from_slice(entity);
        plain_from = at + 1;
    }
    out.extend_from_slice(text.get(plain_from..).unwrap_or_default());
}

/// Whether `byte` is one of the five characters [`escape_into`] replaces.
fn is_special(byte: u8) -> bool {
    matches!(byte, b'&' | b'<' | b'>' | b'"' | b'\'')
}

/// Whether `text` holds a byte [`escape_into`] replaces, checked a 64-bit word at a
/// time (the release build optimises for size and would not vectorise a byte loop).
fn has_special(text: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether some byte of `word` equals `byte`: XOR turns those bytes to zero, and
    // `(y - 0x01..) & !y & 0x80..` is non-zero exactly when `y` has a zero byte.
    let holds = |word: u64, byte: u8| {
        let y = word ^ ONES.wrapping_mul(u64::from(byte));
        y.wrapping_sub(ONES) & !y & HIGHS != 0
    };
    let (words, rest) = text.as_chunks::<8>();
    for word in words {
        let word = u64::from_le_bytes(*word);
        if holds(word, b'&')
            | holds(word, b'<')
            | holds(word, b'>')
            | holds(word, b'"')
            | holds(word, b'\'')
        {
            return true;
        }
    }
    rest.iter().any(|&byte| is_special(byte))
}

/// Returns `text` HTML-escaped (see [`escape_into`]).
///
/// ```
/// use latchkey::web::html::escape;
/// assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    escape_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_all_five_specials() {
        assert_eq!(escape("&<>\"'"), "&amp;&lt;&gt;&quot;&#x27;");
    }

    #[test]
    fn leaves_other_text_alone() {
        assert_eq!(escape(""), "");
        assert_eq!(
            escape("plain ünïcode 😀 /path?x=1"),
            "plain ünïcode 😀 /path?x=1"
        );
    }

    #[test]
    fn escapes_attribute_breakouts() {
        let escaped = escape("\" autofocus onfocus=alert(1) x=\"");
        assert!(!escaped.contains('"'));
        let escaped = escape("</title><script>alert(1)</script>");
        assert!(!escaped.contains('<') && !escaped.contains('>'));
    }

    #[test]
    fn escapes_specials_at_either_end_and_beside_multibyte_text() {
        assert_eq!(escape("<é>"), "&lt;é&gt;");
        assert_eq!(escape("'😀\""), "&#x27;😀&quot;");
        assert_eq!(escape("a&b"), "a&amp;b");
        assert_eq!(escape(&"x".repeat(100)), "x".repeat(100));
    }

    #[test]
    fn finds_every_special_at_every_position() {
        for special in ['&', '<', '>', '"', '\''] {
            for len in 1..=20 {
                for at in 0..len {
                    let mut text: Vec<char> = "abcdefghijklmnopqrst".chars().take(len).collect();
                    text[at] = special;
                    let text: String = text.into_iter().collect();
                    assert!(has_special(text.as_bytes()), "{text:?}");
                    let expected: String = text
                        .chars()
                        .map(|c| match c {
                            '&' => "&amp;".to_owned(),
                            '<' => "&lt;".to_owned(),
                            '>' => "&gt;".to_owned(),
                            '"' => "&quot;".to_owned(),
                            '\'' => "&#x27;".to_owned(),
                            c => c.to_string(),
                        })
                        .collect();
                    assert_eq!(escape(&text), expected);
                    let mut bytes = b"<".to_vec();
                    escape_bytes_into(&mut bytes, text.as_bytes());
                    assert_eq!(bytes, format!("<{expected}").into_bytes());
                }
            }
        }
        // Bytes next to the specials (and above 0x7f) are not taken for them.
        let near = "!#%()*;=?@[]{}~\u{80}é\u{ff}%&amp".replace('&', "");
        assert!(!has_special(near.as_bytes()), "{near:?}");
    }

    #[test]
    fn escapes_already_escaped_text_again() {
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }
}
