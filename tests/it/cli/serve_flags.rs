//! `serve` says what it serves: a `--serve-dir` that is not a directory refuses to
//! start, and the start-up line names the address with the `--prefix` and what is
//! served.

use crate::common::*;

#[test]
fn a_missing_serve_dir_refuses_to_start() {
    let tmp = TempDir::new("serve-dir-missing");
    let data = tmp.path().join("data");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for (serve_dir, says) in [
        (tmp.path().join("nope"), "No such file or directory"),
        (file, "not a directory"),
    ] {
        let r = cli(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
                "--serve-dir",
                serve_dir.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("--serve-dir") && r.stderr.contains(says),
            "{}",
            r.stderr
        );
        assert!(!data.exists(), "a data dir was created");
    }
}

#[test]
fn the_start_up_line_names_the_prefix_and_what_is_served() {
    let tmp = TempDir::new("serve-line");
    let data = tmp.data_dir();
    let srv = Server::start(&data, &["--prefix", "/latchkey"]);
    let line = srv.wait_log("listening on");
    assert!(
        line.starts_with(&format!(
            "latchkey: listening on http://{}/latchkey/ (data dir {}",
            srv.addr,
            data.display()
        )),
        "{line}"
    );
    assert!(line.contains("serving a welcome page"), "{line}");
    drop(srv);
    let site = tmp.subdir("site");
    let srv = Server::start(&data, &["--serve-dir", site.to_str().unwrap()]);
    let line = srv.wait_log("listening on");
    assert!(
        line.starts_with(&format!("latchkey: listening on http://{}/ (", srv.addr)),
        "{line}"
    );
    assert!(
        line.contains(&format!("serving the files of {}", site.display())),
        "{line}"
    );
}
