//! CLI bad input: a mistyped data directory is an error, never a fresh one.

use crate::common::*;

#[test]
fn key_rotate_refuses_a_missing_data_dir() {
    let tmp = TempDir::new("cli-rotate");
    let missing = tmp.path().join("typo").join("data");
    let r = cli(
        &["key", "rotate", "--data-dir", missing.to_str().unwrap()],
        "",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("typo"), "{}", r.stderr);
    assert!(!tmp.path().join("typo").exists(), "a data dir was created");
    // An existing (even empty) data dir still gets its first key.
    let data = tmp.data_dir();
    let r = cli(&["key", "rotate", "--data-dir", data.to_str().unwrap()], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(data.join("keys").exists());
}

#[test]
fn non_utf8_arguments_and_variables_are_usage_errors() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = TempDir::new("cli-utf8");
    let data = tmp.data_dir();
    let bad = OsStr::from_bytes(b"al\xffce");
    let run = |args: &[&OsStr], env: Option<(&str, &OsStr)>| {
        let mut cmd = latchkey_command();
        cmd.args(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let dir = data.as_os_str();
    for args in [
        vec![
            OsStr::new("user"),
            OsStr::new("add"),
            bad,
            OsStr::new("--data-dir"),
            dir,
        ],
        vec![bad],
        vec![
            OsStr::new("user"),
            OsStr::new("list"),
            OsStr::new("--data-dir"),
            bad,
        ],
    ] {
        let out = run(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("not valid UTF-8"), "{stderr}");
    }
    // A data dir variable that is not UTF-8 is refused, not replaced by the default.
    let out = run(
        &[OsStr::new("user"), OsStr::new("list")],
        Some(("LATCHKEY_DATA_DIR", bad)),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LATCHKEY_DATA_DIR"));
}
