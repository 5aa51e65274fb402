//! `--serve-dir` escapes against the running binary: dot files, also when a
//! symlink inside the directory points at them.

mod common;
use common::*;

#[test]
fn dot_files_stay_hidden_behind_symlinks() {
    let tmp = TempDir::new("static");
    let data = tmp.data_dir();
    add_user(&data, "sam", "pw-sam-123");
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join(".git")).unwrap();
    std::fs::write(site.join("index.html"), "home").unwrap();
    std::fs::write(site.join(".git/config"), "secret").unwrap();
    std::fs::write(site.join(".env"), "secret").unwrap();
    std::os::unix::fs::symlink(".git", site.join("repo")).unwrap();
    std::os::unix::fs::symlink(".env", site.join("env.txt")).unwrap();
    std::os::unix::fs::symlink("index.html", site.join("home.html")).unwrap();
    let srv = Server::start(&data, &["--serve-dir", site.to_str().unwrap()]);
    let r = browser_login(&srv, "sam", "pw-sam-123", false, None);
    let session = r.cookie_pair("latchkey_session").unwrap();
    let get = |path: &str| srv.get(path, &[("Cookie", &session)]);
    assert_eq!(get("/").text(), "home");
    // A symlink to an ordinary file is still served.
    assert_eq!(get("/home.html").text(), "home");
    for path in ["/.git/config", "/.env", "/repo/config", "/env.txt"] {
        let r = get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("secret"), "{path}");
    }
}
