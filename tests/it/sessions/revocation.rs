//! Every token latchkey issues can be revoked by its id with the CLI: no id may
//! look like an option (a base64url id began with `-` one time in 64).

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
