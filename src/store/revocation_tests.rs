//! The revocation store as the server and the CLI use it: through the data directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::store::lock::{DirLock, LOCK_FILE};
use crate::store::revocation::{REVOKED_FILE, RevocationError, RevocationStore};

const NOW: u64 = 1_700_000_000;

/// A fresh private data directory, removed on drop.
struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> DataDir {
        let suffix: [u8; 6] = crate::random::array().unwrap();
        let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("latchkey-rev-{name}-{hex}"));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        DataDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join(REVOKED_FILE)
    }

    /// The data directory's lock, as every writer takes it.
    fn lock(&self) -> DirLock {
        crate::store::DataDir::new(&self.0).lock().unwrap()
    }

    fn write_file(&self, text: &str) {
        crate::store::atomic_file::write(&self.file(), text.as_bytes(), 0o600).unwrap();
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn missing_file_is_an_empty_store() {
    let dir = DataDir::new("missing");
    let store = RevocationStore::load(&dir.0).unwrap();
    assert!(store.is_empty());
    assert!(!store.is_session_revoked(&[1; 16]));
    assert_eq!(store.user_cutoff("admin"), None);
}

#[test]
fn revocations_survive_a_restart() {
    let dir = DataDir::new("restart");
    let held = dir.lock();
    let mut store = RevocationStore::load(&dir.0).unwrap();
    store
        .revoke_session(&held, [0xaa; 16], NOW + 3600, NOW)
        .unwrap();
    store
        .revoke_token(&held, "jti-123", NOW + 900, NOW)
        .unwrap();
    store
        .revoke_user_before(&held, "admin", NOW, 86_400, NOW)
        .unwrap();
    drop((store, held));

    let mode = fs::metadata(dir.file()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let lock_mode = fs::metadata(dir.0.join(LOCK_FILE))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(lock_mode & 0o077, 0);

    let store = RevocationStore::load(&dir.0).unwrap();
    assert_eq!(store.len(), 3);
    assert!(store.is_session_revoked(&[0xaa; 16]));
    assert!(!store.is_session_revoked(&[0xab; 16]));
    assert!(store.is_token_revoked("jti-123"));
    assert_eq!(store.user_cutoff("admin"), Some(NOW));
    assert!(store.is_revoked_by_cutoff("admin", NOW));
    assert!(!store.is_revoked_by_cutoff("admin", NOW + 1));
}

#[test]
fn prune_drops_only_expired_entries_and_shrinks_the_file() {
    let dir = DataDir::new("prune");
    let held = dir.lock();
    let mut store = RevocationStore::load(&dir.0).unwrap();
    for i in 0..20u8 {
        store.revoke_session(&held, [i; 16], NOW + 10, NOW).unwrap();
    }
    store
        .revoke_session(&held, [0xff; 16], NOW + 1000, NOW)
        .unwrap();
    store.revoke_token(&held, "short", NOW + 10, NOW).unwrap();
    store.revoke_token(&held, "long", NOW + 1000, NOW).unwrap();
    store
        .revoke_user_before(&held, "old", NOW - 90, 100, NOW)
        .unwrap();
    store
        .revoke_user_before(&held, "new", NOW, 1000, NOW)
        .unwrap();
    let before = fs::metadata(dir.file()).unwrap().len();

    assert_eq!(
        store.prune(&held, NOW + 10).unwrap(),
        0,
        "kept through their last second"
    );
    assert_eq!(store.prune(&held, NOW + 11).unwrap(), 22);
    let after = fs::metadata(dir.file()).unwrap().len();
    assert!(after < before, "{after} >= {before}");

    let reloaded = RevocationStore::load(&dir.0).unwrap();
    assert_eq!(reloaded.len(), 3);
    assert!(reloaded.is_session_revoked(&[0xff; 16]));
    assert!(!reloaded.is_session_revoked(&[0; 16]));
    assert!(reloaded.is_token_revoked("long"));
    assert!(!reloaded.is_token_revoked("short"));
    assert_eq!(reloaded.user_cutoff("new"), Some(NOW));
    assert_eq!(reloaded.user_cutoff("old"), None);
}

#[test]
fn already_expired_revocations_write_nothing() {
    let dir = DataDir::new("expired");
    let held = dir.lock();
    let mut store = RevocationStore::load(&dir.0).unwrap();
    store.revoke_token(&held, "gone", NOW - 1, NOW).unwrap();
    store
        .revoke_user_before(&held, "admin", NOW - 100, 10, NOW)
        .unwrap();
    assert!(store.is_empty());
    assert!(!dir.file().exists());
}

#[test]
fn malformed_file_reports_the_line_and_keeps_loaded_state() {
    let dir = DataDir::new("malformed");
    dir.write_file("# ok\njti fine 99999999999\nsid nothex 5\n");
    match RevocationStore::load(&dir.0) {
        Err(RevocationError::Malformed { line: 3, .. }) => {}
        other => panic!("expected malformed line 3, got {other:?}"),
    }

    // A server already running keeps its revocations when the file turns bad, and
    // refuses to overwrite the bad file (that would lose what it holds).
    dir.write_file("jti fine 99999999999\n");
    let mut store = RevocationStore::load(&dir.0).unwrap();
    dir.write_file("jti fine 99999999999\nuser bad/name 1 2\n");
    let held = dir.lock();
    let err = store.reload_if_changed().unwrap_err();
    assert!(
        matches!(err, RevocationError::Malformed { line: 2, .. }),
        "{err:?}"
    );
    assert!(store.is_token_revoked("fine"));
    let err = store.revoke_token(&held, "new", NOW + 10, NOW).unwrap_err();
    assert!(
        matches!(err, RevocationError::Malformed { line: 2, .. }),
        "{err:?}"
    );
    assert!(!store.is_token_revoked("new"));
    assert!(fs::read_to_string(dir.file()).unwrap().contains("bad/name"));
}

#[test]
fn group_or_world_readable_file_is_refused_with_a_fix() {
    let dir = DataDir::new("perm");
    dir.write_file("jti t 99999999999\n");
    for mode in [0o640, 0o604, 0o660] {
        fs::set_permissions(dir.file(), fs::Permissions::from_mode(mode)).unwrap();
        let err = RevocationStore::load(&dir.0).unwrap_err();
        assert!(
            matches!(err, RevocationError::Permissions(_, m) if m == mode),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}

#[test]
fn invalid_ids_and_names_are_refused() {
    let dir = DataDir::new("invalid");
    let held = dir.lock();
    let mut store = RevocationStore::load(&dir.0).unwrap();
    for jti in ["", "has space", "new\nline", &"x".repeat(65), "caf\u{e9}"] {
        assert!(matches!(
            store.revoke_token(&held, jti, NOW + 1, NOW),
            Err(RevocationError::BadTokenId)
        ));
    }
    for user in ["", "a b", "../etc", "x\ny", &"u".repeat(65)] {
        assert!(matches!(
            store.revoke_user_before(&held, user, NOW, 10, NOW),
            Err(RevocationError::BadUserName)
        ));
    }
    store
        .revoke_token(&held, &"x".repeat(64), NOW + 1, NOW)
        .unwrap();
    store
        .revoke_user_before(&held, "a.b_c@d-e", NOW, 10, NOW)
        .unwrap();
    assert_eq!(store.len(), 2);
}

#[test]
fn full_store_prunes_then_refuses_without_dropping_anything() {
    let dir = DataDir::new("full");
    let held = dir.lock();
    let mut store = RevocationStore::load_with_max_entries(&dir.0, 3).unwrap();
    store.revoke_token(&held, "expiring", NOW + 5, NOW).unwrap();
    store.revoke_token(&held, "b", NOW + 100, NOW).unwrap();
    store.revoke_token(&held, "c", NOW + 100, NOW).unwrap();
    // Once "expiring" is past, pruning makes room.
    store.revoke_token(&held, "d", NOW + 100, NOW + 6).unwrap();
    let err = store
        .revoke_token(&held, "e", NOW + 100, NOW + 6)
        .unwrap_err();
    assert!(
        matches!(err, RevocationError::Full { max_entries: 3 }),
        "{err:?}"
    );
    assert!(!store.is_token_revoked("e"));
    // Extending an existing entry is still allowed.
    store.revoke_token(&held, "b", NOW + 200, NOW + 6).unwrap();

    let reloaded = RevocationStore::load(&dir.0).unwrap();
    for jti in ["b", "c", "d"] {
        assert!(reloaded.is_token_revoked(jti), "{jti} lost");
    }
    assert!(!reloaded.is_token_revoked("e"));
}

#[test]
fn two_stores_sharing_a_directory_lose_no_update() {
    let dir = DataDir::new("two");
    let held = dir.lock();
    let mut server = RevocationStore::load(&dir.0).unwrap();
    let mut cli = RevocationStore::load(&dir.0).unwrap();
    server
        .revoke_token(&held, "from-server", NOW + 100, NOW)
        .unwrap();
    // The CLI has not reloaded; its write must merge, not overwrite.
    cli.revoke_user_before(&held, "admin", NOW, 100, NOW)
        .unwrap();
    server
        .revoke_session(&held, [3; 16], NOW + 100, NOW)
        .unwrap();

    let fresh = RevocationStore::load(&dir.0).unwrap();
    assert!(fresh.is_token_revoked("from-server"));
    assert_eq!(fresh.user_cutoff("admin"), Some(NOW));
    assert!(fresh.is_session_revoked(&[3; 16]));
    assert_eq!(fresh.len(), 3);
}

#[test]
fn concurrent_writers_in_two_threads_lose_no_update() {
    let dir = DataDir::new("threads");
    let writers: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|name| {
            let path = dir.0.clone();
            std::thread::spawn(move || {
                let data_dir = crate::store::DataDir::new(&path);
                let mut store = RevocationStore::load(&path).unwrap();
                for i in 0..40 {
                    let held = data_dir.lock().unwrap();
                    store
                        .revoke_token(&held, &format!("{name}-{i}"), NOW + 100, NOW)
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let store = RevocationStore::load(&dir.0).unwrap();
    assert_eq!(store.len(), 80);
    assert!(store.is_token_revoked("left-39") && store.is_token_revoked("right-0"));
}

#[test]
fn reload_if_changed_sees_the_other_process_write() {
    let dir = DataDir::new("reload");
    let held = dir.lock();
    let mut server = RevocationStore::load(&dir.0).unwrap();
    assert!(!server.reload_if_changed().unwrap(), "nothing changed yet");

    let mut cli = RevocationStore::load(&dir.0).unwrap();
    cli.revoke_user_before(&held, "admin", NOW, 100, NOW)
        .unwrap();
    assert_eq!(server.user_cutoff("admin"), None);
    assert!(server.reload_if_changed().unwrap());
    assert_eq!(server.user_cutoff("admin"), Some(NOW));
    assert!(
        !server.reload_if_changed().unwrap(),
        "a second poll is a no-op"
    );

    // The server's own writes do not count as changes to pick up.
    server.revoke_token(&held, "t", NOW + 100, NOW).unwrap();
    assert!(!server.reload_if_changed().unwrap());

    // Deleting the file clears the revocations.
    fs::remove_file(dir.file()).unwrap();
    assert!(server.reload_if_changed().unwrap());
    assert!(server.is_empty());
}

#[test]
fn oversized_file_is_refused() {
    let dir = DataDir::new("large");
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!("jti token-{i:058} 99999999999\n"));
    }
    dir.write_file(&text);
    let err = RevocationStore::load_with_max_entries(&dir.0, 10).unwrap_err();
    assert!(matches!(err, RevocationError::TooLarge(_)), "{err:?}");
    assert_eq!(RevocationStore::load(&dir.0).unwrap().len(), 2000);
}
