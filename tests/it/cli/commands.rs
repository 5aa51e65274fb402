//! The command line: every command's happy path, and bad input answered with one
//! line on stderr and the documented exit status.

use crate::common::*;

fn dd(data: &std::path::Path) -> &str {
    data.to_str().unwrap()
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["frobnicate"][..],
        &["user", "add"],
        &["user", "add", "a", "b"],
        &["token", "verify", "x", "--at", "yesterday"],
        &["token", "issue", "bob", "--ttl", "forever"],
        &["serve", "--listen", "nowhere"],
        &["serve", "--cookie-secure", "sometimes"],
        &["user", "list", "--bogus"],
        &[],
    ] {
        let r = cli(args, "");
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("latchkey: "), "{args:?}");
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn help_everywhere() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["user", "add", "--help"],
        &["token", "verify", "--help"],
    ] {
        let r = cli(args, "");
        assert_eq!(r.code, 0, "{args:?}");
        assert!(
            r.stdout.contains("Usage") || r.stdout.contains("Commands"),
            "{args:?}"
        );
    }
    let r = cli(&["serve", "--help"], "");
    for flag in [
        "--listen",
        "--data-dir",
        "--title",
        "--serve-dir",
        "--session-ttl",
        "--remember-ttl",
        "--token-ttl",
        "--cookie-secure",
        "--trusted-proxy",
        "--allowed-host",
    ] {
        assert!(r.stdout.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn users_lifecycle_and_options_anywhere() {
    let tmp = TempDir::new("cli-users");
    let data = tmp.data_dir();
    // Options before or after positionals; env for the data dir.
    let r = cli(
        &[
            "--data-dir",
            dd(&data),
            "user",
            "add",
            "ann",
            "--password-stdin",
        ],
        "pw-ann-1\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = cli(
        &[
            "user",
            "--data-dir",
            dd(&data),
            "add",
            "--password-stdin",
            "ann2",
        ],
        "pw-ann-1\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        cli(&["user", "del", "ann2", "--data-dir", dd(&data)], "").code,
        0
    );
    let r = cli(
        &[
            "user",
            "add",
            "ann",
            "--password-stdin",
            "--data-dir",
            dd(&data),
        ],
        "again\n",
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("exists"), "{}", r.stderr);
    let r = cli(
        &[
            "user",
            "add",
            "bad name",
            "--password-stdin",
            "--data-dir",
            dd(&data),
        ],
        "x\n",
    );
    assert_eq!(r.code, 1);
    let r = cli(
        &[
            "user",
            "add",
            "ben",
            "--password-stdin",
            "--data-dir",
            dd(&data),
        ],
        "\n",
    );
    assert_eq!((r.code, r.stderr.trim()), (1, "latchkey: empty password"));
    let r = cli(&["user", "add", "ben", "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 1, "no terminal and no --password-stdin");
    add_user(&data, "ben", "pw-ben-1");
    let r = cli(&["user", "list", "--data-dir", dd(&data)], "");
    assert_eq!(r.stdout, "ann\nben\n");
    assert!(!r.stdout.contains("pbkdf2"));
    let r = cli(&["user", "del", "ann", "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = cli(&["user", "del", "ann", "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 1);
    assert_eq!(
        cli(&["user", "list", "--data-dir", dd(&data)], "").stdout,
        "ben\n"
    );
}

#[test]
fn hash_prints_a_phc_string() {
    let r = cli(
        &["hash", "--password-stdin", "--iterations", "100000"],
        "hunter2 hunter2\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("$pbkdf2-sha256$i=100000,l=32$"),
        "{}",
        r.stdout
    );
    let r = cli(
        &["hash", "--password-stdin", "--iterations", "5"],
        "hunter2 hunter2\n",
    );
    assert_eq!(r.code, 1, "below the minimum cost");
}

#[test]
fn token_issue_verify_rotate() {
    let tmp = TempDir::new("cli-token");
    let data = tmp.data_dir();
    add_user(&data, "tess", "pw-tess-1");
    assert_eq!(cli(&["key", "rotate", "--data-dir", dd(&data)], "").code, 0);
    let r = cli(
        &[
            "token",
            "issue",
            "tess",
            "--ttl",
            "15m",
            "--data-dir",
            dd(&data),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let token = r.stdout.trim().to_owned();
    let r = cli(&["token", "verify", &token, "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let claims: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(claims["sub"], "tess");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    // Still valid after a rotation (older keys verify), expired in the future.
    assert_eq!(cli(&["key", "rotate", "--data-dir", dd(&data)], "").code, 0);
    assert_eq!(
        cli(&["token", "verify", &token, "--data-dir", dd(&data)], "").code,
        0
    );
    let later = (claims["exp"].as_u64().unwrap() + 3600).to_string();
    let r = cli(
        &[
            "token",
            "verify",
            &token,
            "--at",
            &later,
            "--data-dir",
            dd(&data),
        ],
        "",
    );
    assert_eq!((r.code, r.stderr.trim()), (1, "latchkey: token expired"));
    let r = cli(&["token", "issue", "nobody", "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 1);
}

#[test]
fn token_verify_with_a_shared_secret_file_and_the_rfc_vector() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../vectors/rfc7515-rfc7519.json")).unwrap();
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rfc7515-a1.key");
    let token = vectors["hs256"]["token"].as_str().unwrap();
    let r = cli(
        &[
            "token",
            "verify",
            token,
            "--secret-file",
            key,
            "--at",
            "1300819300",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let claims: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(claims["iss"], "joe");
    assert_eq!(claims["http://example.com/is_root"], true);
    let r = cli(&["token", "verify", token, "--secret-file", key], "");
    assert_eq!((r.code, r.stderr.trim()), (1, "latchkey: token expired"));
    let none = vectors["unsecured"]["token"].as_str().unwrap();
    let r = cli(
        &[
            "token",
            "verify",
            none,
            "--secret-file",
            key,
            "--at",
            "1300819300",
        ],
        "",
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1);
    let r = cli(
        &[
            "token",
            "verify",
            token,
            "--secret-file",
            "/nonexistent/key",
        ],
        "",
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("/nonexistent/key"));
}

#[test]
fn bad_files_give_one_line_and_change_nothing() {
    let tmp = TempDir::new("cli-bad");
    let data = tmp.data_dir();
    add_user(&data, "ok", "pw-ok-123");
    let users = data.join("users");
    let before = std::fs::read(&users).unwrap();
    std::fs::write(&users, [before.as_slice(), b"broken line\n"].concat()).unwrap();
    let r = cli(
        &[
            "user",
            "add",
            "new",
            "--password-stdin",
            "--data-dir",
            dd(&data),
        ],
        "pw-new-123\n",
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("users: line 2"),
        "line number: {}",
        r.stderr
    );
    let r = cli(
        &["serve", "--data-dir", dd(&data), "--listen", "127.0.0.1:0"],
        "",
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("users: line 2"), "{}", r.stderr);
    std::fs::write(&users, &before).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(cli(&["key", "rotate", "--data-dir", dd(&data)], "").code, 0);
    let keys = data.join("keys");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = cli(&["token", "issue", "ok", "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
}
