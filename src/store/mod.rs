//! The data directory: where every file latchkey keeps lives, with which mode, how it
//! is created and replaced, and how a running service notices that the CLI changed it.
//!
//! ```text
//! <data-dir>/            0700
//!   keys                 0600  master secrets (`keyring`; format: crate::keys::Keyring)
//!   users                0600  accounts and password hashes (users)
//!   revoked              0600  revoked sessions, tokens and users (revocation)
//!   revoked.lock         0600  serialises changes to `revoked`
//!   pbkdf2-iterations    0600  the hash cost of new passwords (cost)
//! ```
//!
//! Every file is replaced whole through [`atomic_file::write`] (temporary file, `fsync`,
//! `rename`, `fsync` of the directory), so a reader sees the old version or the new one.
//! Files holding secrets or hashes are refused when group or others may read them.
//!
//! [`DataDir`] reads and writes single files, for the commands that change one thing;
//! [`Store`] holds everything the service runs on and reloads what changed on disk.

pub mod atomic_file;
pub mod cost;
pub mod keyring;
pub mod revocation;
pub mod users;

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::keys::{KeyError, Keyring};
use crate::password::{self, Calibration, PasswordError, Policy};
use crate::random::RandomError;
use revocation::{RevocationError, RevocationStore};
use users::{UserDb, UsersError};

/// Name of the user the first run creates.
pub const FIRST_USER: &str = "admin";

/// Length of the first-run admin password, in base64url characters (144 bits).
const FIRST_PASSWORD_LEN: usize = 24;

/// Why a file of the data directory could not be read, created or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// Creating, reading or writing a file or the directory failed.
    Io(PathBuf, io::Error),
    /// A file the command needs does not exist.
    Missing(PathBuf),
    /// A file holding secrets can be read by group or others; holds its mode.
    Permissions(PathBuf, u32),
    /// The keys file is not a usable keyring.
    Keys(PathBuf, KeyError),
    /// The hash cost file does not hold a whole number.
    BadCost(PathBuf),
    /// The users file could not be read or written.
    Users(UsersError),
    /// A line of the users file is malformed or repeats a user.
    UsersFile(PathBuf, UsersError),
    /// The revocations could not be read or written.
    Revocations(RevocationError),
    /// The stored hash cost is out of range, or a password could not be hashed.
    Password(PasswordError),
    /// The operating system gave no random bytes for a first password.
    Random(RandomError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            StoreError::Missing(p) => write!(f, "{}: no such file", p.display()),
            StoreError::Permissions(p, mode) => write!(
                f,
                "{}: mode {mode:03o} lets others read the secret; run: chmod 600 {}",
                p.display(),
                p.display()
            ),
            StoreError::Keys(p, e) => write!(f, "{}: {e}", p.display()),
            StoreError::BadCost(p) => write!(f, "{}: not a number", p.display()),
            StoreError::Users(e) => e.fmt(f),
            StoreError::UsersFile(p, e) => write!(f, "{}: {e}", p.display()),
            StoreError::Revocations(e) => e.fmt(f),
            StoreError::Password(e) => e.fmt(f),
            StoreError::Random(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io(_, e) => Some(e),
            StoreError::Keys(_, e) => Some(e),
            StoreError::Users(e) | StoreError::UsersFile(_, e) => Some(e),
            StoreError::Revocations(e) => Some(e),
            StoreError::Password(e) => Some(e),
            StoreError::Random(e) => Some(e),
            StoreError::Missing(_) | StoreError::Permissions(..) | StoreError::BadCost(_) => None,
        }
    }
}

impl From<UsersError> for StoreError {
    fn from(e: UsersError) -> Self {
        StoreError::Users(e)
    }
}
impl From<RevocationError> for StoreError {
    fn from(e: RevocationError) -> Self {
        StoreError::Revocations(e)
    }
}
impl From<PasswordError> for StoreError {
    fn from(e: PasswordError) -> Self {
        StoreError::Password(e)
    }
}
impl From<RandomError> for StoreError {
    fn from(e: RandomError) -> Self {
        StoreError::Random(e)
    }
}

