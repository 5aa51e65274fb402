use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::keys::{KEEP_ON_ROTATE, Purpose};

/// A data dir path under the temp dir that does not exist yet, removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        let suffix: [u8; 6] = crate::random::array().unwrap();
        let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        Temp(std::env::temp_dir().join(format!("latchkey-store-{tag}-{hex}")))
    }

    /// The data dir, one level below the temp dir so its creation is tested too.
    fn data(&self) -> DataDir {
        DataDir::new(self.0.join("data"))
    }

    /// The data dir with a low hash cost already stored, so no calibration runs.
    fn data_with_cost(&self) -> DataDir {
        let dir = self.data();
        dir.create().unwrap();
        let held = dir.lock().unwrap();
        cost::save(&dir.cost_file(), password::MIN_ITERATIONS, &held).unwrap();
        drop(held);
        dir
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn files_live_in_the_data_dir_under_fixed_names() {
    let dir = DataDir::new("/srv/latchkey");
    assert_eq!(dir.path(), Path::new("/srv/latchkey"));
    assert_eq!(dir.keys_file(), Path::new("/srv/latchkey/keys"));
    assert_eq!(dir.users_file(), Path::new("/srv/latchkey/users"));
    assert_eq!(dir.revoked_file(), Path::new("/srv/latchkey/revoked"));
    assert_eq!(
        dir.cost_file(),
        Path::new("/srv/latchkey/pbkdf2-iterations")
    );
}

#[test]
fn first_run_creates_a_private_dir_a_secret_and_an_admin() {
    let tmp = Temp::new("first");
    let dir = tmp.data();
    let (store, created) = Store::open(dir.clone()).unwrap();
    assert!(created.keyring);
    let cal = created.calibration.expect("no cost was stored: measured");
    assert_eq!(store.policy().iterations(), cal.iterations);
    let password = created
        .first_password
        .clone()
        .expect("an admin was created");
    assert_eq!(password.len(), FIRST_PASSWORD_LEN);
    assert!(!format!("{created:?}").contains(&password));

    assert_eq!(mode(dir.path()), 0o700);
    for file in [dir.keys_file(), dir.users_file(), dir.cost_file()] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let admin = store.users().get(FIRST_USER).unwrap();
    assert!(password::verify(password.as_bytes(), &admin.hash).unwrap());
    let text = fs::read_to_string(dir.users_file()).unwrap();
    assert!(!text.contains(&password), "password stored in clear");
    assert_eq!(
        fs::read_to_string(dir.cost_file()).unwrap(),
        format!("{}\n", cal.iterations)
    );

    // The second run creates nothing and keeps the secret and the users.
    let (again, created) = Store::open(dir.clone()).unwrap();
    assert!(!created.keyring);
    assert!(created.calibration.is_none());
    assert!(created.first_password.is_none());
    assert_eq!(again.keyring().current_kid(), store.keyring().current_kid());
    assert_eq!(
        again
            .keyring()
            .key_set(Purpose::ApiToken)
            .current()
            .fingerprint(),
        store
            .keyring()
            .key_set(Purpose::ApiToken)
            .current()
            .fingerprint()
    );
    assert_eq!(again.users(), store.users());
}

#[test]
fn an_existing_users_file_gets_no_admin() {
    let tmp = Temp::new("no-admin");
    let dir = tmp.data_with_cost();
    dir.save_users(&dir.lock().unwrap(), &UserDb::new())
        .unwrap();
    let (store, created) = Store::open(dir).unwrap();
    assert!(created.first_password.is_none());
    assert_eq!(store.users().len(), 0);
}

#[test]
fn a_bad_file_stops_the_first_run_with_its_path() {
    let tmp = Temp::new("bad");
    let dir = tmp.data_with_cost();
    atomic_file::write(&dir.users_file(), b"admin h 1 -\nbroken\n", 0o600).unwrap();
    let err = Store::open(dir.clone()).unwrap_err();
    assert!(matches!(err, StoreError::UsersFile(..)), "{err:?}");
    assert!(
        err.to_string().ends_with(
            "users: line 2: expected `name hash epoch flags` separated by single spaces"
        ),
        "{err}"
    );

    atomic_file::write(&dir.cost_file(), b"many\n", 0o600).unwrap();
    let err = dir.hash_policy().unwrap_err();
    assert!(matches!(err, StoreError::BadCost(_)), "{err:?}");
    atomic_file::write(&dir.cost_file(), b"1000\n", 0o600).unwrap();
    let err = dir.hash_policy().unwrap_err();
    assert!(matches!(err, StoreError::Password(_)), "{err:?}");
}

#[test]
fn a_readable_keys_file_is_refused_with_a_fix() {
    let tmp = Temp::new("keys-perm");
    let dir = tmp.data_with_cost();
    Store::open(dir.clone()).unwrap();
    fs::set_permissions(dir.keys_file(), fs::Permissions::from_mode(0o644)).unwrap();
    let err = dir.keyring().unwrap_err();
    assert!(matches!(err, StoreError::Permissions(_, 0o644)), "{err:?}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    let err = Store::open(dir).unwrap_err();
    assert!(matches!(err, StoreError::Permissions(_, 0o644)), "{err:?}");
}

#[test]
fn a_malformed_keys_file_names_its_path_and_line() {
    let tmp = Temp::new("keys-bad");
    let dir = tmp.data();
    dir.create().unwrap();
    atomic_file::write(&dir.keys_file(), b"# c\nk1 not*base64\n", 0o600).unwrap();
    let err = dir.keyring().unwrap_err();
    assert!(
        matches!(err, StoreError::Keys(_, KeyError::Malformed(2))),
        "{err:?}"
    );
    assert!(err.to_string().contains("keys: line 2:"), "{err}");
}

#[test]
fn rotation_needs_the_dir_and_keeps_older_keys() {
    let tmp = Temp::new("rotate");
    let dir = tmp.data();
    assert!(matches!(
        dir.rotate_key(KEEP_ON_ROTATE),
        Err(StoreError::Io(..))
    ));
    assert!(!dir.path().exists(), "a mistyped dir is not created");
    dir.create().unwrap();
    let first = dir.rotate_key(KEEP_ON_ROTATE).unwrap();
    assert_eq!(mode(&dir.keys_file()), 0o600);
    let second = dir.rotate_key(KEEP_ON_ROTATE).unwrap();
    assert_ne!(first, second);
    let ring = dir.keyring().unwrap();
    assert_eq!(ring.current_kid(), second);
    assert!(ring.key_set(Purpose::ApiToken).get(&first).is_some());
}

#[test]
fn keys_are_retired_by_dropping_or_by_rotating_with_fewer_kept() {
    let tmp = Temp::new("retire");
    let dir = tmp.data();
    dir.create().unwrap();
    let first = dir.rotate_key(KEEP_ON_ROTATE).unwrap();
    let second = dir.rotate_key(KEEP_ON_ROTATE).unwrap();
    let third = dir.rotate_key(KEEP_ON_ROTATE).unwrap();
    let kids = |dir: &DataDir| -> Vec<String> {
        dir.keyring().unwrap().kids().map(str::to_owned).collect()
    };
    assert_eq!(kids(&dir), [third.clone(), second.clone(), first.clone()]);
    let err = dir.drop_key(&third).unwrap_err();
    assert!(
        matches!(err, StoreError::Keys(_, KeyError::CurrentKid(_))),
        "{err:?}"
    );
    let err = dir.drop_key("nope").unwrap_err();
    assert!(
        matches!(err, StoreError::Keys(_, KeyError::UnknownKid(_))),
        "{err:?}"
    );
    dir.drop_key(&second).unwrap();
    assert_eq!(kids(&dir), [third, first]);
    assert_eq!(mode(&dir.keys_file()), 0o600);
    let fourth = dir.rotate_key(1).unwrap();
    assert_eq!(kids(&dir), [fourth]);
}

#[test]
fn calibration_stores_the_measured_cost() {
    let tmp = Temp::new("calibrate");
    let dir = tmp.data();
    let (policy, cal) = dir.calibrate(Duration::from_millis(1)).unwrap();
    assert_eq!(policy.iterations(), cal.iterations);
    assert_eq!(mode(dir.path()), 0o700);
    assert_eq!(mode(&dir.cost_file()), 0o600);
    assert_eq!(dir.hash_policy().unwrap(), (policy, None));
}

#[test]
fn users_or_empty_reads_no_file_as_no_users() {
    let tmp = Temp::new("empty");
    let dir = tmp.data();
    assert!(matches!(
        dir.users(),
        Err(StoreError::Users(UsersError::Missing(_)))
    ));
    assert_eq!(dir.users_or_empty().unwrap().len(), 0);
}

const HASH: &str = "$pbkdf2-sha256$i=1000,l=32$AAAA$BBBB";

#[test]
fn reload_picks_up_what_another_process_wrote() {
    let tmp = Temp::new("reload");
    let dir = tmp.data_with_cost();
    let (mut store, _) = Store::open(dir.clone()).unwrap();
    // The first reload may read back what the first run wrote; then nothing changed.
    let _ = store.reload();
    let unchanged = store.reload();
    assert!(matches!(unchanged.users, Ok(false)));
    assert!(matches!(unchanged.revocations, Ok(false)));
    assert!(matches!(unchanged.keys, Ok(false)));

    // As the CLI would: add a user, revoke a token, rotate the key.
    let held = dir.lock().unwrap();
    let mut db = dir.users().unwrap();
    db.add("ann", HASH).unwrap();
    dir.save_users(&held, &db).unwrap();
    dir.revocations()
        .unwrap()
        .revoke_token(&held, "t1", u64::MAX, 0)
        .unwrap();
    drop(held);
    let kid = dir.rotate_key(KEEP_ON_ROTATE).unwrap();
    let changed = store.reload();
    assert!(matches!(changed.users, Ok(true)));
    assert!(matches!(changed.revocations, Ok(true)));
    assert!(matches!(changed.keys, Ok(true)));
    assert!(store.users().get("ann").is_some());
    assert!(store.revocations().is_token_revoked("t1"));
    assert_eq!(store.keyring().current_kid(), kid);

    assert!(store.healthy());
}

#[test]
fn a_file_that_cannot_be_read_again_makes_the_store_unhealthy_until_it_can() {
    let tmp = Temp::new("unhealthy");
    let dir = tmp.data_with_cost();
    let (mut store, _) = Store::open(dir.clone()).unwrap();
    let _ = store.reload();
    assert!(store.healthy());
    assert!(store.take_notices().is_empty());
    let users = fs::read(dir.users_file()).unwrap();

    atomic_file::write(&dir.users_file(), b"ann broken\n", 0o600).unwrap();
    let broken = store.reload();
    assert!(matches!(broken.users, Err(StoreError::UsersFile(..))));
    assert!(!store.healthy());
    // What was loaded is kept, but not trusted.
    assert!(store.users().get(FIRST_USER).is_some());
    let notices = store.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].starts_with("refusing every credential: cannot read the users: "),
        "{notices:?}"
    );
    // Failing again the same way says nothing more.
    let _ = store.reload();
    assert!(store.take_notices().is_empty());

    // Two files broken: both must be read again.
    atomic_file::write(&dir.revoked_file(), b"sid nothex 1\n", 0o600).unwrap();
    let _ = store.reload();
    assert_eq!(store.take_notices().len(), 1);
    atomic_file::write(&dir.users_file(), &users, 0o600).unwrap();
    assert!(matches!(store.reload().users, Ok(true)));
    assert!(!store.healthy());
    assert_eq!(
        store.take_notices(),
        ["read the users again; still refusing credentials"]
    );
    fs::remove_file(dir.revoked_file()).unwrap();
    let _ = store.reload();
    assert!(store.healthy());
    assert_eq!(
        store.take_notices(),
        ["read the revocations again; accepting credentials again"]
    );

    // A mode change alone is noticed, and so is a keys file gone bad.
    fs::set_permissions(dir.users_file(), fs::Permissions::from_mode(0o640)).unwrap();
    assert!(matches!(store.reload().users, Err(StoreError::Users(_))));
    fs::set_permissions(dir.users_file(), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(store.reload().users, Ok(true)));
    let kid = store.keyring().current_kid().to_owned();
    atomic_file::write(&dir.keys_file(), b"k1 short\n", 0o600).unwrap();
    assert!(matches!(store.reload().keys, Err(StoreError::Keys(..))));
    assert!(!store.healthy());
    assert_eq!(store.keyring().current_kid(), kid);
}

