//! Root against a service-owned data dir (`sudo latchkey user add carol`): what a
//! command writes stays the service user's, and the service, run as that user, reads
//! it; a user who is neither root nor the owner is refused with one line that says
//! how to run the command.

use crate::common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The service's user in these tests: `nobody`.
const SERVICE_UID: u32 = 65534;

/// `program ARGS` run as `nobody` through setpriv(1), with no `LATCHKEY_*` variable.
fn as_service_user(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            &format!("--reuid={SERVICE_UID}"),
            &format!("--regid={SERVICE_UID}"),
            "--clear-groups",
        ])
        .arg(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LATCHKEY_") {
            command.env_remove(key);
        }
    }
    command
}

/// A temp dir `nobody` can pass through, holding a copy of the binary it may run (the
/// build directory may be closed to it).
fn shared_tmp(label: &str) -> Option<(TempDir, PathBuf)> {
    let tmp = TempDir::new(label);
    if !tmp.owned_by_root() {
        skip("only root can give files to another user");
        return None;
    }
    if find_program("setpriv").is_none() {
        skip("setpriv (util-linux) is not installed");
        return None;
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let bin = tmp.path().join("latchkey");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some((tmp, bin))
}

fn chown_all(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        std::os::unix::fs::chown(entry.unwrap().path(), Some(uid), Some(uid)).unwrap();
    }
}

#[test]
fn root_keeps_the_service_users_files_the_service_users() {
    let Some((tmp, bin)) = shared_tmp("own-root") else {
        return;
    };
    // A data dir as the service left it: everything belongs to its user.
    let data = tmp.data_dir();
    add_user(&data, "admin", "pw-admin-123");
    chown_all(&data, SERVICE_UID);
    let dd = data.to_str().unwrap();

    // The administrator, as root.
    let root = |args: &[&str], stdin: &str| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", dd]);
        let r = cli(&all, stdin);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r
    };
    root(
        &["user", "add", "carol", "--password-stdin"],
        "pw-carol-123\n",
    );
    root(
        &["user", "passwd", "carol", "--password-stdin"],
        "pw-carol-456\n",
    );
    root(&["key", "rotate"], "");
    let token = root(&["token", "issue", "admin"], "").stdout;
    let claims = root(&["token", "verify", token.trim()], "").stdout;
    let claims: serde_json::Value = serde_json::from_str(&claims).unwrap();
    root(&["token", "revoke", claims["jti"].as_str().unwrap()], "");
    root(&["session", "revoke-all", "admin"], "");
    root(&["calibrate", "--target", "1ms"], "");

    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (SERVICE_UID, SERVICE_UID, 0o600),
            "{}",
            entry.path().display()
        );
    }

    // The service, as its own user, reads all of it: the new password logs in.
    let mut serve = as_service_user(&bin);
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data);
    let srv = Server::spawn(serve);
    assert_eq!(
        browser_login(&srv, "carol", "pw-carol-456", false, None).status,
        303
    );
    assert_eq!(
        browser_login(&srv, "carol", "pw-carol-123", false, None).status,
        401
    );
    // A change while it runs is read too, and the service can still take the lock
    // (a logout writes the revocations).
    root(
        &["user", "passwd", "carol", "--password-stdin"],
        "pw-carol-789\n",
    );
    let login = browser_login(&srv, "carol", "pw-carol-789", false, None);
    assert_eq!(login.status, 303, "{}", srv.log.text());
    let cookie = login.cookie_pair("latchkey_session").unwrap();
    let bye = srv.get(
        "/logout",
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(bye.status, 303, "{}", srv.log.text());
    assert_eq!(
        srv.get("/", &[("Cookie", &cookie)]).status,
        302,
        "logged out"
    );
    let log = srv.log.text();
    assert!(
        !log.contains("Permission denied") && !log.contains("refusing every credential"),
        "{log}"
    );
}

#[test]
fn another_user_is_told_whose_data_dir_it_is() {
    let Some((tmp, bin)) = shared_tmp("own-other") else {
        return;
    };
    // root's data dir, and `nobody` tries to use it.
    let data = tmp.data_dir();
    add_user(&data, "admin", "pw-admin-123");
    let before = std::fs::read(data.join("users")).unwrap();
    for args in [
        &["user", "list"][..],
        &["user", "del", "admin"],
        &["key", "rotate"],
        &["session", "revoke-all", "admin"],
    ] {
        let out = as_service_user(&bin)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("belongs to root") && stderr.contains("sudo -u root latchkey"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(std::fs::read(data.join("users")).unwrap(), before);
}
