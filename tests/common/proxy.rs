//! What the deployment tests put around latchkey: an upstream that echoes the request
//! head it got (the "admin page" behind the proxy), and the walk a user's browser does
//! through a reverse proxy in front of latchkey.

use super::client::{Client, local_path, request};
use super::forms::{form, forms, login_form, login_form_opt, query_param};
use super::server::Server;
use super::websocket::{serve_websocket, wants_websocket, websocket_accept, websocket_connect};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Starts a server on a free port that answers every request with 200 and a body that
/// is the request head it received, so a test can see which headers got through; a
/// request for a WebSocket is upgraded and echoed instead (see `websocket.rs`).
pub(crate) fn start_echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || echo_one(stream));
        }
    });
    port
}

fn echo_one(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if wants_websocket(&head) {
        serve_websocket(stream, &head);
        return;
    }
    let body = format!("ECHO UPSTREAM\r\n{head}");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// The values of header `name` in the request head the echo upstream reported, with
/// `_` and `-` in names counted as the same, as CGI-style apps (WSGI, PHP) read them.
pub(crate) fn echoed_header(body: &str, name: &str) -> Vec<String> {
    let wanted = name.replace('_', "-");
    body.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(k, _)| k.trim().replace('_', "-").eq_ignore_ascii_case(&wanted))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

/// The request line the echo upstream reported (`GET /admin/… HTTP/1.0`).
pub(crate) fn echoed_request_line(body: &str) -> String {
    body.lines().nth(1).unwrap_or("").to_owned()
}

/// How the proxy under test answers an API request without credentials.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ApiDenial {
    /// nginx `auth_request` passes latchkey's 401 through.
    Plain401,
    /// Caddy `forward_auth` relays latchkey's JSON 401.
    Json401,
}

