//! Weak passwords, as NIST SP 800-63B §5.1.1.2 asks of a verifier: shorter than 8
//! characters, the user's name, or a common password are refused with one line that
//! says why, and change nothing; `--allow-weak-password` lets a test setup through.

use crate::common::*;

fn dd(data: &std::path::Path) -> &str {
    data.to_str().unwrap()
}

#[test]
fn user_add_and_passwd_refuse_weak_passwords() {
    let tmp = TempDir::new("cli-weak");
    let fresh = tmp.path().join("data");
    for (password, why) in [
        ("a", "shorter than 8 characters"),
        (" ", "shorter than 8 characters"),
        ("passwor", "shorter than 8 characters"),
        ("password", "one of the most common passwords"),
        ("Password1", "one of the most common passwords"),
        ("iloveyou", "one of the most common passwords"),
        ("Carol-Admin", "the user's name"),
    ] {
        let r = cli(
            &[
                "user",
                "add",
                "carol-admin",
                "--password-stdin",
                "--data-dir",
                dd(&fresh),
            ],
            &format!("{password}\n"),
        );
        assert_eq!(r.code, 1, "{password:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{password:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("weak password") && r.stderr.contains(why),
            "{password:?}: {}",
            r.stderr
        );
        // Nothing was created, not even the data dir.
        assert!(!fresh.exists(), "{password:?}");
    }

    let data = tmp.data_dir();
    add_user(&data, "carol", "pw-carol-123");
    let users = std::fs::read(data.join("users")).unwrap();
    let r = cli(
        &[
            "user",
            "passwd",
            "carol",
            "--password-stdin",
            "--data-dir",
            dd(&data),
        ],
        "12345678\n",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("weak password"), "{}", r.stderr);
    assert_eq!(std::fs::read(data.join("users")).unwrap(), users);
    assert!(!data.join("revoked").exists(), "no session was ended");

    // A test setup may insist.
    let r = cli(
        &[
            "user",
            "passwd",
            "carol",
            "--password-stdin",
            "--allow-weak-password",
            "--data-dir",
            dd(&data),
        ],
        "password\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    add_user_allowing_weak(&data, "dan", "a");
    let srv = Server::start(&data, &[]);
    assert_eq!(
        browser_login(&srv, "carol", "password", false, None).status,
        303
    );
    assert_eq!(browser_login(&srv, "dan", "a", false, None).status, 303);
}

#[test]
fn hash_refuses_weak_passwords_too() {
    let hash = |stdin: &str, extra: &[&str]| {
        let mut args = vec!["hash", "--password-stdin", "--iterations", "100000"];
        args.extend_from_slice(extra);
        cli(&args, stdin)
    };
    let r = hash("hunter2\n", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("weak password"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = hash("hunter2\n", &["--allow-weak-password"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("$pbkdf2-sha256$"));
}
