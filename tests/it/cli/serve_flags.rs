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

/// A data dir calibrated on a much faster machine (here: the highest cost there is)
/// makes every login slow: `serve` says so once, with the command that fixes it, and
/// answers meanwhile. At the test cost it says nothing.
#[test]
fn serve_warns_when_password_checks_are_slow_here() {
    let tmp = TempDir::new("serve-slow-cost");
    let data = tmp.data_dir();
    let srv = Server::start(&data, &[]);
    assert_eq!(srv.get("/healthz", &[]).status, 200);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(
        !srv.log_lines().iter().any(|l| l.contains("calibrate")),
        "{:?}",
        srv.log_lines()
    );
    srv.stop();

    std::fs::write(data.join("pbkdf2-iterations"), "10000000\n").unwrap();
    let srv = Server::start(&data, &[]);
    assert_eq!(
        srv.get("/healthz", &[]).status,
        200,
        "answers while it measures"
    );
    let line = srv
        .log
        .wait_for("logins will be slow", std::time::Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no warning: {:?}", srv.log_lines()));
    assert!(line.contains("latchkey calibrate --data-dir"), "{line}");
    assert!(line.contains("cost 10000000"), "{line}");
}
