//! The data directory: where every file latchkey keeps lives, with which mode, how it
//! is created and replaced, and how a running service notices that the CLI changed it.
//!
//! ```text
//! <data-dir>/            0700
//!   keys                 0600  master secrets (`keyring`; format: crate::keys::Keyring)
//!   users                0600  accounts and password hashes (users)
//!   revoked              0600  revoked sessions, tokens and users (revocation)
//!   pbkdf2-iterations    0600  the hash cost of new passwords (cost)
//!   lock                 0600  held by every writer (lock)
//!   tls/                 0700  the self-signed certificate of serve --tls (certificate)
//!     key.pem            0600  its private key, kept across reissues
//!     cert.pem           0600  the certificate, reissued when it no longer fits
//! ```
//!
//! Every file is replaced whole through [`atomic_file::write`] (temporary file, `fsync`,
//! `rename`, `fsync` of the directory), so a reader sees the old version or the new one,
//! and only by a process holding the directory's exclusive lock ([`lock::DirLock`]) for
//! the whole read-modify-write, so no change is lost. Files holding secrets or hashes
//! are refused when group or others may read them; the service also refuses a
//! directory they may enter. Every file written, and the lock file, belongs to the
//! directory's owner and group, also when root writes it (`sudo latchkey user add`
//! on the service's directory): the service must be able to read what a command
//! reports as done. Anyone else is refused before anything is read
//! ([`DataDir::check_user`]).
//!
//! Only `serve` (first run) and `user add` create a missing directory; every other
//! command refuses it ([`DataDir::require`]).
//!
//! [`DataDir`] reads and writes single files, for the commands that change one thing;
//! [`Store`] holds everything the service runs on and reloads what changed on disk. A
//! file the service cannot read again makes it refuse every credential until it can
//! ([`Store::healthy`]): what it loaded before may hold a deleted user or lack a
//! revocation.

pub(crate) mod atomic_file;
#[cfg(feature = "tls")]
pub(crate) mod certificate;
pub(crate) mod cost;
pub(crate) mod keyring;
pub(crate) mod lock;
pub(crate) mod revocation;
pub(crate) mod users;

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::keys::{KeyError, Keyring};
use crate::password::{self, Calibration, PasswordError, Policy};
use crate::random::RandomError;
use lock::DirLock;
use revocation::{RevocationError, RevocationStore};
use users::{UserDb, UsersError};

/// Name of the user the first run creates.
pub(crate) const FIRST_USER: &str = "admin";

/// Length of the first-run admin password, in base64url characters (144 bits).
const FIRST_PASSWORD_LEN: usize = 24;

/// Longest the service waits for the data directory's lock: it waits on its event
/// loop, and a command holds the lock only to read, change and write a file or two.
const SERVICE_LOCK_WAIT: Duration = Duration::from_millis(50);

