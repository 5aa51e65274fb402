//! The `Cookie:` request header parser (RFC 6265 §4.2, §5.4), borrowing from the
//! header.
//!
//! Grammar: `name=value` pairs separated by `;`. Names are RFC 7230 tokens; values
//! are cookie-octets, optionally in double quotes. Deliberately liberal in one way
//! only, as browsers and proxies send it: the space after `;` is optional and spaces
//! or tabs around a pair are ignored. Anything else (whitespace around `=`, empty
//! pairs, a pair without `=`, a comma, quote or control byte in a value) makes the
//! pair malformed.
//!
//! A malformed pair is skipped by [`get_unique`] unless its name (the text before
//! `=`, trimmed) is the name being looked up, in which case the lookup fails with
//! [`CookieError::MalformedPair`]. Skipping is needed because cookies ignore ports:
//! another web UI on the same device can set sloppy cookies, and those must not lock
//! users out of this one. Failing on our own name is needed because a parser that
//! skipped `session=a b; session=forged` would pick the later, attacker-chosen pair.
//!
//! ```
//! use latchkey::cookie::{CookieError, header};
//! assert_eq!(header::get_unique("a=1;b=\"2\"", "b"), Ok(Some("2")));
//! assert_eq!(header::get_unique("a=1; a=2", "a"), Err(CookieError::DuplicateCookie));
//! ```

use std::fmt;

use super::CookieError;

/// One well-formed `name=value` pair, borrowed from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePair<'a> {
    name: &'a str,
    value: &'a str,
    quoted: bool,
}

impl<'a> CookiePair<'a> {
    /// The cookie name, case-sensitive as sent.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The value without surrounding double quotes.
    pub fn value(&self) -> &'a str {
        self.value
    }

    /// Whether the value was sent in double quotes.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }
}

/// Writes the pair exactly as it appeared in the header (quotes included).
impl fmt::Display for CookiePair<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            write!(f, "{}=\"{}\"", self.name, self.value)
        } else {
            write!(f, "{}={}", self.name, self.value)
        }
    }
}

/// Iterator over the pairs of one `Cookie:` header value; see [`pairs`].
#[derive(Debug, Clone)]
pub struct Pairs<'a> {
    segments: Option<std::str::Split<'a, char>>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<CookiePair<'a>, CookieError>;

    fn next(&mut self) -> Option<Self::Item> {
        let segment = self.segments.as_mut()?.next()?;
        Some(parse_pair(segment).map_err(|_| CookieError::MalformedPair))
    }
}

/// The pairs of one `Cookie:` header value, in order, each either a well-formed pair or
/// [`CookieError::MalformedPair`]. An empty or all-whitespace header has no pairs.
///
/// ```
/// use latchkey::cookie::{CookieError, header::pairs};
/// let got: Vec<_> = pairs("a=1;  b=\"x\" ; c d=2")
///     .map(|p| p.map(|p| (p.name(), p.value())))
///     .collect();
/// assert_eq!(got, [Ok(("a", "1")), Ok(("b", "x")), Err(CookieError::MalformedPair)]);
/// ```
pub fn pairs(header: &str) -> Pairs<'_> {
    let segments = if header.trim_matches(is_ows).is_empty() {
        None
    } else {
        Some(header.split(';'))
    };
    Pairs { segments }
}

/// The value of the cookie `name` in one `Cookie:` header, `None` if absent.
///
/// Fails with [`CookieError::DuplicateCookie`] if the name appears more than once
/// (cookie tossing: a sibling subdomain or a plain-HTTP response can plant a second
/// cookie of the same name, and browsers give no reliable order), with
/// [`CookieError::MalformedPair`] if a malformed pair carries that name, and with
/// [`CookieError::InvalidName`] if `name` is not a token.
///
/// ```
/// use latchkey::cookie::{CookieError, header::get_unique};
/// assert_eq!(get_unique("theme=dark; sid=abc", "sid"), Ok(Some("abc")));
/// assert_eq!(get_unique("theme=dark", "sid"), Ok(None));
/// assert_eq!(get_unique("sid=a b; sid=x", "sid"), Err(CookieError::MalformedPair));
/// ```
pub fn get_unique<'a>(header: &'a str, name: &str) -> Result<Option<&'a str>, CookieError> {
    get_unique_in([header], name)
}

