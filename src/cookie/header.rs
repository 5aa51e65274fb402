//! The `Cookie:` request header parser (RFC 6265 §4.2, §5.4), borrowing and
//! allocation-free.
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
    for header in headers {
        // One walk over the line on its bytes, each `;`-separated segment in turn: the
        // separators and blanks are ASCII, so every cut falls on a character boundary.
        let bytes = header.as_bytes();
        let mut start = 0;
        while start <= bytes.len() {
            // The segment without the blanks before it; its name runs to its first
            // `=`. A segment without `=` claims the empty name, which is never ours.
            let from = start
                + bytes.get(start..).map_or(0, |rest| {
                    rest.iter().take_while(|&&b| is_ows_byte(b)).count()
                });
            let Some(stop) = bytes
                .get(from..)
                .and_then(|rest| rest.iter().position(|&b| b == b'=' || b == b';'))
                .map(|at| from + at)
            else {
                break;
            };
            if bytes.get(stop) == Some(&b';') {
                start = stop + 1;
                continue;
            }
            let eq = stop;
            // Only pairs that claim our name matter (see `parse_pair`): the others
            // are skipped whether well-formed or not, so their values are not read.
            let raw_name = bytes.get(from..eq).unwrap_or_default();
            if trim_ows_end(raw_name) != name.as_bytes() {
                start = segment_end(header, eq + 1) + 1;
                continue;
            }
            // Whitespace before `=`: our name, claimed by a malformed pair.
            if raw_name.len() != name.len() {
                return Err(CookieError::MalformedPair);
            }
            // The value is checked a word at a time up to the first word holding a byte
            // that is not a cookie-octet. The end of the line with none on the way is
            // the usual case: the value is the rest of the line (no `;`, no blank at
            // its end, no quotes) and it has been checked.
            let rest = bytes.get(eq + 1..).unwrap_or_default();
            let (words, tail) = rest.as_chunks::<8>();
            let clean = words
                .iter()
                .take_while(|word| octet_flags(u64::from_le_bytes(**word)) == 0)
                .count();
            let value = if clean == words.len() && all_cookie_octets(tail) {
                start = bytes.len() + 1;
                header.get(eq + 1..).unwrap_or_default()
            } else {
                // The clean words hold no `;`: the segment ends after them.
                let end = segment_end(header, eq + 1 + clean * 8);
                start = end + 1;
                let raw_value = bytes.get(eq + 1..end).unwrap_or_default();
                let value_end = eq + 1 + trim_ows_end(raw_value).len();
                let value = unquote(header.get(eq + 1..value_end).unwrap_or_default()).0;
                if !all_cookie_octets(value.as_bytes()) {
                    return Err(CookieError::MalformedPair);
                }
                value
            };
            if found.is_some() {
                return Err(CookieError::DuplicateCookie);
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// Where the segment that includes byte `from` of `header` ends: its `;`, or the end
/// of the line.
fn segment_end(header: &str, from: usize) -> usize {
    header
        .get(from..)
        .and_then(|rest| rest.find(';'))
        .map_or(header.len(), |at| from + at)
}

/// Space or tab, the blanks allowed around a pair.
fn is_ows_byte(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `bytes` without spaces and tabs at the end.
fn trim_ows_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| !is_ows_byte(b))
        .map_or(0, |at| at + 1);
    bytes.get(..end).unwrap_or_default()
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

/// Whether every byte of `value` is a cookie-octet, eight bytes at a time: a session
/// cookie is a few hundred bytes, and a byte-by-byte range check cost more than
/// everything else the lookup does.
fn all_cookie_octets(value: &[u8]) -> bool {
    let (words, rest) = value.as_chunks::<8>();
    let mut flags = 0u64;
    for word in words {
        flags |= octet_flags(u64::from_le_bytes(*word));
    }
    // Pad the tail with a cookie-octet so it takes the same test.
    let mut tail = [b'A'; 8];
    if let Some(head) = tail.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    flags |= octet_flags(u64::from_le_bytes(tail));
    flags == 0
}

/// Non-zero if some byte of `word` is not a cookie-octet (0x21..=0x7E except `"`, `,`,
/// `;` and `\`).
///
/// Each term sets the top bit of every byte it rejects: the byte itself for 0x80 and
/// up, `+1` for 0x7F, `-0x21` for control bytes and space, and `^c - 1` for each
/// excluded character `c`. A term can also set a top bit wrongly, through a carry or
/// borrow out of a lower byte, but only out of a byte that is rejected itself, so the
/// answer for the word as a whole is exact.
fn octet_flags(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const TOP: u64 = u64::from_le_bytes([0x80; 8]);
    let excluded = |c: u8| (word ^ (ONES * u64::from(c))).wrapping_sub(ONES);
    (word
        | word.wrapping_add(ONES)
        | word.wrapping_sub(ONES * 0x21)
        | excluded(b'"')
        | excluded(b',')
        | excluded(b';')
        | excluded(b'\\'))
        & TOP
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
    if !all_cookie_octets(value.as_bytes()) {
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
    // A u8 index into a 256-entry table is always in bounds.
    !s.is_empty() && s.bytes().all(|b| TOKEN_BYTES[usize::from(b)])
}

/// Which bytes an RFC 7230 token may hold: a table, because the closure over a chain
/// of ranges was not inlined and cost a call per byte of every cookie name.
static TOKEN_BYTES: [bool; 256] = token_bytes();

const fn token_bytes() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_tchar(b as u8);
        b += 1;
    }
    table
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
    fn word_at_a_time_octet_check_agrees_with_the_byte_rule() {
        for b in 0..=255u8 {
            // Every position of a word and of the tail, next to good and bad neighbours.
            for len in 1..=17 {
                for pos in 0..len {
                    for filler in [b'A', b'!', b'~', b'"', 0xFF] {
                        let mut bytes = vec![filler; len];
                        bytes[pos] = b;
                        let want = bytes.iter().all(|&x| is_cookie_octet(x));
                        assert_eq!(all_cookie_octets(&bytes), want, "{bytes:?}");
                    }
                }
            }
        }
        assert!(all_cookie_octets(b""));
        // Every pair of neighbours, where a carry or borrow could hide or invent a
        // rejected byte, inside a word, at its end, and across two words.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for pos in [0, 3, 6, 7] {
                    let mut bytes = [b'A'; 16];
                    bytes[pos] = a;
                    bytes[pos + 1] = b;
                    let want = is_cookie_octet(a) && is_cookie_octet(b);
                    assert_eq!(all_cookie_octets(&bytes), want, "{a:#x} {b:#x} at {pos}");
                }
            }
        }
    }

    #[test]
    fn token_table_holds_exactly_the_tchar_bytes() {
        let tchars =
            b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for b in 0..=255u8 {
            assert_eq!(TOKEN_BYTES[usize::from(b)], tchars.contains(&b), "{b:#x}");
        }
    }

    #[test]
    fn lookup_name_must_be_a_token() {
        assert_eq!(get_unique("a=1", ""), Err(CookieError::InvalidName));
        assert_eq!(get_unique("a=1", "a b"), Err(CookieError::InvalidName));
    }
}
