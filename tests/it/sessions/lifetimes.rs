//! Credentials must never outlive their revocation: revocations are forgotten 31
//! days after they are made, so no session or token may be issued for longer.

use crate::common::*;

#[test]
fn serve_refuses_lifetimes_longer_than_revocations_are_kept() {
    let tmp = TempDir::new("lifetimes-serve");
    // A data dir that cannot be opened: a configuration that gets past the flags
    // fails with 1 instead of serving, so the test never hangs.
    let not_a_dir = tmp.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let dir = not_a_dir.to_str().unwrap();
    for flag in [
        "--refresh-ttl",
        "--remember-ttl",
        "--session-ttl",
        "--token-ttl",
    ] {
        let r = cli(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                dir,
                flag,
                "32d",
            ],
            "",
        );
        assert_eq!(r.code, 2, "{flag} 32d: {}", r.stderr);
        assert!(r.stderr.contains(flag), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // 31 days is still fine (the data dir is what fails).
    let r = cli(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir,
            "--remember-ttl",
            "31d",
        ],
        "",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn token_issue_refuses_lifetimes_longer_than_revocations_are_kept() {
    let tmp = TempDir::new("lifetimes-issue");
    let data = tmp.data_dir();
    add_user(&data, "bob", "pw-bob-123");
    let dir = data.to_str().unwrap();
    assert_eq!(cli(&["key", "rotate", "--data-dir", dir], "").code, 0);
    let r = cli(
        &[
            "token",
            "issue",
            "bob",
            "--ttl",
            "365d",
            "--refresh",
            "--data-dir",
            dir,
        ],
        "",
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = cli(
        &["token", "issue", "bob", "--ttl", "31d", "--data-dir", dir],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}
