//! Revocation: every token latchkey issues can be revoked by its id with the CLI (no id
//! may look like an option: a base64url id began with `-` one time in 64), `session
//! revoke-all`, `user del` and a password change end sessions and tokens within about a
//! second, and revocations survive a restart.

use crate::common::*;

#[test]
fn every_issued_token_id_can_be_revoked_with_the_cli() {
    let tmp = TempDir::new("token-ids");
    let data = tmp.data_dir();
    add_user(&data, "ivy", "pw-ivy-123");
    let dir = data.to_str().unwrap();
    assert_eq!(cli(&["key", "rotate", "--data-dir", dir], "").code, 0);
    for _ in 0..40 {
        let r = cli(&["token", "issue", "ivy", "--data-dir", dir], "");
        assert_eq!(r.code, 0, "{}", r.stderr);
        let claims = cli(&["token", "verify", r.stdout.trim(), "--data-dir", dir], "");
        let c: serde_json::Value = serde_json::from_str(&claims.stdout).unwrap();
        let jti = c["jti"].as_str().unwrap().to_owned();
        assert!(!jti.starts_with('-'), "{jti}");
        let r = cli(&["token", "revoke", &jti, "--data-dir", dir], "");
        assert_eq!(r.code, 0, "{jti}: {}", r.stderr);
    }
}

#[test]
fn revoke_all_and_user_del_end_sessions_and_tokens() {
    let tmp = TempDir::new("revoke-all");
    let data = tmp.data_dir();
    let dd = data.to_str().unwrap();
    add_user(&data, "rita", "pw-rita-12");
    add_user(&data, "sam", "pw-sam-123");
    let srv = Server::start(&data, &[]);
    let cookie = browser_login(&srv, "rita", "pw-rita-12", true, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let token = api_token(&srv, "rita", "pw-rita-12");
    let sam = api_token(&srv, "sam", "pw-sam-123");
    let bearer = format!("JWT {token}");
    assert_eq!(srv.get("/", &[("Cookie", &cookie)]).status, 200);

    let r = cli(&["session", "revoke-all", "rita", "--data-dir", dd], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    eventually_refused(&srv, &[("Cookie", &cookie)], "/");
    eventually_refused(&srv, &[("Authorization", &bearer)], "/protected");
    // Other users are untouched.
    assert_eq!(
        srv.get("/protected", &[("Authorization", &format!("JWT {sam}"))])
            .status,
        200
    );
    // A login after the cutoff second works again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let fresh = api_token(&srv, "rita", "pw-rita-12");
    assert_eq!(
        srv.get("/protected", &[("Authorization", &format!("JWT {fresh}"))])
            .status,
        200
    );

    // Deleting a user ends their access even before any expiry.
    assert_eq!(cli(&["user", "del", "sam", "--data-dir", dd], "").code, 0);
    eventually_refused(
        &srv,
        &[("Authorization", &format!("JWT {sam}"))],
        "/protected",
    );
    // And the revocations survive a restart.
    assert_eq!(srv.stop(), 0);
    let srv = Server::start(&data, &[]);
    assert_eq!(srv.get("/", &[("Cookie", &cookie)]).status, 302);
    assert_eq!(
        srv.get("/protected", &[("Authorization", &bearer)]).status,
        401
    );
}

#[test]
fn password_change_ends_sessions() {
    let tmp = TempDir::new("passwd");
    let data = tmp.data_dir();
    add_user(&data, "dave", "old-password");
    let srv = Server::start(&data, &[]);
    let cookie = browser_login(&srv, "dave", "old-password", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    assert_eq!(srv.get("/", &[("Cookie", &cookie)]).status, 200);
    let r = cli(
        &[
            "user",
            "passwd",
            "dave",
            "--password-stdin",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "new-password\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The server notices the users file changed within about a second.
    eventually_refused(&srv, &[("Cookie", &cookie)], "/");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = browser_login(&srv, "dave", "new-password", false, None);
    assert_eq!(r.status, 303);
}