/// One data directory: the paths of its files, and reading or writing each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// The data directory at `path`; nothing is read or created yet.
    pub fn new(path: impl Into<PathBuf>) -> DataDir {
        DataDir { path: path.into() }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys file.
    pub fn keys_file(&self) -> PathBuf {
        self.path.join(keyring::KEYS_FILE)
    }

    /// The users file.
    pub fn users_file(&self) -> PathBuf {
        self.path.join(users::USERS_FILE)
    }

    /// The revocations file.
    pub fn revoked_file(&self) -> PathBuf {
        self.path.join(revocation::REVOKED_FILE)
    }

    /// The hash cost file.
    pub fn cost_file(&self) -> PathBuf {
        self.path.join(cost::COST_FILE)
    }

    /// Creates the directory, and any missing parent, with mode 0700; an existing one
    /// is left as it is.
    pub fn create(&self) -> Result<(), StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(|e| StoreError::Io(self.path.clone(), e))
    }

    /// The users file, which must exist.
    pub fn users(&self) -> Result<UserDb, StoreError> {
        let path = self.users_file();
        UserDb::load(&path).map_err(|e| match e {
            e @ (UsersError::Malformed { .. } | UsersError::Duplicate { .. }) => {
                StoreError::UsersFile(path, e)
            }
            e => StoreError::Users(e),
        })
    }

    /// The users file, or no users when there is none.
    pub fn users_or_empty(&self) -> Result<UserDb, StoreError> {
        match self.users() {
            Err(StoreError::Users(UsersError::Missing(_))) => Ok(UserDb::new()),
            other => other,
        }
    }

    /// Replaces the users file with `db` (mode 0600), creating the directory first.
    pub fn save_users(&self, db: &UserDb) -> Result<(), StoreError> {
        self.create()?;
        Ok(db.save(&self.users_file())?)
    }

    /// The revocations; no file means nothing is revoked.
    pub fn revocations(&self) -> Result<RevocationStore, StoreError> {
        Ok(RevocationStore::load(&self.path)?)
    }

    /// The keyring, which must exist.
    pub fn keyring(&self) -> Result<Keyring, StoreError> {
        keyring::load(&self.keys_file())
    }

    /// Adds a fresh current key to the keyring (keeping the newest older ones, see
    /// [`Keyring::rotated`]) and returns its id. The directory must exist: a mistyped
    /// path must not quietly get a keyring of its own while the real one goes on
    /// signing with the key the admin meant to retire. A missing keys file gets its
    /// first key.
    pub fn rotate_key(&self) -> Result<String, StoreError> {
        fs::metadata(&self.path).map_err(|e| StoreError::Io(self.path.clone(), e))?;
        let path = self.keys_file();
        let ring = match keyring::load(&path) {
            Ok(ring) => ring.rotated(),
            Err(StoreError::Missing(_)) => Keyring::generate(),
            Err(e) => return Err(e),
        }
        .map_err(|e| StoreError::Keys(path.clone(), e))?;
        keyring::save(&path, &ring)?;
        Ok(ring.current_kid().to_owned())
    }

    /// The hash cost of new passwords. When none is stored, it is measured on this
    /// machine for [`password::DEFAULT_TARGET`] and stored, and the measurement is
    /// returned too.
    pub fn hash_policy(&self) -> Result<(Policy, Option<Calibration>), StoreError> {
        match cost::load(&self.cost_file())? {
            Some(policy) => Ok((policy, None)),
            None => {
                let (policy, cal) = self.calibrate(password::DEFAULT_TARGET)?;
                Ok((policy, Some(cal)))
            }
        }
    }

    /// Measures this machine for `target` per hash and stores the cost, creating the
    /// directory first.
    pub fn calibrate(&self, target: Duration) -> Result<(Policy, Calibration), StoreError> {
        self.create()?;
        let cal = password::calibrate(target);
        cost::save(&self.cost_file(), cal.iterations)?;
        Ok((Policy::new(cal.iterations)?, cal))
    }
}

/// What [`Store::open`] had to create because this was the first run.
#[derive(Default)]
pub struct Created {
    /// A keys file with a fresh master secret was written.
    pub keyring: bool,
    /// The hash cost measured on this machine and stored, when none was.
    pub calibration: Option<Calibration>,
    /// The password of the [`FIRST_USER`] created because there was no users file. It
    /// is stored nowhere in clear: show it once.
    pub first_password: Option<String>,
}

impl fmt::Debug for Created {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Created")
            .field("keyring", &self.keyring)
            .field("calibration", &self.calibration)
            .field("first_user", &self.first_password.is_some())
            .finish()
    }
}

