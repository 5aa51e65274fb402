//! Validation of the post-login redirect target (`next`), against open redirects.
//!
//! Browsers and servers disagree on how to read odd URLs (`/\evil.com`,
//! `/%09/evil.com`, `https:evil.com`, `http://allowed@evil.com`, fullwidth
//! slashes...), so rather than trying to parse like a browser and block the bad
//! cases, this module accepts only two narrow shapes and rejects everything else:
//!
//! * a same-site path: exactly one leading `/` followed by neither `/` nor `\`;
//! * an absolute `http://` or `https://` URL whose host is on an allow-list.
//!
//! In both, the path, query and fragment must hold no control characters and no
//! backslash, raw or percent-encoded; every `%` must start a valid escape that
//! decodes to UTF-8; the (decoded) path must have no empty segment other than a
//! trailing `/` (so no `//` inside the path, even as `%2F%2F`), no `.` or `..`
//! segment, and no `@`. The caller redirects to `/` when the target is rejected.
//!
//! The accepted target is returned re-encoded for a `Location` header: only
//! printable ASCII, with spaces, non-ASCII and the characters `" < > \` { } | ^`
//! percent-encoded.
//!
//! # Allow-list entries
//! An entry is a host name or IPv4 address, optionally with a port: `example.com`
//! or `example.com:8443`. Hosts compare case-insensitively and exactly (no
//! subdomain wildcard: `evil.example.com` does not match `example.com`). An entry
//! without a port matches any port; an entry with a port matches only that port,
//! where a URL without a port has its scheme's default (80 or 443). IPv6 literals
//! (`[::1]`), user info (`user@host`), percent-encoded or non-ASCII hosts are never
//! accepted.

use std::fmt;

use super::url::{self, push_escaped};

/// Longest target accepted, in bytes; longer ones are rejected outright.
pub(crate) const MAX_TARGET_LEN: usize = 2048;

/// Longest host name (RFC 1035).
const MAX_HOST_LEN: usize = 253;

/// Why an allow-list entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectPolicyError {
    /// The entry is not `host` or `host:port` (holds the entry).
    InvalidHost(String),
}

impl fmt::Display for RedirectPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectPolicyError::InvalidHost(entry) => {
                write!(
                    f,
                    "invalid redirect host {entry:?} (expected host or host:port)"
                )
            }
        }
    }
}

impl std::error::Error for RedirectPolicyError {}

/// A validated allow-list of hosts that absolute redirect targets may point to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Lower-cased host with its required port, if any.
    allowed: Vec<(String, Option<u16>)>,
}

impl RedirectPolicy {
    /// Builds a policy from allow-list entries (`host` or `host:port`); an empty
    /// list allows only same-site paths.
    pub fn new(entries: &[impl AsRef<str>]) -> Result<Self, RedirectPolicyError> {
        let allowed = entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref();
                parse_authority(entry)
                    .map(|(host, port)| (host.to_ascii_lowercase(), port))
                    .ok_or_else(|| RedirectPolicyError::InvalidHost(entry.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(RedirectPolicy { allowed })
    }

    /// Validates `target` (see the [module docs](self)); `None` means "redirect to `/`".
    pub fn safe_next(&self, target: &str) -> Option<String> {
        check_target(target, |host, port| {
            self.allowed.iter().any(|(allowed, allowed_port)| {
                allowed.eq_ignore_ascii_case(host) && allowed_port.is_none_or(|p| p == port)
            })
        })
    }
}

/// Validates `target` against the raw allow-list `allowed_hosts` (entries as in
/// [`RedirectPolicy::new`]; malformed entries match nothing). Returns the target
/// re-encoded for a `Location` header, or `None` when the caller must fall back to `/`.
pub fn safe_next(target: &str, allowed_hosts: &[String]) -> Option<String> {
    check_target(target, |host, port| {
        allowed_hosts.iter().any(|entry| {
            parse_authority(entry).is_some_and(|(allowed, allowed_port)| {
                allowed.eq_ignore_ascii_case(host) && allowed_port.is_none_or(|p| p == port)
            })
        })
    })
}

/// The shared validation; `is_allowed(host, effective_port)` decides absolute URLs.
fn check_target(target: &str, is_allowed: impl Fn(&str, u16) -> bool) -> Option<String> {
    if target.len() > MAX_TARGET_LEN {
        return None;
    }
    let mut out = String::with_capacity(target.len() + 16);
    if let Some(after_slash) = target.strip_prefix('/') {
        if after_slash.starts_with(['/', '\\']) {
            return None;
        }
        push_checked_rest(&mut out, target)?;
        return Some(out);
    }
    let (scheme, default_port, after_scheme) = split_scheme(target)?;
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(authority_end);
    let (host, port) = parse_authority(authority)?;
    if !is_allowed(host, port.unwrap_or(default_port)) {
        return None;
    }
    out.push_str(scheme);
    out.push_str("://");
    out.extend(host.chars().map(|c| c.to_ascii_lowercase()));
    if let Some(port) = port {
        out.push(':');
        out.push_str(&port.to_string());
    }
    if !rest.starts_with('/') {
        // `http://host?x` and `http://host` mean the root path; say so explicitly.
        out.push('/');
    }
    push_checked_rest(&mut out, rest)?;
    Some(out)
}

/// Splits off a case-insensitive `http://` or `https://` prefix, returning the
/// canonical scheme, its default port and what follows.
fn split_scheme(target: &str) -> Option<(&'static str, u16, &str)> {
    let (scheme, rest) = target.split_once("://")?;
    if scheme.eq_ignore_ascii_case("http") {
        Some(("http", 80, rest))
    } else if scheme.eq_ignore_ascii_case("https") {
        Some(("https", 443, rest))
    } else {
        None
    }
}

/// Parses `host[:port]` where host is a dotted name of `[A-Za-z0-9-]` labels.
fn parse_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (host, Some(port.parse::<u16>().ok()?))
        }
        None => (authority, None),
    };
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.is_empty() || host.len() > MAX_HOST_LEN || !host.split('.').all(valid_label) {
        return None;
    }
    Some((host, port))
}