/// Like [`get_unique`] across several `Cookie:` header lines (HTTP/2 and some proxies
/// split the cookies over several lines): the name must appear once in all of them.
///
/// ```
/// use latchkey::cookie::{CookieError, header::get_unique_in};
/// assert_eq!(get_unique_in(["a=1", "sid=x"], "sid"), Ok(Some("x")));
/// assert_eq!(get_unique_in(["sid=1", "sid=2"], "sid"), Err(CookieError::DuplicateCookie));
/// ```
pub fn get_unique_in<'a, I>(headers: I, name: &str) -> Result<Option<&'a str>, CookieError>
where
    I: IntoIterator<Item = &'a str>,
{
    if !is_token(name) {
        return Err(CookieError::InvalidName);
    }
    let mut found = None;
    for segment in headers.into_iter().flat_map(|header| header.split(';')) {
        match parse_pair(segment) {
            Ok(pair) if pair.name == name => {
                if found.is_some() {
                    return Err(CookieError::DuplicateCookie);
                }
                found = Some(pair.value);
            }
            // Our name, claimed by a malformed pair: never skip to a later one.
            Err(claimed) if claimed == name => return Err(CookieError::MalformedPair),
            _ => {}
        }
    }
    Ok(found)
}

/// The value without one pair of surrounding double quotes, and whether it had them.
fn unquote(raw_value: &str) -> (&str, bool) {
    match raw_value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
    {
        Some(inner) => (inner, true),
        None => (raw_value, false),
    }
}

