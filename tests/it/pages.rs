//! The pages a browser meets on the way in and out: after too many failed logins the
//! login form again, with how long to wait (status 429 and Retry-After kept); after
//! signing out, the login form says so; error pages are small pages in the same style
//! with a way home. API clients keep their JSON answers.

use crate::common::*;

fn is_html(r: &Response) -> bool {
    r.header("content-type")
        .is_some_and(|t| t.starts_with("text/html"))
}

/// A failed login through the form, as a browser sends it (pre-session, CSRF token).
fn browser_attempt(client: &mut Client, srv: &Server, user: &str, pass: &str) -> Response {
    let page = client.get("/login", &[]);
    assert_eq!(page.status, 200);
    let login = login_form(&page.text());
    let origin = format!("http://{}", srv.addr);
    client.post(
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&[
            ("username", user),
            ("password", pass),
            ("csrf", login.hidden("csrf").unwrap()),
            ("next", login.hidden("next").unwrap()),
        ]),
    )
}

#[test]
fn a_locked_out_browser_gets_the_form_again_with_the_wait() {
    let tmp = TempDir::new("pages-lock");
    let data = tmp.data_dir();
    add_user(&data, "amy", "pw-amy-1234");
    let srv = Server::start(&data, &[]);
    let mut browser = srv.client();
    for _ in 0..3 {
        assert_eq!(
            browser_attempt(&mut browser, &srv, "amy", "guess").status,
            401
        );
    }
    let r = browser_attempt(&mut browser, &srv, "amy", "pw-amy-1234");
    assert_eq!(r.status, 429);
    assert!(is_html(&r), "{r:?}");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((60..=300).contains(&retry), "{retry}");
    let text = r.text();
    assert!(
        text.contains("Too many failed sign-ins. Try again in 5 minutes."),
        "{text}"
    );
    // The form itself, ready for the next try, the name kept.
    let login = login_form(&text);
    assert!(login.hidden("csrf").is_some(), "{text}");
    assert!(text.contains("name=\"password\""), "{text}");
    assert!(text.contains("value=\"amy\""), "{text}");
    // The API keeps its JSON.
    let r = srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        br#"{"username":"amy","password":"pw-amy-1234"}"#,
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["status_code"], 429);
}

#[test]
fn after_signing_out_the_login_page_says_so() {
    let tmp = TempDir::new("pages-bye");
    let data = tmp.data_dir();
    add_user(&data, "lou", "pw-lou-1234");
    let srv = Server::start(&data, &["--prefix", "/lk"]);
    let mut browser = srv.client();
    let page = browser.get("/lk/login", &[]);
    let login = login_form(&page.text());
    let origin = format!("http://{}", srv.addr);
    let ok = browser.post(
        "/lk/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&[
            ("username", "lou"),
            ("password", "pw-lou-1234"),
            ("csrf", login.hidden("csrf").unwrap()),
            ("next", "/lk/"),
        ]),
    );
    assert_eq!(ok.status, 303);
    let welcome = browser.get("/lk/", &[]);
    let csrf = hidden_input(&welcome.text(), "csrf").unwrap();
    let bye = browser.post(
        "/lk/logout",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&[("csrf", &csrf)]),
    );
    assert_eq!(bye.status, 303);
    assert_eq!(bye.header("location"), Some("/lk/login?signed_out=1"));
    let page = browser.get("/lk/login?signed_out=1", &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("You are signed out."),
        "{}",
        page.text()
    );
    // Only that fixed text: nothing of the query is shown.
    for query in ["signed_out=0", "signed_out=%3Cb%3Ehi", "signed_out=1x"] {
        let page = browser.get(&format!("/lk/login?{query}"), &[]);
        assert_eq!(page.status, 200);
        assert!(!page.text().contains("signed out"), "{query}");
        assert!(
            !page.text().contains("<b>hi") && !page.text().contains("1x"),
            "{query}"
        );
    }
    // A plain login page says nothing of the kind.
    assert!(!browser.get("/lk/login", &[]).text().contains("signed out"));
}

#[test]
fn error_pages_are_small_pages_with_a_way_home() {
    let tmp = TempDir::new("pages-errors");
    let data = tmp.data_dir();
    add_user(&data, "ivy", "pw-ivy-1234");
    let srv = Server::start(&data, &["--prefix", "/lk"]);
    let cookie = {
        let r = srv.client().get("/lk/login", &[]);
        let pre = r.cookie_pair("latchkey_pre").unwrap();
        let login = login_form(&r.text());
        srv.post(
            "/lk/login",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &pre),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            &form(&[
                ("username", "ivy"),
                ("password", "pw-ivy-1234"),
                ("csrf", login.hidden("csrf").unwrap()),
            ]),
        )
        .cookie_pair("latchkey_session")
        .unwrap()
    };
    let check = |r: &Response, status: u16, says: &str| {
        assert_eq!(r.status, status, "{r:?}");
        assert!(is_html(r), "{r:?}");
        let text = r.text();
        assert!(text.contains(says), "{text}");
        assert!(
            text.contains("<a href=\"/lk/\">Back to the start page</a>"),
            "{text}"
        );
        assert!(text.contains("rel=\"stylesheet\""), "{text}");
        assert!(text.len() < 2048, "{} bytes", text.len());
    };
    // 404: outside the prefix, and a page that is not there.
    check(
        &srv.get("/elsewhere", &[]),
        404,
        "There is no page at this address.",
    );
    check(
        &srv.get("/lk/nope", &[("Cookie", &cookie)]),
        404,
        "There is no page at this address.",
    );
    // 403: a sign-out from another site.
    check(
        &srv.post(
            "/lk/logout",
            &[("Cookie", &cookie), ("Sec-Fetch-Site", "cross-site")],
            b"",
        ),
        403,
        "reload it and try again",
    );
    // 503: a data file the service cannot trust any more.
    use std::os::unix::fs::PermissionsExt;
    let users = data.join("users");
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let r = loop {
        let r = srv.get("/lk/", &[("Cookie", &cookie)]);
        if r.status == 503 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    check(&r, 503, "Try again in a moment");
    // API clients keep JSON.
    let r = srv.get("/lk/protected", &[("Accept", "application/json")]);
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["status_code"], 503);
}