/// Whether `byte` may appear unescaped in the returned target.
fn is_location_safe(byte: u8) -> bool {
    (0x21..=0x7e).contains(&byte)
        && !matches!(byte, b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'^')
}

/// Checks the path-query-fragment `rest` (see the module docs) and appends it,
/// re-encoded, to `out`.
fn push_checked_rest(out: &mut String, rest: &str) -> Option<()> {
    if rest.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let decoded = url::decode_string(rest.as_bytes(), false).ok()?;
    if decoded.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    // Judge the path on its decoded form, so `%2F%2F` and `%2e%2e` count as `//` and `..`.
    let raw_path = rest.split(['?', '#']).next().unwrap_or_default();
    let decoded_path = url::decode_string(raw_path.as_bytes(), false).ok()?;
    if decoded_path.contains('@') {
        return None;
    }
    if let Some(segments) = decoded_path.strip_prefix('/') {
        let mut segments = segments.split('/').peekable();
        while let Some(segment) = segments.next() {
            let is_last = segments.peek().is_none();
            if (segment.is_empty() && !is_last) || segment == "." || segment == ".." {
                return None;
            }
        }
    }
    for &byte in rest.as_bytes() {
        if is_location_safe(byte) {
            out.push(char::from(byte));
        } else {
            push_escaped(out, byte);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["router.lan".into(), "app.example:8443".into()]
    }

    fn next(target: &str) -> Option<String> {
        safe_next(target, &allowed())
    }

    #[test]
    fn accepts_plain_local_paths() {
        for path in [
            "/",
            "/admin",
            "/admin/",
            "/admin?x=1&y=2",
            "/a/b#frag",
            "/a/.hidden",
            "/a.b/c-d_e~f",
        ] {
            assert_eq!(next(path).as_deref(), Some(path), "{path:?}");
        }
        assert_eq!(
            next("/search?q=a%20b%26c").as_deref(),
            Some("/search?q=a%20b%26c")
        );
        assert_eq!(
            next("/?next=//evil.com").as_deref(),
            Some("/?next=//evil.com")
        );
    }

    #[test]
    fn reencodes_for_the_location_header() {
        assert_eq!(next("/a b").as_deref(), Some("/a%20b"));
        assert_eq!(next("/é").as_deref(), Some("/%C3%A9"));
        assert_eq!(
            next("/\u{FF0F}evil.com").as_deref(),
            Some("/%EF%BC%8Fevil.com")
        );
        assert_eq!(next("/x?a=\"<b>\"").as_deref(), Some("/x?a=%22%3Cb%3E%22"));
    }

    #[test]
    fn rejects_network_path_and_backslash_tricks() {
        for target in [
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\/evil.com",
            "\\\\evil.com",
            "/a\\b",
        ] {
            assert_eq!(next(target), None, "{target:?}");
        }
    }

    #[test]
    fn rejects_encoded_slashes_dots_and_backslashes() {
        for target in [
            "/%2f%2fevil.com",
            "/%2F/evil.com",
            "/%5cevil.com",
            "/a/%2e%2e/b",
            "/a/../b",
            "/./a",
            "/a//b",
        ] {
            assert_eq!(next(target), None, "{target:?}");
        }
    }

    #[test]
    fn rejects_control_characters_raw_and_encoded() {
        for target in [
            "/a\r\nLocation: x",
            "/\t/evil.com",
            "/a%0d%0ab",
            "/%09/evil.com",
            "/a%00",
            "/a?x=%0a",
            "/a%7f",
            "/a%C2%85",
        ] {
            assert_eq!(next(target), None, "{target:?}");
        }
    }

    #[test]
    fn rejects_bad_escapes_and_non_utf8() {
        for target in ["/a%", "/a%2", "/a%zz", "/a%ff", "/%c0%af"] {
            assert_eq!(next(target), None, "{target:?}");
        }
    }

    #[test]
    fn rejects_schemes_and_odd_prefixes() {
        for target in [
            "",
            "admin",
            "javascript:alert(1)",
            "https:evil.com",
            "https:/evil.com",
            "http:/\\/\\evil.com",
            "ftp://router.lan/",
            "data:text/html,x",
            " /admin",
            "\u{3031}evil.com",
        ] {
            assert_eq!(next(target), None, "{target:?}");
        }
    }

    #[test]
    fn accepts_allow_listed_absolute_urls() {
        assert_eq!(
            next("http://router.lan").as_deref(),
            Some("http://router.lan/")
        );
        assert_eq!(
            next("HTTPS://Router.LAN/a?b#c").as_deref(),
            Some("https://router.lan/a?b#c")
        );
        assert_eq!(
            next("http://router.lan:8080/x").as_deref(),
            Some("http://router.lan:8080/x")
        );
        assert_eq!(
            next("https://router.lan?x=1").as_deref(),
            Some("https://router.lan/?x=1")
        );
        assert_eq!(
            next("https://app.example:8443/").as_deref(),
            Some("https://app.example:8443/")
        );
    }

    #[test]
    fn port_entries_are_exact() {
        assert_eq!(next("https://app.example/"), None);
        assert_eq!(next("https://app.example:443/"), None);
        let default_port = vec!["router.lan:443".to_string()];
        assert_eq!(
            safe_next("https://router.lan/", &default_port).as_deref(),
            Some("https://router.lan/")
        );
        assert_eq!(safe_next("http://router.lan/", &default_port), None);
    }

    #[test]
    fn rejects_host_confusion() {
        for target in [
            "http://evil.com",
            "http://router.lan.evil.com/",
            "http://evil.com@router.lan/",
            "http://router.lan@evil.com/",
            "http://router.lan:80@evil.com/",
            "http://router.lan\\@evil.com/",
            "http://router.lan%2eevil.com/",
            "http://router.lan./",
            "http://[::1]/",
            "http://router.lan:/",
            "http://router.lan:99999/",
            "http:///router.lan/",
            "http://router.lan//evil.com",
        ] {
            assert_eq!(next(target), None, "{target:?}");
        }
    }

    #[test]
    fn rejects_overlong_targets() {
        let long = format!("/{}", "a".repeat(MAX_TARGET_LEN));
        assert_eq!(next(&long), None);
    }

    #[test]
    fn policy_matches_free_function() {
        let policy = RedirectPolicy::new(&allowed()).unwrap();
        for target in [
            "/admin",
            "//evil.com",
            "http://router.lan/x",
            "https://app.example:8443/",
            "https://app.example/",
        ] {
            assert_eq!(policy.safe_next(target), next(target), "{target:?}");
        }
    }

    #[test]
    fn policy_rejects_bad_entries() {
        for entry in [
            "",
            "a b",
            "host:",
            "host:x",
            "[::1]",
            "*.example.com",
            "http://host",
            "host:65536",
        ] {
            assert_eq!(
                RedirectPolicy::new(&[entry]),
                Err(RedirectPolicyError::InvalidHost(entry.into())),
                "{entry:?}"
            );
        }
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn new_example() {
        use crate::web::redirect::{RedirectPolicy, RedirectPolicyError};
        let policy = RedirectPolicy::new(&["Admin.Example:8443"]).unwrap();
        assert_eq!(
            policy.safe_next("https://admin.example:8443/x").as_deref(),
            Some("https://admin.example:8443/x")
        );
        assert_eq!(
            RedirectPolicy::new(&["user@host"]),
            Err(RedirectPolicyError::InvalidHost("user@host".into()))
        );
    }

    #[test]
    fn safe_next_example() {
        let policy = crate::web::redirect::RedirectPolicy::default();
        assert_eq!(
            policy.safe_next("/admin?x=1").as_deref(),
            Some("/admin?x=1")
        );
        assert_eq!(policy.safe_next("//evil.com"), None);
    }

    #[test]
    fn safe_next_example_2() {
        use crate::web::redirect::safe_next;
        let allowed = vec!["router.lan".to_string()];
        assert_eq!(
            safe_next("/admin#wifi", &allowed).as_deref(),
            Some("/admin#wifi")
        );
        assert_eq!(
            safe_next("/a b/é", &allowed).as_deref(),
            Some("/a%20b/%C3%A9")
        );
        assert_eq!(
            safe_next("http://ROUTER.lan/x", &allowed).as_deref(),
            Some("http://router.lan/x")
        );
        assert_eq!(safe_next("http://router.lan.evil.com/", &allowed), None);
        assert_eq!(safe_next("/\\evil.com", &allowed), None);
        assert_eq!(safe_next("/%0d%0aSet-Cookie:x", &allowed), None);
    }
}
