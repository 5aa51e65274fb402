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
    fn escapes_already_escaped_text_again() {
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }
}