#[test]
fn the_service_refuses_a_data_dir_others_may_enter() {
    let tmp = Temp::new("dir-perm");
    let dir = tmp.data_with_cost();
    Store::open(dir.clone()).unwrap();
    for bits in [0o755, 0o750, 0o701, 0o710] {
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(bits)).unwrap();
        let err = Store::open(dir.clone()).unwrap_err();
        assert!(
            matches!(err, StoreError::DirPermissions(_, m) if m == bits),
            "{err:?}"
        );
        let fix = format!("run: chmod 700 {}", dir.path().display());
        assert!(err.to_string().ends_with(&fix), "{err}");
    }
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    Store::open(dir).unwrap();
}

#[test]
fn is_within_resolves_links_and_dirs_not_made_yet() {
    let tmp = Temp::new("within");
    fs::create_dir_all(tmp.0.join("site/www")).unwrap();
    let site = tmp.0.join("site");
    let inside = |data: PathBuf, outer: &Path| DataDir::new(data).is_within(outer).unwrap();
    assert!(inside(site.join("data"), &site), "not created yet");
    assert!(inside(site.clone(), &site), "the same dir");
    assert!(inside(site.join("www/../data"), &site));
    assert!(!inside(tmp.0.join("data"), &site));
    assert!(!inside(site.join("../data"), &site));
    assert!(
        !inside(tmp.0.join("sitex"), &site),
        "a sibling sharing a prefix"
    );
    assert!(!inside(site.clone(), &tmp.0.join("missing")));
    std::os::unix::fs::symlink(&site, tmp.0.join("link")).unwrap();
    assert!(inside(tmp.0.join("link/data"), &site));
    assert!(inside(site.join("data"), &tmp.0.join("link")));
}

