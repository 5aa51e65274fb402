//! `--prefix`: every Location latchkey sends starts with it, so it must be a plain
//! path that cannot point at another site.

use crate::common::*;

#[test]
fn prefix_cannot_make_redirects_leave_the_site() {
    let tmp = TempDir::new("prefix");
    let not_a_dir = tmp.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let dir = not_a_dir.to_str().unwrap();
    for prefix in ["//evil.example", "/a//b", "/./x", "/a/..", "/.."] {
        let r = cli(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                dir,
                "--prefix",
                prefix,
            ],
            "",
        );
        assert_eq!(r.code, 2, "--prefix {prefix}: {}", r.stderr);
        assert!(r.stderr.contains("--prefix"), "{}", r.stderr);
    }
}

#[test]
fn prefixed_routes_redirect_inside_the_prefix() {
    let tmp = TempDir::new("prefix-run");
    let data = tmp.data_dir();
    let srv = Server::start(&data, &["--prefix", "/lk/"]);
    let r = srv.get("/lk/admin", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/lk/login?next=%2Flk%2Fadmin"));
    // Outside the prefix nothing answers, not even the login page.
    assert_eq!(srv.get("/login", &[]).status, 404);
    assert_eq!(srv.get("/lklogin", &[]).status, 404);
    assert_eq!(srv.get("/lk", &[]).status, 302);
}
