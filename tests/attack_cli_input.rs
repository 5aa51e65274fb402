//! CLI bad input: a mistyped data directory is an error, never a fresh one.

mod common;
use common::*;

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
