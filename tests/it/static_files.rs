//! `--serve-dir`, the "latchkey alone" recipe of docs/DEPLOY.md: a static admin page
//! behind the login form with no web server in front. Anonymous visitors are sent to
//! the login form and back to the file they asked for; only a logged-in user gets the
//! files, with their content types; nothing outside the directory is reachable, however
//! the path is spelled or a symlink points, and dot files stay hidden, also behind
//! symlinks inside the directory.

use crate::common::*;

#[test]
fn serve_dir_files_only_after_login() {
    let tmp = TempDir::new("serve-dir");
    let data = data_dir_with_users(&tmp, &[("admin", "a long admin passphrase")]);
    let site = tmp.subdir("admin-page");
    std::fs::write(
        site.join("index.html"),
        "<!doctype html><title>Admin</title><h1>Device settings</h1>",
    )
    .unwrap();
    std::fs::create_dir(site.join("css")).unwrap();
    std::fs::write(site.join("css/site.css"), "h1 { color: teal }").unwrap();
    // A secret next to (not inside) the served directory.
    std::fs::write(tmp.path().join("secret.txt"), "not for the web").unwrap();
    let site_arg = site.to_str().unwrap().to_owned();
    let latchkey = Server::start(
        &data,
        &["--serve-dir", &site_arg, "--title", "Router admin"],
    );
    let nav: &[(&str, &str)] = &[("Accept", "text/html"), ("Sec-Fetch-Mode", "navigate")];

    // Anonymous: no file, a redirect to the login form that remembers where to return.
    let mut browser = latchkey.client();
    let anon = browser.get("/css/site.css", nav);
    assert!(
        matches!(anon.status, 302 | 303),
        "anonymous request is sent to log in: {anon:?}"
    );
    assert!(
        !anon.text().contains("teal"),
        "no file content for anonymous visitors"
    );
    let login_target = anon.location_path(latchkey.addr);
    assert!(login_target.starts_with("/login"), "{login_target}");
    assert_eq!(
        query_param(&login_target, "next")
            .map(|n| local_path(&n, latchkey.addr))
            .as_deref(),
        Some("/css/site.css")
    );

    // Log in with the form, as a browser.
    let page = browser.get(&login_target, nav);
    assert_eq!(page.status, 200, "{page:?}");
    let login = forms(&page.text())
        .into_iter()
        .find(|f| f.hidden("csrf").is_some())
        .expect("login form");
    let origin = format!("http://{}", latchkey.addr);
    let body = form(&[
        ("csrf", login.hidden("csrf").unwrap_or_default()),
        ("next", login.hidden("next").unwrap_or_default()),
        ("username", "admin"),
        ("password", "a long admin passphrase"),
    ]);
    let headers: &[(&str, &str)] = &[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", &origin),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let ok = browser.post("/login", headers, &body);
    assert_eq!(ok.status, 303, "login: {ok:?}\n{}", latchkey.log.text());
    assert_eq!(
        ok.location_path(latchkey.addr),
        "/css/site.css",
        "back at the file first asked for"
    );

    // Logged in: the files, and / is the directory's index.html.
    let css = browser.get("/css/site.css", &[]);
    assert_eq!(
        (css.status, css.text().as_str()),
        (200, "h1 { color: teal }"),
        "{css:?}"
    );
    let index = browser.get("/", nav);
    assert_eq!(index.status, 200, "{index:?}");
    assert!(
        index.text().contains("Device settings"),
        "/ serves index.html: {}",
        index.text()
    );

    // Nothing outside the directory, however the path is spelled.
    for escape in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/css/..%2f..%2fsecret.txt",
        "/css/%2e%2e/%2e%2e/secret.txt",
    ] {
        let tried = browser.get(escape, &[]);
        assert!(
            !tried.text().contains("not for the web"),
            "{escape} escaped the served directory"
        );
        assert!(tried.status >= 400, "{escape} must be refused: {tried:?}");
    }
    let missing = browser.get("/nope.html", &[]);
    assert_eq!(missing.status, 404, "{missing:?}");
}

#[test]
fn serve_dir_serves_the_admin_page_only_to_logged_in_users() {
    let tmp = TempDir::new("servedir");
    let data = tmp.data_dir();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join("css")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>Router</h1>").unwrap();
    std::fs::write(site.join("css/site.css"), "body{}").unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), site.join("link.txt")).unwrap();
    add_user(&data, "erin", "pw-erin-12");
    let srv = Server::start(&data, &["--serve-dir", site.to_str().unwrap()]);
    assert_eq!(srv.get("/css/site.css", &[]).status, 302);
    let cookie = browser_login(&srv, "erin", "pw-erin-12", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let c = [("Cookie", cookie.as_str())];
    let r = srv.get("/", &c);
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>Router</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = srv.get("/css/site.css", &c);
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    for escape in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/css%2f..%2f..%2fsecret.txt",
        "/link.txt",
        "/css/..%5c..%5csecret.txt",
    ] {
        let r = srv.get(escape, &c);
        assert_eq!(r.status, 404, "{escape}: {}", r.text());
        assert!(!r.text().contains("outside"));
    }
}

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
