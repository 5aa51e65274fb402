//! The embedded default: the first run creates the data dir, the secret and an
//! `admin` user whose password is printed once and stored nowhere in clear.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn first_run_creates_admin_and_serves() {
    let tmp = TempDir::new("first");
    let data = tmp.data_dir();
    let srv = Server::start(&data, &[]);
    let line = srv.wait_log("created user 'admin' with password: ");
    let password = line.rsplit(' ').next().unwrap().to_owned();
    assert!(password.len() >= 20);
    let mode = |p: &str| {
        std::fs::metadata(data.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!((mode("keys"), mode("users")), (0o600, 0o600));
    let users = std::fs::read_to_string(data.join("users")).unwrap();
    assert!(!users.contains(&password), "password stored in clear");
    assert!(users.starts_with("admin ") || users.contains("\nadmin "));
    let r = browser_login(&srv, "admin", &password, false, None);
    assert_eq!(r.status, 303);
    drop(srv);
    // The second run creates nothing and prints no password.
    let srv = Server::start(&data, &[]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(srv.log_lines().iter().all(|l| !l.contains("password:")));
}
