//! Help and mistakes: a command group without a subcommand lists them, `GROUP --help`
//! shows that group, an unknown option is echoed as typed, a duration needs its unit,
//! `calibrate` says when it clamps, and revoking what does not exist fails as
//! `token issue nobody` does.

use crate::common::*;

fn dd(data: &std::path::Path) -> &str {
    data.to_str().unwrap()
}

#[test]
fn a_group_without_a_subcommand_lists_its_subcommands() {
    for (group, subs) in [
        ("user", "add, passwd, del or list"),
        ("token", "issue, verify or revoke"),
        ("session", "revoke-all"),
        ("key", "rotate, drop or list"),
    ] {
        let r = cli(&[group], "");
        assert_eq!(r.code, 2, "{group}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{group}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{group} needs a subcommand: {subs}")),
            "{group}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(&format!("latchkey {group} --help")));

        let r = cli(&[group, "frob"], "");
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains(&format!("'{group} frob'")) && r.stderr.contains(subs),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn group_help_shows_that_group() {
    let r = cli(&["user", "--help"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for line in [
        "user add NAME",
        "user passwd NAME",
        "user del NAME",
        "user list",
    ] {
        assert!(r.stdout.contains(line), "{line}: {}", r.stdout);
    }
    for other in ["serve", "token issue", "key rotate", "calibrate"] {
        assert!(!r.stdout.contains(other), "{other}: {}", r.stdout);
    }
    let r = cli(&["key", "-h"], "");
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("key rotate") && !r.stdout.contains("user add"));
}

#[test]
fn an_unknown_option_is_echoed_as_typed() {
    for (typed, said) in [
        ("-v", "unknown option -v"),
        ("--verbose", "unknown option --verbose"),
        ("--verbose=2", "unknown option --verbose"),
    ] {
        let r = cli(&["user", "list", typed], "");
        assert_eq!(r.code, 2, "{typed}");
        assert!(r.stderr.contains(said), "{typed}: {}", r.stderr);
        assert!(
            !r.stderr.contains("--v ") && !r.stderr.contains("---"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_duration_needs_its_unit() {
    let tmp = TempDir::new("cli-units");
    let data = tmp.data_dir();
    add_user(&data, "tess", "pw-tess-123");
    for args in [
        &["token", "issue", "tess", "--ttl", "15"][..],
        &["serve", "--session-ttl", "3600"],
        &["calibrate", "--target", "250"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--data-dir", dd(&data)]);
        let r = cli(&all, "");
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("a duration needs a unit: s, m, h or d"),
            "{args:?}: {}",
            r.stderr
        );
    }
    let r = cli(&["serve", "--help"], "");
    assert!(r.stdout.contains("300s") || r.stdout.contains("12h"));
    // `0` is zero in any unit: refresh tokens off.
    let srv = Server::start(&data, &["--refresh-ttl", "0", "--token-ttl", "90s"]);
    drop(srv);
}

#[test]
fn calibrate_says_when_it_clamps() {
    let tmp = TempDir::new("cli-clamp");
    let data = tmp.data_dir();
    let r = cli(
        &["calibrate", "--target", "1ms", "--data-dir", dd(&data)],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("clamped to the minimum of 100000 iterations"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(data.join("pbkdf2-iterations")).unwrap(),
        "100000\n"
    );
}

#[test]
fn revoking_what_does_not_exist_fails_like_token_issue() {
    let tmp = TempDir::new("cli-revoke-nothing");
    let data = tmp.data_dir();
    add_user(&data, "tess", "pw-tess-123");
    for (args, says) in [
        (&["token", "issue", "nobody"][..], "no user nobody"),
        (&["session", "revoke-all", "nobody"], "no user nobody"),
        (
            &["token", "revoke", "not-a-jti"],
            "not a token id: not-a-jti",
        ),
        (
            &["token", "revoke", "0123456789ABCDEF0123456789ABCDEF"],
            "not a token id",
        ),
    ] {
        let mut all = args.to_vec();
        all.extend(["--data-dir", dd(&data)]);
        let r = cli(&all, "");
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert!(
            !data.join("revoked").exists(),
            "{args:?} wrote a revocation"
        );
    }
    let r = cli(
        &["session", "revoke-all", "tess", "--data-dir", dd(&data)],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}
