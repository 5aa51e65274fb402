//! `sub` versus Flask-JWT's `identity`: latchkey answers with `sub` (Remote-User),
//! a Flask app behind it may read `identity`; a token naming two users is refused.

use crate::common::*;

use latchkey::jwt::{self, Claims, TokenType};
use latchkey::keys::{Keyring, Purpose};

#[test]
fn a_token_whose_sub_and_identity_differ_is_refused() {
    let tmp = TempDir::new("subject");
    let data = tmp.data_dir();
    add_user(&data, "alice", "pw-alice-123");
    add_user(&data, "root", "pw-root-123");
    let srv = Server::start(&data, &[]);
    let ring = Keyring::parse(&std::fs::read_to_string(data.join("keys")).unwrap()).unwrap();
    let key = ring.key_set(Purpose::ApiToken);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = Claims::new_token("alice", now, 300, "jti-subject-1", TokenType::Access);
    // The key's own tokens carry the same name twice and are accepted.
    let good = jwt::sign(&claims, key.current());
    let r = srv.get("/protected", &[("Authorization", &format!("JWT {good}"))]);
    assert_eq!(r.status, 200, "{}", r.text());
    claims
        .extra
        .insert("identity".into(), serde_json::json!("root"));
    let mixed = jwt::sign(&claims, key.current());
    let auth = format!("JWT {mixed}");
    let r = srv.get("/protected", &[("Authorization", &auth)]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["description"], "sub and identity differ");
    let r = srv.get("/verify", &[("Authorization", &auth)]);
    assert_eq!(r.status, 401);
    assert!(r.header("remote-user").is_none());
    claims.extra.insert("identity".into(), serde_json::json!(7));
    let odd = jwt::sign(&claims, key.current());
    let r = srv.get("/protected", &[("Authorization", &format!("JWT {odd}"))]);
    assert_eq!(r.status, 401);
}