/// Parses one `;`-separated segment; on failure returns the name the segment would
/// claim to a lenient parser (the text before `=`, trimmed).
fn parse_pair(segment: &str) -> Result<CookiePair<'_>, &str> {
    let segment = segment.trim_matches(is_ows);
    let Some((name, raw_value)) = segment.split_once('=') else {
        // A lenient parser reads a pair without `=` as a nameless cookie.
        return Err("");
    };
    if !is_token(name) {
        return Err(name.trim_matches(is_ows));
    }
    let (value, quoted) = unquote(raw_value);
    if !value.bytes().all(is_cookie_octet) {
        return Err(name);
    }
    Ok(CookiePair {
        name,
        value,
        quoted,
    })
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Whether `s` is a non-empty RFC 7230 token (the grammar of a cookie name).
///
/// ```
/// use latchkey::cookie::header::is_token;
/// assert!(is_token("__Host-session"));
/// assert!(!is_token("") && !is_token("a b") && !is_token("a=b") && !is_token("a;"));
/// ```
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `b` is an RFC 9110 `tchar`, a byte of a token: the grammar of cookie
/// names here and of header names in `http::Response`.
///
/// ```
/// use latchkey::cookie::header::is_tchar;
/// assert!(is_tchar(b'a') && is_tchar(b'-') && is_tchar(b'~'));
/// assert!(!is_tchar(b' ') && !is_tchar(b':') && !is_tchar(b'=') && !is_tchar(0x80));
/// ```
pub const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Whether `b` is an RFC 6265 cookie-octet: printable US-ASCII except space, `"`, `,`,
/// `;` and `\`.
pub fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(header: &str) -> Vec<Result<(&str, &str, bool), CookieError>> {
        pairs(header)
            .map(|p| p.map(|p| (p.name(), p.value(), p.is_quoted())))
            .collect()
    }

    #[test]
    fn browser_forms_of_the_separator_are_accepted() {
        let want = vec![Ok(("a", "1", false)), Ok(("b", "2", false))];
        for header in ["a=1; b=2", "a=1;b=2", " a=1 ;\tb=2 ", "a=1;  b=2"] {
            assert_eq!(parsed(header), want, "{header:?}");
        }
        assert!(parsed("").is_empty());
        assert!(parsed(" \t ").is_empty());
    }

    #[test]
    fn quoted_and_empty_values() {
        assert_eq!(
            parsed("a=\"x1\"; b=\"\"; c="),
            vec![
                Ok(("a", "x1", true)),
                Ok(("b", "", true)),
                Ok(("c", "", false))
            ]
        );
        assert_eq!(get_unique("a=\"x1\"", "a"), Ok(Some("x1")));
        let pair = pairs("a=\"x1\"").next().unwrap().unwrap();
        assert_eq!(pair.to_string(), "a=\"x1\"");
    }

    #[test]
    fn malformed_pairs_are_reported() {
        for header in [
            "a", "=1", "a =1", "a= 1", "a=1 2", "a=\"1", "a=1\"", "a=\"\"\"", "a=x,y", "a=x\\y",
            "a=\u{7f}", "a=é", "a b=1", "a\u{0}=1", "a=1;;b=2", "a=1;",
        ] {
            assert!(
                parsed(header).contains(&Err(CookieError::MalformedPair)),
                "{header:?}"
            );
        }
    }

    #[test]
    fn duplicate_names_are_refused() {
        assert_eq!(
            get_unique("sid=1; sid=2", "sid"),
            Err(CookieError::DuplicateCookie)
        );
        assert_eq!(
            get_unique("sid=1; sid=1", "sid"),
            Err(CookieError::DuplicateCookie)
        );
        assert_eq!(
            get_unique("sid=1; x=2; sid=\"1\"", "sid"),
            Err(CookieError::DuplicateCookie)
        );
        // Names are case-sensitive: these are different cookies.
        assert_eq!(get_unique("sid=1; SID=2", "sid"), Ok(Some("1")));
        // A duplicate of another name does not matter.
        assert_eq!(get_unique("x=1; x=2; sid=3", "sid"), Ok(Some("3")));
    }

    #[test]
    fn duplicates_across_header_lines_are_refused() {
        assert_eq!(
            get_unique_in(["a=1; sid=1", "b=2; sid=2"], "sid"),
            Err(CookieError::DuplicateCookie)
        );
        assert_eq!(get_unique_in(["a=1", "b=2; sid=2"], "sid"), Ok(Some("2")));
        assert_eq!(get_unique_in(["a=1", ""], "sid"), Ok(None));
        assert_eq!(get_unique_in([], "sid"), Ok(None));
    }

    #[test]
    fn a_malformed_pair_of_our_name_never_lets_a_later_one_win() {
        for header in [
            "sid=a b; sid=forged",
            "sid =x; sid=forged",
            " sid\t=x;sid=forged",
            "sid=\"x; sid=forged",
            "sid=x,y; sid=forged",
        ] {
            assert_eq!(
                get_unique(header, "sid"),
                Err(CookieError::MalformedPair),
                "{header:?}"
            );
        }
        assert_eq!(
            get_unique_in(["sid=a b", "sid=forged"], "sid"),
            Err(CookieError::MalformedPair)
        );
    }

    #[test]
    fn unrelated_malformed_pairs_are_skipped() {
        assert_eq!(
            get_unique("prefs={\"a\": 1}; junk; sid=ok; other=a b", "sid"),
            Ok(Some("ok"))
        );
    }

    #[test]
    fn cookie_octets_are_exactly_rfc_6265s() {
        let octets: Vec<u8> = (0..=255u8).filter(|&b| is_cookie_octet(b)).collect();
        let want: Vec<u8> = (0x21..=0x7Eu8).filter(|b| !b"\",;\\".contains(b)).collect();
        assert_eq!(octets, want);
    }

    #[test]
    fn token_bytes_are_exactly_the_tchars() {
        let tchars =
            b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for b in 0..=255u8 {
            assert_eq!(is_tchar(b), tchars.contains(&b), "{b:#x}");
        }
    }

    #[test]
    fn lookup_name_must_be_a_token() {
        assert_eq!(get_unique("a=1", ""), Err(CookieError::InvalidName));
        assert_eq!(get_unique("a=1", "a b"), Err(CookieError::InvalidName));
    }
}