/// Walks the whole flow through the proxy on `front` as `account` (user, password):
/// anonymous → login page → wrong password → login → back at the first URL with
/// `Remote-User` at the upstream and `Cache-Control: no-store` from the proxy → bearer
/// token on the API → logout → anonymous again. `prefix` is latchkey's prefix as seen
/// through the proxy (`/latchkey`).
pub(crate) fn proxy_walk(
    port: u16,
    prefix: &str,
    latchkey: &Server,
    api_denial: ApiDenial,
    account: (&str, &str),
) {
    let front = SocketAddr::from(([127, 0, 0, 1], port));
    let (user, password) = account;
    let origin = format!("http://{front}");
    let browser_nav: &[(&str, &str)] = &[
        ("Accept", "text/html,application/xhtml+xml"),
        ("Sec-Fetch-Mode", "navigate"),
    ];
    let first_url = "/admin/settings?tab=wifi&x=1";

    // 1. Anonymous: sent to the login page, with a way back to the page first asked for.
    let mut browser = Client::new(front);
    let anon = browser.get(first_url, browser_nav);
    assert_eq!(
        anon.status, 302,
        "anonymous request must be redirected to log in: {anon:?}"
    );
    let login_target = anon.location_path(front);
    assert!(
        login_target.starts_with(&format!("{prefix}/login")),
        "redirect goes to {login_target:?}, not the login page"
    );
    let next = query_param(&login_target, "next").expect("login redirect carries next=");
    assert_eq!(
        local_path(&next, front),
        first_url,
        "next= must name the URL first asked for"
    );

    // A forged Remote-User from the client changes nothing.
    let forged = request(
        front,
        "GET",
        first_url,
        &[("Remote-User", user), ("Accept", "text/html")],
        b"",
    );
    assert_eq!(
        forged.status, 302,
        "a client-sent Remote-User must not let anyone in: {forged:?}"
    );

    // 2. The login form, fetched through the proxy.
    let page = browser.get(&login_target, browser_nav);
    assert_eq!(page.status, 200, "login page: {page:?}");
    assert!(
        browser.jar.get("latchkey_pre").is_some(),
        "login page sets the pre-session cookie: {:?}",
        page.headers
    );
    let login = login_form(&page.text());
    let csrf = login
        .hidden("csrf")
        .expect("login form has a csrf field")
        .to_owned();
    let form_next = login
        .hidden("next")
        .expect("login form has a next field")
        .to_owned();
    assert_eq!(
        local_path(&form_next, front),
        first_url,
        "form carries next through"
    );
    let action = login.resolved_action(&format!("{prefix}/login"), &login_target);
    assert!(
        action.starts_with(&format!("{prefix}/")),
        "form posts under the prefix: {action}"
    );

    let headers: Vec<(&str, &str)> = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", &origin),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Mode", "navigate"),
        // Forged by the client: the proxy must replace it with the real peer.
        ("X-Forwarded-For", "198.51.100.77"),
    ];

    // 3. A wrong password: 401, and latchkey logs the real client address, not the forged one.
    let wrong = form(&[
        ("csrf", &csrf),
        ("next", &form_next),
        ("username", user),
        ("password", "wrong password"),
    ]);
    let denied = browser.post(&action, &headers, &wrong);
    assert_eq!(denied.status, 401, "wrong password: {denied:?}");
    assert!(
        denied.text().contains("Invalid username or password"),
        "401 page says why: {}",
        denied.text()
    );
    latchkey.wait_log("login failed ip=127.0.0.1");
    assert!(
        !latchkey.log.text().contains("198.51.100.77"),
        "a client-forged X-Forwarded-For reached the log: {}",
        latchkey.log.text()
    );
    // The failure page may hand out a fresh form; use it as a browser would.
    let (csrf, form_next) = match login_form_opt(&denied.text()) {
        Some(f) => (
            f.hidden("csrf").map_or(csrf.clone(), str::to_owned),
            f.hidden("next").map_or(form_next.clone(), str::to_owned),
        ),
        None => (csrf, form_next),
    };

    // 4. The right password: 303 back to the first URL, with an HttpOnly session cookie.
    let good = form(&[
        ("csrf", &csrf),
        ("next", &form_next),
        ("username", user),
        ("password", password),
        ("remember", "1"),
    ]);
    let ok = browser.post(&action, &headers, &good);
    assert_eq!(
        ok.status,
        303,
        "login: {ok:?}\nlatchkey log:\n{}",
        latchkey.log.text()
    );
    assert_eq!(
        ok.location_path(front),
        first_url,
        "login lands back at the URL first asked for"
    );
    let set = ok
        .set_cookie("latchkey_session")
        .expect("plain-HTTP login sets latchkey_session");
    assert!(
        set.starts_with("latchkey_session="),
        "plain-HTTP login sets latchkey_session, not __Host-latchkey_session: {set}"
    );
    let set_lower = set.to_ascii_lowercase();
    assert!(
        set_lower.contains("httponly"),
        "session cookie must be HttpOnly: {set}"
    );
    assert!(
        set_lower.contains("samesite=lax"),
        "session cookie must be SameSite=Lax: {set}"
    );
    assert!(
        set_lower.contains("path=/"),
        "session cookie must be Path=/: {set}"
    );
    let session = browser
        .jar
        .session()
        .expect("jar holds the session")
        .to_owned();
    latchkey.wait_log(&format!("login ok ip=127.0.0.1 user={user}"));

    // 5. Through to the admin page, as alice, whatever the client claims.
    let admin = browser.get(
        first_url,
        // CGI, WSGI and PHP read `Remote_User` as the same variable as `Remote-User`.
        &[("Remote-User", "root"), ("Remote_User", "root")],
    );
    assert_eq!(
        admin.status, 200,
        "logged-in request reaches the upstream: {admin:?}"
    );
    assert!(
        admin.text().starts_with("ECHO UPSTREAM"),
        "answered by the upstream: {}",
        admin.text()
    );
    assert!(
        echoed_request_line(&admin.text()).contains("/admin/settings?tab=wifi&x=1"),
        "{}",
        admin.text()
    );
    assert_eq!(
        echoed_header(&admin.text(), "remote-user"),
        vec![user.to_owned()],
        "upstream saw: {}",
        admin.text()
    );
    assert_eq!(
        admin.headers_all("cache-control"),
        vec!["no-store"],
        "a protected page must not stay in the browser's cache after logout: {admin:?}"
    );

    // latchkey's own welcome page under the prefix.
    let welcome = browser.get(&format!("{prefix}/"), browser_nav);
    assert_eq!(welcome.status, 200, "welcome page: {welcome:?}");
    assert!(
        welcome.text().contains(&format!("Welcome, {user}!")),
        "{}",
        welcome.text()
    );

    // 6. A bearer token from POST /auth opens the API location, both header schemes.
    let auth_body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let auth = request(
        front,
        "POST",
        &format!("{prefix}/auth"),
        &[("Content-Type", "application/json")],
        auth_body.as_bytes(),
    );
    assert_eq!(auth.status, 200, "POST {prefix}/auth: {auth:?}");
    let token = auth.json()["access_token"]
        .as_str()
        .expect("access_token in /auth reply")
        .to_owned();
    for scheme in ["Bearer", "JWT"] {
        let value = format!("{scheme} {token}");
        let api = request(
            front,
            "GET",
            "/api/status",
            &[("Authorization", &value), ("Accept", "application/json")],
            b"",
        );
        assert_eq!(api.status, 200, "{scheme} token on the API: {api:?}");
        assert_eq!(
            api.headers_all("cache-control"),
            vec!["no-store"],
            "{api:?}"
        );
        assert_eq!(
            echoed_header(&api.text(), "remote-user"),
            vec![user.to_owned()],
            "{}",
            api.text()
        );
    }
    let anon_api = request(
        front,
        "GET",
        "/api/status",
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(
        anon_api.status, 401,
        "API without a token is refused, not redirected: {anon_api:?}"
    );
    if api_denial == ApiDenial::Json401 {
        assert!(
            anon_api.text().trim_start().starts_with('{'),
            "JSON 401 for API clients: {}",
            anon_api.text()
        );
    }
    let forged_token = request(
        front,
        "GET",
        "/api/status",
        &[("Authorization", "Bearer not.a.token")],
        b"",
    );
    assert_eq!(
        forged_token.status, 401,
        "a garbage token is refused: {forged_token:?}"
    );
    latchkey.wait_log("token rejected ip=127.0.0.1");

    // 7. Logout with the welcome page's own button, then anonymous again.
    let logout_form = forms(&welcome.text())
        .into_iter()
        .find(|f| f.action.contains("logout"))
        .expect("welcome page has a logout form");
    let logout_action =
        logout_form.resolved_action(&format!("{prefix}/logout"), &format!("{prefix}/"));
    let fields: Vec<(&str, &str)> = logout_form
        .hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let bye = browser.post(&logout_action, &headers, &form(&fields));
    assert_eq!(bye.status, 303, "logout: {bye:?}");
    assert!(
        bye.location_path(front)
            .starts_with(&format!("{prefix}/login")),
        "logout goes to the login page: {bye:?}"
    );
    assert!(
        browser.jar.session().is_none(),
        "logout clears the session cookie: {:?}",
        bye.headers
    );
    latchkey.wait_log(&format!("logout ip=127.0.0.1 user={user}"));
    let after = browser.get(first_url, browser_nav);
    assert_eq!(
        after.status, 302,
        "after logout the admin page needs a login again: {after:?}"
    );

    // The old cookie, replayed by someone who copied it, is dead too.
    let mut stolen = Client::new(front);
    stolen.jar.insert("latchkey_session", &session);
    let replay = stolen.get(first_url, browser_nav);
    assert_eq!(
        replay.status, 302,
        "a session cookie must not outlive its logout: {replay:?}"
    );
}

