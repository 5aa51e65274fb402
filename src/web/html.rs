//! HTML escaping for everything reflected into a page.

/// Appends `text` to `out` with `& < > " '` replaced by character references, which
/// makes it safe both as element content and inside a double- or single-quoted
/// attribute value.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
/// Returns `text` HTML-escaped (see [`escape_into`]).
///
/// ```
/// use latchkey::web::html::escape;
/// assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;");
/// ```
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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
    fn leaves_every_other_ascii_character_alone() {
        for c in (0u8..0x80).map(char::from) {
            if !"&<>\"'".contains(c) {
                let text = format!("a{c}b");
                assert_eq!(escape(&text), text, "{c:?}");
            }
        }
    }

    #[test]
    fn leaves_other_text_alone() {
        assert_eq!(escape(""), "");
        assert_eq!(
            escape("plain ünïcode 😀 /path?x=1"),
            "plain ünïcode 😀 /path?x=1"
        );
        // Control characters are not HTML's to escape: they pass through.
        assert_eq!(escape("a\0\t\n\r\u{7f}b"), "a\0\t\n\r\u{7f}b");
    }

    #[test]
    fn escapes_attribute_breakouts() {
        let escaped = escape("\" autofocus onfocus=alert(1) x=\"");
        assert!(!escaped.contains('"'));
        let escaped = escape("</title><script>alert(1)</script>");
        assert!(!escaped.contains('<') && !escaped.contains('>'));
        let escaped = escape("' onmouseover='alert(1)");
        assert!(!escaped.contains('\''));
    }

    #[test]
    fn escapes_specials_at_either_end_and_beside_multibyte_text() {
        assert_eq!(escape("<é>"), "&lt;é&gt;");
        assert_eq!(escape("'😀\""), "&#x27;😀&quot;");
        assert_eq!(escape("a&b"), "a&amp;b");
        assert_eq!(escape("ü&\u{80}<\u{10ffff}"), "ü&amp;\u{80}&lt;\u{10ffff}");
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
                    let mut appended = String::from("<");
                    escape_into(&mut appended, &text);
                    assert_eq!(appended, format!("<{expected}"));
                }
            }
        }
    }

    #[test]
    fn escapes_already_escaped_text_again() {
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn escape_into_example() {
        let mut page = String::from("<p>");
        crate::web::html::escape_into(&mut page, "a<b");
        assert_eq!(page, "<p>a&lt;b");
    }
}
