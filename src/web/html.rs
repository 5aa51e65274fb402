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
    let mut rest = text;
    while let Some(index) = rest.find(['&', '<', '>', '"', '\'']) {
        let (plain, special) = rest.split_at(index);
        out.push_str(plain);
        let mut chars = special.chars();
        let entity = match chars.next() {
            Some('&') => "&amp;",
            Some('<') => "&lt;",
            Some('>') => "&gt;",
            Some('"') => "&quot;",
            _ => "&#x27;",
        };
        out.push_str(entity);
        rest = chars.as_str();
    }
    out.push_str(rest);
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