/// Why a file of the data directory could not be read, created or written.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum StoreError {
    /// Creating, reading or writing a file or the directory failed.
    Io(PathBuf, io::Error),
    /// A file the command needs does not exist.
    Missing(PathBuf),
    /// The data directory does not exist.
    NoDataDir(PathBuf),
    /// The data directory belongs to another user (named), and this process is not
    /// root.
    NotOwner(PathBuf, String),
    /// A file holding secrets can be read by group or others; holds its mode.
    Permissions(PathBuf, u32),
    /// Group or others may enter the data directory; holds its mode.
    DirPermissions(PathBuf, u32),
    /// Another process held the data directory's lock longer than the service waits.
    Busy(PathBuf),
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
    /// A file of the self-signed certificate's directory is not what latchkey writes
    /// there; it is left as it is.
    #[cfg(feature = "tls")]
    TlsFile(PathBuf, certificate::PemError),
    /// A name asked for in the self-signed certificate is neither a DNS name nor an
    /// IP address.
    #[cfg(feature = "tls")]
    TlsName(String),
    /// ring could not make a key or a signature.
    #[cfg(feature = "tls")]
    TlsCrypto,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            StoreError::Missing(p) => write!(f, "{}: no such file", p.display()),
            StoreError::NoDataDir(p) => write!(f, "no data dir at {}", p.display()),
            StoreError::NotOwner(p, owner) => write!(
                f,
                "the data dir {} belongs to {owner}: run the command as that user, \
                 e.g. sudo -u {owner} latchkey ...",
                p.display()
            ),
            StoreError::Permissions(p, mode) => write!(
                f,
                "{}: mode {mode:03o} lets others read the secret; run: chmod 600 {}",
                p.display(),
                p.display()
            ),
            StoreError::DirPermissions(p, mode) => write!(
                f,
                "{}: mode {mode:03o} lets others into the data dir; run: chmod 700 {}",
                p.display(),
                p.display()
            ),
            StoreError::Busy(p) => write!(f, "{}: locked by another process", p.display()),
            StoreError::Keys(p, e) => write!(f, "{}: {e}", p.display()),
            StoreError::BadCost(p) => write!(f, "{}: not a number", p.display()),
            StoreError::Users(e) => e.fmt(f),
            StoreError::UsersFile(p, e) => write!(f, "{}: {e}", p.display()),
            StoreError::Revocations(e) => e.fmt(f),
            StoreError::Password(e) => e.fmt(f),
            StoreError::Random(e) => e.fmt(f),
            #[cfg(feature = "tls")]
            StoreError::TlsFile(p, e) => write!(
                f,
                "{}: {e}; move it away to have latchkey make a new one",
                p.display()
            ),
            #[cfg(feature = "tls")]
            StoreError::TlsName(name) => {
                write!(
                    f,
                    "{name:?}: not a DNS name or IP address for the certificate"
                )
            }
            #[cfg(feature = "tls")]
            StoreError::TlsCrypto => f.write_str("could not make a TLS key or signature"),
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
            #[cfg(feature = "tls")]
            StoreError::TlsFile(_, e) => Some(e),
            #[cfg(feature = "tls")]
            StoreError::TlsName(_) | StoreError::TlsCrypto => None,
            StoreError::Missing(_)
            | StoreError::NoDataDir(_)
            | StoreError::NotOwner(..)
            | StoreError::Permissions(..)
            | StoreError::DirPermissions(..)
            | StoreError::Busy(_)
            | StoreError::BadCost(_) => None,
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
pub(crate) struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// The data directory at `path`; nothing is read or created yet.
    pub(crate) fn new(path: impl Into<PathBuf>) -> DataDir {
        DataDir { path: path.into() }
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The keys file.
    pub(crate) fn keys_file(&self) -> PathBuf {
        self.path.join(keyring::KEYS_FILE)
    }

    /// The users file.
    pub(crate) fn users_file(&self) -> PathBuf {
        self.path.join(users::USERS_FILE)
    }

    #[cfg(test)]
    /// The revocations file.
    pub(crate) fn revoked_file(&self) -> PathBuf {
        self.path.join(revocation::REVOKED_FILE)
    }

    /// The hash cost file.
    pub(crate) fn cost_file(&self) -> PathBuf {
        self.path.join(cost::COST_FILE)
    }

    /// Creates the directory, and any missing parent, with mode 0700; an existing one
    /// is left as it is. True when it was created.
    pub(crate) fn create(&self) -> Result<bool, StoreError> {
        match fs::metadata(&self.path) {
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::Io(self.path.clone(), e)),
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(|e| StoreError::Io(self.path.clone(), e))?;
        Ok(true)
    }

    /// The directory as it must be for every command but `serve` and `user add`:
    /// there ([`StoreError::NoDataDir`]), and this process its owner or root
    /// ([`DataDir::check_user`]).
    pub(crate) fn require(&self) -> Result<(), StoreError> {
        match fs::metadata(&self.path) {
            Ok(_) => self.check_user(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NoDataDir(self.path.clone()))
            }
            Err(e) => Err(StoreError::Io(self.path.clone(), e)),
        }
    }

    /// Refuses a process that is neither root nor the directory's owner: it could not
    /// read the files, and a file it wrote would not be the service's. Root writes
    /// files that it gives to the owner (see [`atomic_file::write`]).
    pub(crate) fn check_user(&self) -> Result<(), StoreError> {
        let meta = fs::metadata(&self.path).map_err(|e| StoreError::Io(self.path.clone(), e))?;
        match effective_uid() {
            Some(uid) if uid != 0 && uid != meta.uid() => Err(StoreError::NotOwner(
                self.path.clone(),
                user_name(meta.uid()),
            )),
            // Unknown (no /proc): the system answers each access.
            _ => Ok(()),
        }
    }

    /// Takes the directory's exclusive lock, waiting while another process holds it,
    /// and deletes what interrupted writers left behind. The directory must exist.
    /// Read what you change after taking it.
    pub(crate) fn lock(&self) -> Result<DirLock, StoreError> {
        // Named here, so a mistyped path reads as a missing directory, not lock file.
        fs::metadata(&self.path).map_err(|e| StoreError::Io(self.path.clone(), e))?;
        lock::exclusive(&self.path).map_err(|e| self.lock_error(e))
    }

    /// The lock as the service takes it: waiting at most [`SERVICE_LOCK_WAIT`], then
    /// [`StoreError::Busy`].
    fn lock_briefly(&self) -> Result<DirLock, StoreError> {
        lock::try_exclusive(&self.path, SERVICE_LOCK_WAIT)
            .map_err(|e| self.lock_error(e))?
            .ok_or_else(|| StoreError::Busy(self.path.join(lock::LOCK_FILE)))
    }

    fn lock_error(&self, e: io::Error) -> StoreError {
        StoreError::Io(self.path.join(lock::LOCK_FILE), e)
    }

    /// Refuses the directory when group or others may enter it: the service keeps its
    /// secrets there.
    pub(crate) fn check_private(&self) -> Result<(), StoreError> {
        let meta = fs::metadata(&self.path).map_err(|e| StoreError::Io(self.path.clone(), e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::DirPermissions(self.path.clone(), mode));
        }
        Ok(())
    }

    /// Whether the directory is `outer` or lies inside it, symbolic links resolved; a
    /// data directory not created yet is judged by where it would be created. An
    /// `outer` that does not exist holds nothing.
    pub(crate) fn is_within(&self, outer: &Path) -> Result<bool, StoreError> {
        let outer = match fs::canonicalize(outer) {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::Io(outer.to_owned(), e)),
        };
        let inner = resolve(&self.path).map_err(|e| StoreError::Io(self.path.clone(), e))?;
        Ok(inner.starts_with(outer))
    }

    /// The users file, which must exist.
    pub(crate) fn users(&self) -> Result<UserDb, StoreError> {
        let path = self.users_file();
        UserDb::load(&path).map_err(|e| match e {
            e @ (UsersError::Malformed { .. } | UsersError::Duplicate { .. }) => {
                StoreError::UsersFile(path, e)
            }
            e => StoreError::Users(e),
        })
    }

    /// The users file, or no users when there is none.
    pub(crate) fn users_or_empty(&self) -> Result<UserDb, StoreError> {
        match self.users() {
            Err(StoreError::Users(UsersError::Missing(_))) => Ok(UserDb::new()),
            other => other,
        }
    }

    /// Replaces the users file with `db` (mode 0600), under the directory's lock.
    pub(crate) fn save_users(&self, held: &DirLock, db: &UserDb) -> Result<(), StoreError> {
        Ok(db.save(&self.users_file(), held)?)
    }

    /// The revocations; no file means nothing is revoked.
    pub(crate) fn revocations(&self) -> Result<RevocationStore, StoreError> {
        Ok(RevocationStore::load(&self.path)?)
    }

    /// The keyring, which must exist.
    pub(crate) fn keyring(&self) -> Result<Keyring, StoreError> {
        keyring::load(&self.keys_file())
    }

    /// Adds a fresh current key to the keyring, keeping `keep` keys in all (see
    /// [`Keyring::rotated_keeping`]), and returns its id. The directory must exist: a
    /// mistyped path must not quietly get a keyring of its own while the real one
    /// goes on signing with the key the admin meant to retire. A missing keys file
    /// gets its first key.
    pub(crate) fn rotate_key(&self, keep: usize) -> Result<String, StoreError> {
        let held = self.lock()?;
        let path = self.keys_file();
        let ring = match keyring::load(&path) {
            Ok(ring) => ring.rotated_keeping(keep),
            Err(StoreError::Missing(_)) => Keyring::generate(),
            Err(e) => return Err(e),
        }
        .map_err(|e| StoreError::Keys(path.clone(), e))?;
        keyring::save(&path, &ring, &held)?;
        Ok(ring.current_kid().to_owned())
    }

    /// Removes the older key `kid` from the keyring: what it signed stops verifying.
    pub(crate) fn drop_key(&self, kid: &str) -> Result<(), StoreError> {
        let held = self.lock()?;
        let path = self.keys_file();
        let ring = keyring::load(&path)?
            .without(kid)
            .map_err(|e| StoreError::Keys(path.clone(), e))?;
        keyring::save(&path, &ring, &held)
    }

    /// The hash cost of new passwords. When none is stored, it is measured on this
    /// machine for [`password::DEFAULT_TARGET`] and stored, and the measurement is
    /// returned too.
    pub(crate) fn hash_policy(&self) -> Result<(Policy, Option<Calibration>), StoreError> {
        match cost::load(&self.cost_file())? {
            Some(policy) => Ok((policy, None)),
            None => {
                let (policy, cal) = self.calibrate(password::DEFAULT_TARGET)?;
                Ok((policy, Some(cal)))
            }
        }
    }

    /// Measures this machine for `target` per hash and stores the cost; the directory
    /// must exist. The lock is taken only to store it.
    pub(crate) fn calibrate(&self, target: Duration) -> Result<(Policy, Calibration), StoreError> {
        let cal = password::calibrate(target);
        let policy = Policy::new(cal.iterations)?;
        cost::save(&self.cost_file(), cal.iterations, &self.lock()?)?;
        Ok((policy, cal))
    }
}

