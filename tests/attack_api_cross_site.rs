//! The token API refuses what a browser says is cross-site, like the forms do: a
//! page of another site can post a `text/plain` body to `/auth/refresh`.

mod common;
use common::*;

#[test]
fn token_api_refuses_cross_site_posts() {
    let tmp = TempDir::new("api-xsite");
    let data = tmp.data_dir();
    add_user(&data, "ada", "pw-ada-123");
    let srv = Server::start(&data, &["--refresh-ttl", "1h"]);
    let creds = br#"{"username":"ada","password":"pw-ada-123"}"#;
    let json = ("Content-Type", "application/json");
    let r = srv.post("/auth", &[json, ("Origin", "http://evil.example")], creds);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["description"], "cross-site request refused");
    let r = srv.post("/auth", &[json], creds);
    assert_eq!(r.status, 200, "{}", r.text());
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let body = serde_json::json!({ "refresh_token": refresh }).to_string();
    for evil in [
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let r = srv.post(
            "/auth/refresh",
            &[("Content-Type", "text/plain"), evil],
            body.as_bytes(),
        );
        assert_eq!(r.status, 403, "{evil:?}");
    }
    // Scripts and same-origin pages are unaffected.
    let origin = format!("http://{}", srv.addr);
    let r = srv.post("/auth/refresh", &[("Origin", &origin)], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["access_token"].is_string());
    let r = srv.post("/auth/refresh", &[], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}
