//! Fuzz invariants for `web::redirect::safe_next`: never panics, and anything
//! accepted is either an allow-listed absolute URL or a same-site path that a
//! browser resolving it against `http://site.example/` keeps on `site.example`.

use crate::web::redirect::{MAX_TARGET_LEN, RedirectPolicy, safe_next};
use crate::web::url::percent_decode;

const SITE: &str = "site.example";

fn allowed_hosts() -> Vec<String> {
    vec!["allowed.example".into(), "app.example:8443".into()]
}

/// Whether `host[:port]` from an accepted absolute URL is on the allow-list.
fn is_allow_listed(authority: &str, https: bool) -> bool {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok()),
        None => (authority, Some(if https { 443 } else { 80 })),
    };
    host == "allowed.example" || (host == "app.example" && port == Some(8443))
}

/// The host a browser would navigate to when following `location` from a page on
/// `SITE`: a simplified WHATWG URL parse, written independently of the code under
/// test, that errs towards "left the site" (tab/CR/LF removed, `\` read as `/`,
/// any scheme taken as absolute, user info stripped).
fn resolved_host(location: &str) -> String {
    let trimmed = location.trim_matches(|c: char| c <= ' ');
    let cleaned: String = trimmed
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    let scheme_end = cleaned.find(':').filter(|&end| {
        let scheme = &cleaned[..end];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let after_scheme = match scheme_end {
        Some(end) => &cleaned[end + 1..],
        None if cleaned.starts_with("//") => cleaned.as_str(),
        None => return SITE.to_string(),
    };
    let authority = after_scheme.trim_start_matches('/');
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = host_port.split(':').next().unwrap_or_default();
    host.to_ascii_lowercase()
}

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let target = String::from_utf8_lossy(data);
    let hosts = allowed_hosts();
    let accepted = safe_next(&target, &hosts);
    let policy = RedirectPolicy::new(&hosts).expect("fixed allow-list is valid");
    assert_eq!(
        policy.safe_next(&target),
        accepted,
        "policy and free function disagree"
    );
    let Some(location) = accepted else { return };

    assert!(
        location.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "not printable ASCII: {location:?}"
    );
    assert!(!location.contains('\\'), "backslash: {location:?}");
    let decoded = percent_decode(&location).expect("accepted target decodes");
    assert!(
        !decoded.chars().any(|c| c.is_control() || c == '\\'),
        "encoded control: {location:?}"
    );

    if let Some(after_slash) = location.strip_prefix('/') {
        assert!(
            !after_slash.starts_with(['/', '\\']),
            "network path: {location:?}"
        );
        assert_eq!(
            resolved_host(&location),
            SITE,
            "leaves the site: {location:?}"
        );
    } else {
        let (https, rest) = if let Some(rest) = location.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = location.strip_prefix("http://") {
            (false, rest)
        } else {
            panic!("accepted neither a path nor http(s): {location:?}");
        };
        let authority = rest.split('/').next().unwrap_or_default();
        assert!(
            rest.len() > authority.len(),
            "absolute URL without path: {location:?}"
        );
        assert!(
            is_allow_listed(authority, https),
            "host not allowed: {location:?}"
        );
        let host = authority.split(':').next().unwrap_or_default();
        assert_eq!(
            resolved_host(&location),
            host,
            "browser sees another host: {location:?}"
        );
    }
    // Re-encoding can grow a target past the length cap (which then rejects it);
    // below the cap, an accepted target must validate to itself.
    if location.len() > MAX_TARGET_LEN {
        return;
    }
    assert_eq!(
        safe_next(&location, &hosts).as_deref(),
        Some(location.as_str()),
        "validation is not idempotent"
    );
}