/// The effective user id of this process, from `/proc/self/status` (`Uid:` real,
/// effective, saved, filesystem), as `proc(5)` documents it; `None` without `/proc`.
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The name `/etc/passwd` gives user `uid`, or `#uid` (as `sudo -u` takes it).
fn user_name(uid: u32) -> String {
    let uid_text = uid.to_string();
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid_text).then(|| name.to_owned())
            })
        })
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .unwrap_or_else(|| format!("#{uid}"))
}

/// `path` made absolute with symbolic links resolved, as far as it exists; the
/// components that do not exist yet are appended as written, `..` taking one away.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let parts: Vec<Component<'_>> = absolute.components().collect();
    for existing in (1..=parts.len()).rev() {
        let head: PathBuf = parts[..existing].iter().collect();
        match fs::canonicalize(&head) {
            Ok(mut real) => {
                for part in &parts[existing..] {
                    match part {
                        Component::ParentDir => {
                            real.pop();
                        }
                        Component::Normal(name) => real.push(name),
                        _ => {}
                    }
                }
                return Ok(real);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(absolute)
}

/// What [`Store::open`] had to create because this was the first run.
#[derive(Default)]
pub(crate) struct Created {
    /// The data directory itself did not exist.
    pub dir: bool,
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
            .field("dir", &self.dir)
            .field("keyring", &self.keyring)
            .field("calibration", &self.calibration)
            .field("first_user", &self.first_password.is_some())
            .finish()
    }
}

/// Identity of one version of a file: every write renames a new inode into place, so
/// a change shows in the device, inode, size or modification time; a new mode or
/// owner shows in the status change time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
}