/// WebSockets through the proxy on `port` as `account` (user, password): with a session
/// cookie on the admin page and with a bearer token on the API, the upgrade reaches the
/// echo upstream as that user and messages come back; without credentials, or with only
/// a forged `Remote-User`, the proxy answers with a redirect to the login form or a 401
/// and nothing is upgraded.
pub(crate) fn websocket_walk(port: u16, prefix: &str, account: (&str, &str)) {
    let front = SocketAddr::from(([127, 0, 0, 1], port));
    let (user, password) = account;
    // The handshake both ends of these tests compute, on RFC 6455 §1.3's own example.
    assert_eq!(
        websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );

    // A session the way a script gets one: a form post without Origin or cookies.
    let login = request(
        front,
        "POST",
        &format!("{prefix}/login"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("username", user), ("password", password)]),
    );
    assert_eq!(login.status, 303, "login through the proxy: {login:?}");
    let cookie = login
        .cookie_pair("latchkey_session")
        .expect("the login sets a session cookie");
    let mut socket = websocket_connect(front, "/ws/echo", &[("Cookie", &cookie)])
        .unwrap_or_else(|r| panic!("the upgrade with a session was refused: {r:?}"));
    assert_eq!(
        socket.handshake.header("echo-remote-user"),
        Some(user),
        "the upstream got the upgrade for {user}: {:?}",
        socket.handshake
    );
    assert_eq!(
        socket.echo("hello through the proxy"),
        "hello through the proxy"
    );
    assert_eq!(socket.echo("and again"), "and again");
    socket.close();

    // A token on the API location.
    let auth_body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let auth = request(
        front,
        "POST",
        &format!("{prefix}/auth"),
        &[("Content-Type", "application/json")],
        auth_body.as_bytes(),
    );
    assert_eq!(auth.status, 200, "POST {prefix}/auth: {auth:?}");
    let bearer = format!("Bearer {}", auth.json()["access_token"].as_str().unwrap());
    let mut socket = websocket_connect(front, "/api/events", &[("Authorization", &bearer)])
        .unwrap_or_else(|r| panic!("the upgrade with a token was refused: {r:?}"));
    assert_eq!(socket.handshake.header("echo-remote-user"), Some(user));
    assert_eq!(socket.echo("status?"), "status?");
    socket.close();

    // Nobody, or somebody who only claims a name: refused before the upstream.
    let forged: &[(&str, &str)] = &[("Remote-User", user)];
    for (path, headers) in [
        ("/ws/echo", &[][..]),
        ("/api/events", &[][..]),
        ("/ws/echo", forged),
    ] {
        match websocket_connect(front, path, headers) {
            Ok(socket) => panic!(
                "a WebSocket without credentials reached the upstream at {path}: {:?}",
                socket.handshake
            ),
            Err(refused) => {
                assert!(
                    matches!(refused.status, 302 | 401),
                    "{path} without credentials: a redirect to the login form or a 401: {refused:?}"
                );
                assert!(
                    refused.header("upgrade").is_none()
                        && !refused.text().contains("ECHO UPSTREAM"),
                    "nothing from the upstream: {refused:?}"
                );
            }
        }
    }
}