#[test]
fn writers_in_parallel_lose_no_user() {
    let tmp = Temp::new("parallel");
    let dir = tmp.data_with_cost();
    Store::open(dir.clone()).unwrap();
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                for j in 0..5 {
                    let held = dir.lock().unwrap();
                    let mut db = dir.users().unwrap();
                    db.add(&format!("u{i}-{j}"), HASH).unwrap();
                    dir.save_users(&held, &db).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(dir.users().unwrap().len(), 1 + 8 * 5);
}

#[test]
fn rehash_keeps_a_change_made_meanwhile() {
    let tmp = Temp::new("rehash");
    let dir = tmp.data_with_cost();
    let (mut store, _) = Store::open(dir.clone()).unwrap();
    let admin = store.users().get(FIRST_USER).unwrap();
    let (epoch, checked) = (admin.epoch, admin.hash.clone());
    // The CLI adds a user the store has not reloaded yet.
    let held = dir.lock().unwrap();
    let mut db = dir.users().unwrap();
    db.add("ann", HASH).unwrap();
    dir.save_users(&held, &db).unwrap();
    // While the CLI holds the lock the service does not wait long for it.
    assert!(matches!(
        store.rehash(FIRST_USER, &checked, HASH),
        Err(StoreError::Busy(_))
    ));
    drop(held);
    assert!(store.rehash(FIRST_USER, &checked, HASH).unwrap());
    let admin = store.users().get(FIRST_USER).unwrap();
    assert_eq!((admin.hash.as_str(), admin.epoch), (HASH, epoch));
    assert!(store.users().get("ann").is_some());
    assert_eq!(dir.users().unwrap(), *store.users());
}

#[test]
fn a_hash_upgrade_never_undoes_a_password_change() {
    let tmp = Temp::new("rehash-race");
    let dir = tmp.data_with_cost();
    let (mut store, _) = Store::open(dir.clone()).unwrap();
    // The login checked the password against `checked`; before its stronger hash of
    // that password is written, `user passwd` replaces the hash.
    let checked = store.users().get(FIRST_USER).unwrap().hash.clone();
    let held = dir.lock().unwrap();
    let mut db = dir.users().unwrap();
    db.rehash(FIRST_USER, HASH).unwrap();
    dir.save_users(&held, &db).unwrap();
    drop(held);
    let upgraded = password::hash(b"old password", &Policy::insecure_for_tests(1000)).unwrap();
    assert!(!store.rehash(FIRST_USER, &checked, &upgraded).unwrap());
    assert_eq!(dir.users().unwrap().get(FIRST_USER).unwrap().hash, HASH);
}

#[test]
fn the_files_a_first_run_writes_are_not_read_again_as_changes() {
    let tmp = Temp::new("first-run-stamps");
    let dir = tmp.data_with_cost();
    let (mut store, created) = Store::open(dir).unwrap();
    assert!(created.keyring && created.first_password.is_some());
    let reload = store.reload();
    assert!(matches!(reload.users, Ok(false)), "{:?}", reload.users);
    assert!(matches!(reload.keys, Ok(false)), "{:?}", reload.keys);
    assert!(matches!(reload.revocations, Ok(false)));
}

#[test]
fn debug_shows_no_secret() {
    let tmp = Temp::new("debug");
    let dir = tmp.data_with_cost();
    let (store, created) = Store::open(dir.clone()).unwrap();
    let first_password = created.first_password.clone().unwrap();
    let keys_text = fs::read_to_string(dir.keys_file()).unwrap();
    let secret = keys_text.lines().last().unwrap().split(' ').nth(1).unwrap();
    let users_text = fs::read_to_string(dir.users_file()).unwrap();
    let hash = users_text
        .lines()
        .last()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap();
    for text in [format!("{store:?}"), format!("{created:?}")] {
        for needle in [secret, hash, first_password.as_str()] {
            assert!(!text.contains(needle), "{needle} in {text}");
        }
    }
}