/// Identity of one version of a file: every write renames a new inode into place, so
/// a change shows in the device, inode, size or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileStamp {
    pub(crate) fn of(meta: &fs::Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }

    /// The stamp of the file at `path`, `None` when there is none.
    pub(crate) fn at(path: &Path) -> Result<Option<FileStamp>, io::Error> {
        match fs::metadata(path) {
            Ok(meta) => Ok(Some(FileStamp::of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What one [`Store::reload`] did per file: `Ok(true)` when the file had changed and
/// was read again, `Ok(false)` when it had not changed, an error when it changed but
/// could not be read (what was loaded before stays in force).
#[derive(Debug)]
#[must_use]
pub struct Reload {
    /// The users file.
    pub users: Result<bool, StoreError>,
    /// The revocations file.
    pub revocations: Result<bool, StoreError>,
    /// The keys file.
    pub keys: Result<bool, StoreError>,
}

/// Everything the service runs on, loaded from one data directory and kept in step
/// with it.
#[derive(Debug)]
pub struct Store {
    dir: DataDir,
    keyring: Keyring,
    // The version of the file each field reflects; a version read before the field was
    // loaded, so a change made in between is read again rather than missed.
    keys_seen: Option<FileStamp>,
    users: UserDb,
    users_seen: Option<FileStamp>,
    revoked: RevocationStore,
    policy: Policy,
}

impl Store {
    /// Loads the data directory, first creating what is missing: the directory (0700),
    /// a keyring with a fresh master secret, the hash cost measured on this machine,
    /// and, when there is no users file, a user [`FIRST_USER`] with a random password
    /// (returned in [`Created`], to be shown once).
    pub fn open(dir: DataDir) -> Result<(Store, Created), StoreError> {
        let mut created = Created::default();
        dir.create()?;
        let keys_path = dir.keys_file();
        let keys_seen = stamp(&keys_path)?;
        let keyring = match keyring::load(&keys_path) {
            Err(StoreError::Missing(_)) => {
                let ring =
                    Keyring::generate().map_err(|e| StoreError::Keys(keys_path.clone(), e))?;
                keyring::save(&keys_path, &ring)?;
                created.keyring = true;
                ring
            }
            other => other?,
        };
        let (policy, calibration) = dir.hash_policy()?;
        created.calibration = calibration;
        let users_seen = stamp(&dir.users_file())?;
        let users = match dir.users() {
            Err(StoreError::Users(UsersError::Missing(_))) => {
                let (db, password) = first_user(&policy)?;
                dir.save_users(&db)?;
                created.first_password = Some(password);
                db
            }
            other => other?,
        };
        let revoked = dir.revocations()?;
        let store = Store {
            dir,
            keyring,
            keys_seen,
            users,
            users_seen,
            revoked,
            policy,
        };
        Ok((store, created))
    }

    /// The data directory.
    pub fn dir(&self) -> &DataDir {
        &self.dir
    }

    /// The keyring as last loaded.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The users as last loaded.
    pub fn users(&self) -> &UserDb {
        &self.users
    }

    /// The revocations as last loaded or changed.
    pub fn revocations(&self) -> &RevocationStore {
        &self.revoked
    }

    /// The revocations, to revoke or prune (each change is written through).
    pub fn revocations_mut(&mut self) -> &mut RevocationStore {
        &mut self.revoked
    }

    /// The hash cost of new passwords.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Reads again every file that changed on disk since it was loaded (one `stat`
    /// each when nothing changed).
    pub fn reload(&mut self) -> Reload {
        Reload {
            users: self.reload_users(),
            revocations: self.revoked.reload_if_changed().map_err(StoreError::from),
            keys: self.reload_keyring(),
        }
    }

    /// Reads the users file again if it changed since it was loaded; on error the
    /// users loaded before stay.
    pub fn reload_users(&mut self) -> Result<bool, StoreError> {
        let seen = stamp(&self.dir.users_file())?;
        if seen == self.users_seen {
            return Ok(false);
        }
        self.users = self.dir.users()?;
        self.users_seen = seen;
        Ok(true)
    }

    /// Reads the keys file again if it changed since it was loaded; on error the keys
    /// loaded before stay.
    pub fn reload_keyring(&mut self) -> Result<bool, StoreError> {
        let path = self.dir.keys_file();
        let seen = stamp(&path)?;
        if seen == self.keys_seen {
            return Ok(false);
        }
        self.keyring = keyring::load(&path)?;
        self.keys_seen = seen;
        Ok(true)
    }

    /// Replaces the password hash of `user` without ending their sessions (see
    /// [`UserDb::rehash`]). The file is read again first, so a change the CLI made
    /// meanwhile is kept.
    pub fn rehash(&mut self, user: &str, hash: &str) -> Result<(), StoreError> {
        let mut db = self.dir.users()?;
        db.rehash(user, hash)?;
        self.dir.save_users(&db)?;
        // The stamp stays the one of the version read before: the next reload reads
        // this write back, and cannot mistake a later change for it.
        self.users = db;
        Ok(())
    }
}

fn stamp(path: &Path) -> Result<Option<FileStamp>, StoreError> {
    FileStamp::at(path).map_err(|e| StoreError::Io(path.to_owned(), e))
}

/// A users database of one [`FIRST_USER`] with a fresh random password, and the password.
fn first_user(policy: &Policy) -> Result<(UserDb, String), StoreError> {
    use base64::Engine;
    let raw: [u8; FIRST_PASSWORD_LEN * 3 / 4] = crate::random::array()?;
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let mut db = UserDb::new();
    db.add(FIRST_USER, &password::hash(password.as_bytes(), policy)?)?;
    Ok((db, password))
}

#[cfg(test)]
mod tests;
