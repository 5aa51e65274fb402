//! Every published open-redirect bypass payload we know of
//! (`tests/fixtures/open_redirect_payloads.txt`) must be rejected by
//! `safe_next`, except the few marked `local:` there, which are accepted only as
//! plain paths on this site.

use latchkey::internal::{RedirectPolicy, safe_next};

const PAYLOADS: &str = include_str!("../fixtures/open_redirect_payloads.txt");

fn allowed() -> Vec<String> {
    vec!["allowed.example".to_string()]
}

/// `(expected_local, payload)` for each payload line, placeholders expanded.
fn payloads() -> Vec<(bool, String)> {
    PAYLOADS
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (local, raw) = match line.strip_prefix("local: ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let payload = raw
                .replace("{TAB}", "\t")
                .replace("{CR}", "\r")
                .replace("{LF}", "\n")
                .replace("{NUL}", "\0")
                .replace("{SP}", " ")
                .replace("{DEL}", "\u{7f}");
            (local, payload)
        })
        .collect()
}

/// A same-site path: one `/`, then neither `/` nor `\`, printable ASCII only.
fn is_plain_local_path(location: &str) -> bool {
    location.starts_with('/')
        && !location[1..].starts_with(['/', '\\'])
        && !location.contains('\\')
        && location.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[test]
fn fixture_is_substantial() {
    let all = payloads();
    assert!(all.len() >= 80, "only {} payloads", all.len());
    assert!(all.iter().filter(|(local, _)| !local).count() >= 150);
}

#[test]
fn every_bypass_payload_is_rejected() {
    let allowed = allowed();
    let policy = RedirectPolicy::new(&allowed).unwrap();
    let mut accepted = Vec::new();
    for (local, payload) in payloads() {
        if local {
            continue;
        }
        assert_eq!(policy.safe_next(&payload), safe_next(&payload, &allowed));
        if let Some(location) = safe_next(&payload, &allowed) {
            accepted.push(format!("{payload:?} -> {location:?}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "accepted bypass payloads:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn local_payloads_stay_plain_local_paths() {
    let allowed = allowed();
    for (local, payload) in payloads() {
        if !local {
            continue;
        }
        let location = safe_next(&payload, &allowed)
            .unwrap_or_else(|| panic!("{payload:?} was expected to be accepted as a local path"));
        assert!(
            is_plain_local_path(&location),
            "{payload:?} -> {location:?}"
        );
    }
}

#[test]
fn legitimate_targets_are_accepted() {
    let allowed = allowed();
    let cases = [
        ("/", "/"),
        ("/admin", "/admin"),
        ("/admin/", "/admin/"),
        ("/admin?x=1&y=2", "/admin?x=1&y=2"),
        ("/a/b#frag", "/a/b#frag"),
        ("/cgi-bin/luci/;stok=/admin", "/cgi-bin/luci/;stok=/admin"),
        ("/search?q=a%20b", "/search?q=a%20b"),
        ("/wifi settings", "/wifi%20settings"),
        ("http://allowed.example/", "http://allowed.example/"),
        (
            "https://allowed.example/admin?x=1#y",
            "https://allowed.example/admin?x=1#y",
        ),
        (
            "https://ALLOWED.example:8443/",
            "https://allowed.example:8443/",
        ),
        ("http://allowed.example", "http://allowed.example/"),
    ];
    for (target, expected) in cases {
        assert_eq!(
            safe_next(target, &allowed).as_deref(),
            Some(expected),
            "{target:?}"
        );
    }
}