impl FileStamp {
    pub(crate) fn of(meta: &fs::Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
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
/// could not be read. After an error the store is not [`healthy`](Store::healthy)
/// until the file is read again.
#[derive(Debug)]
#[must_use]
pub(crate) struct Reload {
    /// The users file.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the service acts on the keys alone")
    )]
    pub(crate) users: Result<bool, StoreError>,
    /// The revocations file.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the service acts on the keys alone")
    )]
    pub(crate) revocations: Result<bool, StoreError>,
    /// The keys file.
    pub(crate) keys: Result<bool, StoreError>,
}

/// The files the service reloads; each one it cannot read makes it refuse every
/// credential.
#[derive(Debug, Clone, Copy)]
enum Watched {
    Users = 0,
    Revocations = 1,
    Keys = 2,
}

impl Watched {
    fn name(self) -> &'static str {
        match self {
            Watched::Users => "users",
            Watched::Revocations => "revocations",
            Watched::Keys => "keys",
        }
    }
}

/// Everything the service runs on, loaded from one data directory and kept in step
/// with it.
#[derive(Debug)]
pub(crate) struct Store {
    dir: DataDir,
    keyring: Keyring,
    // The version of the file each field reflects; a version read before the field was
    // loaded, so a change made in between is read again rather than missed.
    keys_seen: Option<FileStamp>,
    users: UserDb,
    users_seen: Option<FileStamp>,
    revoked: RevocationStore,
    policy: Policy,
    /// Per [`Watched`] file, why its last read failed: while any is set the store is
    /// not healthy.
    failures: [Option<String>; 3],
    /// Lines for the log, one per change of `failures`.
    notices: Vec<String>,
}

