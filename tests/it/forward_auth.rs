//! Forward auth for nginx `auth_request` (200 or 401 with a Location, never a 3xx)
//! and for Caddy `forward_auth` / Traefik `ForwardAuth` (302 for browsers).

use crate::common::*;

#[test]
fn nginx_and_caddy_conventions() {
    let tmp = TempDir::new("fwd");
    let data = tmp.data_dir();
    add_user(&data, "admin2", "pw-admin-2");
    let srv = Server::start(&data, &["--allowed-host", "router.example"]);
    let cookie = browser_login(&srv, "admin2", "pw-admin-2", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();

    // nginx: anonymous → 401 with the login page and the original URL as next.
    let r = srv.get("/verify", &[("X-Original-URI", "/admin/wifi?x=1")]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("location"),
        Some("/login?next=%2Fadmin%2Fwifi%3Fx%3D1")
    );
    // An absolute original URL is kept only for an allowed host.
    let r = srv.get(
        "/verify",
        &[("X-Original-URL", "https://router.example/admin")],
    );
    assert_eq!(
        r.header("location"),
        Some("/login?next=https%3A%2F%2Frouter.example%2Fadmin")
    );
    let r = srv.get(
        "/verify",
        &[("X-Original-URL", "https://evil.example/admin")],
    );
    assert_eq!(r.header("location"), Some("/login?next=%2F"));
    // With the session cookie: 200 and Remote-User.
    let r = srv.get(
        "/verify",
        &[("Cookie", &cookie), ("X-Original-URI", "/admin")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("remote-user"), Some("admin2"));
    // With a bearer token.
    let token = api_token(&srv, "admin2", "pw-admin-2");
    let r = srv.get("/verify", &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!((r.status, r.header("remote-user")), (200, Some("admin2")));

    // Caddy / Traefik: browsers are sent to the login page, API clients get 401.
    let fwd = [
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "router.example"),
        ("X-Forwarded-Uri", "/admin"),
    ];
    let r = srv.get("/forward-auth", &fwd);
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/login?next=http%3A%2F%2Frouter.example%2Fadmin")
    );
    let mut api = fwd.to_vec();
    api.push(("Accept", "application/json"));
    assert_eq!(srv.get("/forward-auth", &api).status, 401);
    let mut ok = fwd.to_vec();
    ok.push(("Cookie", &cookie));
    let r = srv.get("/forward-auth", &ok);
    assert_eq!((r.status, r.header("remote-user")), (200, Some("admin2")));

    assert_eq!(srv.get("/healthz", &[]).text(), "ok\n");
}
