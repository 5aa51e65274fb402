//! The Flask-JWT token API against the real binary: `POST /auth`, `GET /protected` with
//! `JWT` and `Bearer`, every error body, refresh tokens, a token revoked by its id.

use crate::common::*;

fn auth(srv: &Server, body: &str) -> Response {
    srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

#[test]
fn token_walk_and_error_bodies() {
    let tmp = TempDir::new("api");
    let data = tmp.data_dir();
    add_user_allowing_weak(&data, "user1", "password1");
    let srv = Server::start(&data, &[]);

    let r = auth(&srv, r#"{"username": "user1", "password": "password1"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(
        body.get("refresh_token").is_none(),
        "refresh tokens are off by default"
    );

    // The token's claims, as Flask-JWT's plus ours.
    let claims = cli(
        &[
            "token",
            "verify",
            &token,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(claims.code, 0, "{}", claims.stderr);
    let c: serde_json::Value = serde_json::from_str(&claims.stdout).unwrap();
    assert_eq!(c["sub"], "user1");
    assert_eq!(c["identity"], "user1");
    assert_eq!(c["type"], "access");
    let iat = c["iat"].as_u64().unwrap();
    assert_eq!(c["exp"].as_u64().unwrap(), iat + 300);
    assert!(c["nbf"].is_u64() && c["jti"].is_string());

    for scheme in ["JWT", "jwt", "Bearer"] {
        let r = srv.get(
            "/protected",
            &[("Authorization", &format!("{scheme} {token}"))],
        );
        assert_eq!(r.status, 200, "{scheme}");
        assert!(r.text().contains("user1"));
    }

    // No header: Flask-JWT's exact answer.
    let r = srv.get("/protected", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("JWT realm=\"Login Required\"")
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"status_code": 401, "error": "Authorization Required", "description": "Request does not contain an access token"})
    );

    // A tampered token: 401 with our precise reason.
    // Change one character inside the signature (not the last one, whose low bits
    // are base64 padding and would make it a base64 error instead).
    let at = token.len() - 10;
    let flipped = if &token[at..at + 1] == "A" { "B" } else { "A" };
    let bad = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
    let r = srv.get("/protected", &[("Authorization", &format!("JWT {bad}"))]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "Invalid token");
    assert_eq!(r.json()["description"], "bad signature");
    srv.wait_log("token rejected ip=127.0.0.1 reason=\"bad signature\"");
    let r = srv.get(
        "/protected",
        &[("Authorization", "Basic dXNlcjE6cGFzc3dvcmQx")],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "Invalid JWT header");

    // Bad credentials: Flask-JWT's body.
    let r = auth(&srv, r#"{"username": "user1", "password": "nope"}"#);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        serde_json::json!({"status_code": 401, "error": "Bad Request", "description": "Invalid credentials"})
    );
    // Malformed requests: 400 with a precise description, same shape.
    for (body, why) in [
        ("not json", "body is not valid json"),
        ("[1]", "body must be a json object"),
        (r#"{"username": "user1"}"#, "missing password"),
        (
            r#"{"username": 5, "password": "x"}"#,
            "username must be a string",
        ),
    ] {
        let r = auth(&srv, body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["status_code"], 400);
        assert_eq!(r.json()["description"], why);
    }
    let r = srv.post("/auth", &[("Content-Type", "text/plain")], b"{}");
    assert_eq!(r.status, 400);

    // Revoked by id with the CLI: refused within about a second.
    let jti = c["jti"].as_str().unwrap();
    let r = cli(
        &["token", "revoke", jti, "--data-dir", data.to_str().unwrap()],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = srv.get("/protected", &[("Authorization", &format!("JWT {token}"))]);
        if r.status == 401 {
            assert_eq!(r.json()["description"], "revoked");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revoked token still accepted"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn refresh_tokens_when_enabled() {
    let tmp = TempDir::new("refresh");
    let data = tmp.data_dir();
    add_user_allowing_weak(&data, "user2", "password2");
    let srv = Server::start(&data, &["--refresh-ttl", "1d", "--token-ttl", "60s"]);
    let body = auth(&srv, r#"{"username": "user2", "password": "password2"}"#).json();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    // A refresh token is not an access token, and the reverse.
    let r = srv.get(
        "/protected",
        &[("Authorization", &format!("JWT {refresh}"))],
    );
    assert_eq!(
        (r.status, r.json()["description"].as_str()),
        (401, Some("wrong token type"))
    );
    let r = srv.post(
        "/auth/refresh",
        &[("Authorization", &format!("Bearer {access}"))],
        b"",
    );
    assert_eq!(r.status, 401);
    let r = srv.post(
        "/auth/refresh",
        &[("Authorization", &format!("Bearer {refresh}"))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let fresh = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        srv.get("/protected", &[("Authorization", &format!("JWT {fresh}"))])
            .status,
        200
    );
}