impl Store {
    /// Loads the data directory, first creating what is missing: the directory (0700),
    /// a keyring with a fresh master secret, the hash cost measured on this machine,
    /// and, when there is no users file, a user [`FIRST_USER`] with a random password
    /// (returned in [`Created`], to be shown once). A directory group or others may
    /// enter is refused ([`StoreError::DirPermissions`]).
    pub(crate) fn open(dir: DataDir) -> Result<(Store, Created), StoreError> {
        let mut created = Created {
            dir: dir.create()?,
            ..Created::default()
        };
        dir.check_private()?;
        let (policy, calibration) = dir.hash_policy()?;
        created.calibration = calibration;
        let held = dir.lock()?;
        let keys_path = dir.keys_file();
        // Each stamp is taken before its file is read (a change in between is read
        // again at the next reload), and again after a first run writes the file, so
        // that write is not taken for a change.
        let mut keys_seen = stamp(&keys_path)?;
        let keyring = match keyring::load(&keys_path) {
            Err(StoreError::Missing(_)) => {
                let ring =
                    Keyring::generate().map_err(|e| StoreError::Keys(keys_path.clone(), e))?;
                keyring::save(&keys_path, &ring, &held)?;
                keys_seen = stamp(&keys_path)?;
                created.keyring = true;
                ring
            }
            other => other?,
        };
        let mut users_seen = stamp(&dir.users_file())?;
        let users = match dir.users() {
            Err(StoreError::Users(UsersError::Missing(_))) => {
                let (db, password) = first_user(&policy)?;
                dir.save_users(&held, &db)?;
                users_seen = stamp(&dir.users_file())?;
                created.first_password = Some(password);
                db
            }
            other => other?,
        };
        let revoked = dir.revocations()?;
        drop(held);
        let store = Store {
            dir,
            keyring,
            keys_seen,
            users,
            users_seen,
            revoked,
            policy,
            failures: Default::default(),
            notices: Vec::new(),
        };
        Ok((store, created))
    }

    /// The data directory.
    pub(crate) fn dir(&self) -> &DataDir {
        &self.dir
    }

    /// The keyring as last loaded.
    pub(crate) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The users as last loaded.
    pub(crate) fn users(&self) -> &UserDb {
        &self.users
    }

    /// The revocations as last loaded or changed.
    pub(crate) fn revocations(&self) -> &RevocationStore {
        &self.revoked
    }

    /// The hash cost of new passwords.
    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    /// Whether the last read of the users, the revocations and the keys each
    /// succeeded. When one failed, what was loaded before may still hold a deleted
    /// user, lack a revocation or keep a retired key: the service must then refuse
    /// every credential until a reload succeeds.
    pub(crate) fn healthy(&self) -> bool {
        self.failures.iter().all(Option::is_none)
    }

