//! Logging in over HTTPS with our rustls client: every cookie latchkey sets is
//! `Secure` and `__Host-` prefixed (RFC 6265bis §4.1.3.2: only a secure origin may set
//! such a cookie, and a browser never sends it over plain HTTP), the session works on the
//! next request, and the JSON API works the same.

use super::*;

/// Every `Set-Cookie` of `response` that sets a value (not a deletion).
fn cookies_set(response: &Response) -> Vec<String> {
    response
        .headers_all("set-cookie")
        .into_iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(str::to_owned)
        .collect()
}

fn assert_secure_host_cookie(line: &str) {
    let name = line.split('=').next().unwrap_or("");
    assert!(name.starts_with("__Host-"), "{line}: no __Host- prefix");
    let attrs: Vec<String> = line
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attrs.iter().any(|a| a == "secure"), "{line}: not Secure");
    // RFC 6265bis §4.1.3.2: __Host- also needs Path=/ and no Domain.
    assert!(attrs.iter().any(|a| a == "path=/"), "{line}: no Path=/");
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain=")),
        "{line}: has a Domain"
    );
}

#[test]
fn a_login_over_https_sets_secure_host_cookies_that_work_on_the_next_request() {
    let (_tmp, srv) = start_tls(&[]);
    let mut browser = srv.client();
    let page = browser.get("/login", &[]);
    assert_eq!(page.status, 200, "{page:?}");
    let pre = cookies_set(&page);
    assert!(
        !pre.is_empty(),
        "the login page sets its pre-session cookie"
    );
    for line in &pre {
        assert_secure_host_cookie(line);
    }
    let login = login_form(&page.text());
    let done = browser.post(
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &srv.origin()),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&[
            ("username", USER),
            ("password", PASSWORD),
            ("csrf", login.hidden("csrf").unwrap()),
            ("next", "/"),
        ]),
    );
    assert_eq!(done.status, 303, "{done:?}");
    let session = done
        .set_cookie("latchkey_session")
        .unwrap_or_else(|| panic!("no session cookie: {done:?}"));
    assert!(
        session.starts_with("__Host-latchkey_session="),
        "the session cookie is __Host-latchkey_session: {session}"
    );
    for line in cookies_set(&done) {
        assert_secure_host_cookie(&line);
    }

    let welcome = browser.get("/", &[]);
    assert_eq!(welcome.status, 200, "{welcome:?}");
    assert!(
        welcome.text().contains(&format!("Welcome, {USER}!")),
        "{welcome:?}"
    );
    let verify = browser.get("/verify", &[]);
    assert_eq!(verify.status, 200, "{verify:?}");
    assert_eq!(verify.header("remote-user"), Some(USER), "{verify:?}");

    // The same cookie without the prefix is not the session: a cookie a plain-HTTP
    // page could have planted does not count.
    let value = browser
        .jar
        .get("__Host-latchkey_session")
        .unwrap()
        .to_owned();
    let planted = srv.get(
        "/verify",
        &[("Cookie", &format!("latchkey_session={value}"))],
    );
    assert_eq!(planted.status, 401, "{planted:?}");
}

#[test]
fn the_json_api_works_over_https() {
    let (_tmp, srv) = start_tls(&[]);
    let token = api_token(&srv, USER, PASSWORD);
    let bearer = format!("Bearer {token}");
    let r = srv.get("/verify", &[("Authorization", &bearer)]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("remote-user"), Some(USER));
}

#[test]
fn cookies_over_https_are_secure_even_with_cookie_secure_never() {
    // `--cookie-secure never` is for plain HTTP on a trusted network; a cookie set
    // without Secure over HTTPS would also go out over plain HTTP, so TLS overrides it.
    let (_tmp, srv) = start_tls(&["--cookie-secure", "never"]);
    let done = browser_login(&srv, USER, PASSWORD, false, None);
    assert_eq!(done.status, 303, "{done:?}");
    let session = done
        .set_cookie("latchkey_session")
        .unwrap_or_else(|| panic!("no session cookie: {done:?}"));
    assert_secure_host_cookie(session);
}

#[test]
fn a_connection_the_server_closes_ends_with_close_notify() {
    // RFC 8446 §6.1: a party closing its side sends close_notify first; without it the
    // client cannot tell the end of a response from a truncation by the network.
    let (_tmp, srv) = start_tls(&[]);
    let mut conn = Conn::open_over(srv.addr, srv.tls.as_ref());
    conn.send(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assert_eq!(conn.response().status, 200);
    let end = conn.end_of_stream();
    assert!(
        end.is_ok(),
        "the server closed without close_notify: {end:?}"
    );
}
