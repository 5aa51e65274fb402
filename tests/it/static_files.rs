//! The "latchkey alone" recipe of docs/DEPLOY.md: `latchkey serve --serve-dir DIR` puts
//! a static admin page behind the login form with no web server in front. Anonymous
//! visitors are sent to the login form and back to the file they asked for; only a
//! logged-in user gets the files; nothing outside the directory is reachable.

use crate::deploy_support::*;

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
    let latchkey = start_latchkey(
        &data,
        &["--serve-dir", &site_arg, "--title", "Router admin"],
    );
    let port = latchkey.port();
    let nav: &[(&str, &str)] = &[("Accept", "text/html"), ("Sec-Fetch-Mode", "navigate")];

    // Anonymous: no file, a redirect to the login form that remembers where to return.
    let mut jar = Jar::default();
    let anon = browse(port, &mut jar, "GET", "/css/site.css", nav, b"");
    assert!(
        matches!(anon.status, 302 | 303),
        "anonymous request is sent to log in: {anon:?}"
    );
    assert!(
        !anon.body.contains("teal"),
        "no file content for anonymous visitors"
    );
    let login_target = anon.location_path(port);
    assert!(login_target.starts_with("/login"), "{login_target}");
    assert_eq!(
        query_param(&login_target, "next")
            .map(|n| local_path(&n, port))
            .as_deref(),
        Some("/css/site.css")
    );

    // Log in with the form, as a browser.
    let page = browse(port, &mut jar, "GET", &login_target, nav, b"");
    assert_eq!(page.status, 200, "{page:?}");
    let form = forms(&page.body)
        .into_iter()
        .find(|f| f.hidden("csrf").is_some())
        .expect("login form");
    let origin = format!("http://127.0.0.1:{port}");
    let body = form_body(&[
        ("csrf", form.hidden("csrf").unwrap_or_default()),
        ("next", form.hidden("next").unwrap_or_default()),
        ("username", "admin"),
        ("password", "a long admin passphrase"),
    ]);
    let headers: &[(&str, &str)] = &[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", &origin),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let ok = browse(port, &mut jar, "POST", "/login", headers, body.as_bytes());
    assert_eq!(ok.status, 303, "login: {ok:?}\n{}", latchkey.stderr.text());
    assert_eq!(
        ok.location_path(port),
        "/css/site.css",
        "back at the file first asked for"
    );

    // Logged in: the files, and / is the directory's index.html.
    let css = browse(port, &mut jar, "GET", "/css/site.css", &[], b"");
    assert_eq!(
        (css.status, css.body.as_str()),
        (200, "h1 { color: teal }"),
        "{css:?}"
    );
    let index = browse(port, &mut jar, "GET", "/", nav, b"");
    assert_eq!(index.status, 200, "{index:?}");
    assert!(
        index.body.contains("Device settings"),
        "/ serves index.html: {}",
        index.body
    );

    // Nothing outside the directory, however the path is spelled.
    for escape in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/css/..%2f..%2fsecret.txt",
        "/css/%2e%2e/%2e%2e/secret.txt",
    ] {
        let tried = browse(port, &mut jar, "GET", escape, &[], b"");
        assert!(
            !tried.body.contains("not for the web"),
            "{escape} escaped the served directory"
        );
        assert!(tried.status >= 400, "{escape} must be refused: {tried:?}");
    }
    let missing = browse(port, &mut jar, "GET", "/nope.html", &[], b"");
    assert_eq!(missing.status, 404, "{missing:?}");
}