    /// Lines for the log since the last call, one per change of health: a file that
    /// could not be read (and why), or that was read again.
    pub(crate) fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Reads again every file that changed on disk since it was loaded (one `stat`
    /// each when nothing changed).
    pub(crate) fn reload(&mut self) -> Reload {
        // Under the shared lock when writers let go of it soon, so that a command
        // changing two files is seen whole; without it when one keeps it longer,
        // since each file is replaced whole and changes must not wait on a writer.
        let _shared = lock::try_shared(&self.dir.path, SERVICE_LOCK_WAIT);
        Reload {
            users: self.reload_users(),
            revocations: self.reload_revocations(),
            keys: self.reload_keyring(),
        }
    }

    /// Reads the users file again if it changed since it was loaded; on error the
    /// store is not healthy until it is read.
    pub(crate) fn reload_users(&mut self) -> Result<bool, StoreError> {
        let result = self.read_users_if_changed();
        self.record(Watched::Users, &result);
        result
    }

    /// Reads the revocations file again if it changed since it was loaded; on error
    /// the store is not healthy until it is read.
    pub(crate) fn reload_revocations(&mut self) -> Result<bool, StoreError> {
        let result = self.revoked.reload_if_changed().map_err(StoreError::from);
        self.record(Watched::Revocations, &result);
        result
    }

    /// Reads the keys file again if it changed since it was loaded; on error the store
    /// is not healthy until it is read.
    pub(crate) fn reload_keyring(&mut self) -> Result<bool, StoreError> {
        let result = self.read_keyring_if_changed();
        self.record(Watched::Keys, &result);
        result
    }

    fn read_users_if_changed(&mut self) -> Result<bool, StoreError> {
        let seen = stamp(&self.dir.users_file())?;
        if seen == self.users_seen {
            return Ok(false);
        }
        self.users = self.dir.users()?;
        self.users_seen = seen;
        Ok(true)
    }

    fn read_keyring_if_changed(&mut self) -> Result<bool, StoreError> {
        let path = self.dir.keys_file();
        let seen = stamp(&path)?;
        if seen == self.keys_seen {
            return Ok(false);
        }
        self.keyring = keyring::load(&path)?;
        self.keys_seen = seen;
        Ok(true)
    }

    /// Notes how a read of `file` went, with a notice when that changes its health.
    fn record(&mut self, file: Watched, result: &Result<bool, StoreError>) {
        let slot = file as usize;
        match result {
            Err(e) => {
                let why = e.to_string();
                if self.failures[slot].as_deref() != Some(why.as_str()) {
                    self.notices.push(format!(
                        "refusing every credential: cannot read the {}: {why}",
                        file.name()
                    ));
                    self.failures[slot] = Some(why);
                }
            }
            Ok(_) => {
                if self.failures[slot].take().is_some() {
                    let state = if self.healthy() {
                        "accepting credentials again"
                    } else {
                        "still refusing credentials"
                    };
                    self.notices
                        .push(format!("read the {} again; {state}", file.name()));
                }
            }
        }
    }

    /// Revokes session `sid` until `expires` (see [`RevocationStore::revoke_session`]).
    /// The lock is waited for briefly: [`StoreError::Busy`] when another process
    /// keeps it.
    pub(crate) fn revoke_session(
        &mut self,
        sid: [u8; 16],
        expires: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let held = self.dir.lock_briefly()?;
        Ok(self.revoked.revoke_session(&held, sid, expires, now)?)
    }

    /// Drops revocations forgotten before `now` (see [`RevocationStore::prune`]).
    /// The lock is waited for briefly: [`StoreError::Busy`] when another process
    /// keeps it.
    pub(crate) fn prune(&mut self, now: u64) -> Result<usize, StoreError> {
        let held = self.dir.lock_briefly()?;
        Ok(self.revoked.prune(&held, now)?)
    }

    /// Replaces the password hash of `user` without ending their sessions (see
    /// [`UserDb::rehash`]). The file is read again under the lock first, so a change
    /// the CLI made meanwhile is kept. The lock is waited for briefly:
    /// [`StoreError::Busy`] when another process keeps it.
    ///
    /// `replaces` is the hash the password was checked against: when the user's hash
    /// is another one by now (`user passwd` landed meanwhile), nothing is written and
    /// the answer is `Ok(false)`, so an upgrade never brings an old password back.
    pub(crate) fn rehash(
        &mut self,
        user: &str,
        replaces: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let held = self.dir.lock_briefly()?;
        let mut db = self.dir.users()?;
        if db.get(user).is_none_or(|u| u.hash != replaces) {
            return Ok(false);
        }
        db.rehash(user, hash)?;
        self.dir.save_users(&held, &db)?;
        // The stamp stays the one of the version read before: the next reload reads
        // this write back, and cannot mistake a later change for it.
        self.users = db;
        Ok(true)
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
mod atomic_write_tests;
#[cfg(test)]
mod revocation_tests;
#[cfg(test)]
mod tests;
