//! docs/DEPLOY.md and `contrib/` against real programs: the steps of the document
//! followed as written (`tests/common/recipe.rs`) in front of nginx `auth_request` and
//! Caddy `forward_auth` from Debian's own config, WebSockets through both, Chromium on
//! the login page and through both proxies, the fail2ban filter and jail, the systemd
//! unit and the OpenWrt package. A test whose program is missing prints `SKIP:` and
//! passes on a developer's machine, and fails where `CI` is set.

mod browser;
mod caddy;
mod fail2ban;
mod nginx;
mod openwrt;
mod packaging;

use crate::common::deploy_section;

/// The headings of docs/DEPLOY.md whose `sh` blocks a test follows, and which test.
const FOLLOWED: [(&str, &str); 10] = [
    (
        "1. Install the binary",
        "every test that follows the document",
    ),
    ("2. Run it as a service", "packaging.rs"),
    ("Changing users and passwords", "packaging.rs"),
    ("3a. latchkey alone", "packaging.rs, fail2ban.rs"),
    ("HTTPS without nginx or Caddy", "packaging.rs"),
    ("3b. Behind nginx", "nginx.rs"),
    ("3c. Behind Caddy", "caddy.rs"),
    ("tls internal", "caddy.rs"),
    ("4. Ban repeat offenders", "fail2ban.rs"),
    ("fail2ban for latchkey alone", "fail2ban.rs"),
];

/// DEPLOY.md says that every `sh` block in it is run by a test: a new block under
/// another heading needs a test that follows it (then it joins [`FOLLOWED`]).
#[test]
fn every_sh_block_of_the_document_is_followed_by_a_test() {
    let doc = std::fs::read_to_string(crate::common::repo_root().join("docs/DEPLOY.md")).unwrap();
    let mut heading = String::new();
    let mut in_fence = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            if !in_fence && line.trim() == "```sh" {
                assert!(
                    FOLLOWED.iter().any(|(title, _)| heading.contains(title)),
                    "the sh block under {heading:?} in docs/DEPLOY.md is followed by no test"
                );
            }
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            heading = line.to_owned();
        }
    }
    for (title, test) in FOLLOWED {
        assert!(
            !crate::common::sh_commands(&deploy_section(title)).is_empty(),
            "{title:?} has sh commands for {test} to follow"
        );
    }
}
