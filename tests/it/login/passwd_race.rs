//! `user passwd` against a login racing it: the old password must stop working as
//! soon as the command returns, not at the server's next look at the users file,
//! since a token minted in between would outlive the revocation cutoff.

use crate::common::*;

fn auth(srv: &Server, password: &str) -> Response {
    let body = serde_json::json!({ "username": "pat", "password": password }).to_string();
    srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

#[test]
fn the_old_password_stops_working_when_passwd_returns() {
    let tmp = TempDir::new("passwd-race");
    let data = tmp.data_dir();
    add_user(&data, "pat", "pw-pat-old");
    let srv = Server::start(&data, &[]);
    assert_eq!(auth(&srv, "pw-pat-old").status, 200);
    let r = cli(
        &[
            "user",
            "passwd",
            "pat",
            "--password-stdin",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        "pw-pat-new\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Immediately, before the once-a-second reload.
    let r = auth(&srv, "pw-pat-old");
    assert_eq!(r.status, 401, "old password still accepted: {}", r.text());
    let r = auth(&srv, "pw-pat-new");
    assert_eq!(r.status, 200, "{}", r.text());
}
