//! The data dir is never created by surprise: only `serve` (first run) and `user add`
//! create one, and say where; every other command on a missing one exits 1 with
//! `no data dir at PATH` and creates nothing. `hash --iterations N` needs none.

use crate::common::*;

#[test]
fn commands_refuse_a_missing_data_dir_and_create_nothing() {
    let tmp = TempDir::new("cli-nodir");
    let missing = tmp.path().join("typo").join("data");
    let dd = missing.to_str().unwrap();
    let jti = "0123456789abcdef0123456789abcdef";
    for (args, stdin) in [
        (&["user", "list"][..], ""),
        (
            &["user", "passwd", "ann", "--password-stdin"],
            "pw-ann-1234\n",
        ),
        (&["user", "del", "ann"], ""),
        (&["token", "issue", "ann"], ""),
        (&["token", "verify", "a.b.c"], ""),
        (&["token", "revoke", jti], ""),
        (&["session", "revoke-all", "ann"], ""),
        (&["key", "rotate"], ""),
        (&["key", "drop", "k1"], ""),
        (&["key", "list"], ""),
        (&["calibrate", "--target", "1ms"], ""),
        (&["hash", "--password-stdin"], "pw-ann-1234\n"),
    ] {
        let mut all = args.to_vec();
        all.extend(["--data-dir", dd]);
        let r = cli(&all, stdin);
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (1, format!("latchkey: no data dir at {dd}\n").as_str()),
            "{args:?}"
        );
        assert!(!tmp.path().join("typo").exists(), "{args:?} created it");
    }
    let r = cli(&["user", "list", "--data-dir", "/nonexistent"], "");
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "latchkey: no data dir at /nonexistent\n");
}

#[test]
fn hash_with_a_cost_needs_no_data_dir() {
    let tmp = TempDir::new("cli-hash-nodir");
    let missing = tmp.path().join("x");
    let r = cli(
        &[
            "hash",
            "--password-stdin",
            "--iterations",
            "100000",
            "--data-dir",
            missing.to_str().unwrap(),
        ],
        "pw-hash-1234\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("$pbkdf2-sha256$i=100000,"));
    assert!(!missing.exists(), "hash created the data dir");
}

#[test]
fn user_add_and_serve_create_the_data_dir_and_say_where() {
    let tmp = TempDir::new("cli-create");
    let data = tmp.path().join("new").join("data");
    let r = cli(
        &[
            "user",
            "add",
            "ann",
            "--password-stdin",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "pw-ann-1234\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .lines()
            .any(|l| l == format!("latchkey: created the data dir {}", data.display())),
        "{}",
        r.stderr
    );
    assert!(data.join("users").exists());
    // Once there, it is not announced again.
    let r = cli(
        &[
            "user",
            "add",
            "bob",
            "--password-stdin",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "pw-bob-1234\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("created the data dir"), "{}", r.stderr);

    let fresh = tmp.path().join("served");
    let srv = Server::start(&fresh, &[]);
    srv.wait_log(&format!(
        "latchkey: created the data dir {}",
        fresh.display()
    ));
    assert!(fresh.join("users").exists());
}
