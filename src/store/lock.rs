//! The data directory's lock: `<data-dir>/lock` ([`LOCK_FILE`]), an advisory
//! `flock(2)` lock that serialises every change to the directory's files.
//!
//! A writer holds the exclusive lock for its whole read-modify-write: it re-reads what
//! it changes under the lock, so no other writer's change is lost, and it may delete
//! temporary files an interrupted writer left behind, since none can be in use. Every
//! function that writes a file of the data directory takes a [`DirLock`] to prove the
//! lock is held. The kernel releases the lock when its holder exits, killed or not.
//!
//! The service's reload reads under the shared lock when it can get it quickly, so a
//! command changing two files (`user passwd`: users, then revocations) is seen whole.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::atomic_file;
use super::{cost, keyring, revocation, users};

/// Name of the lock file inside the data directory.
pub(crate) const LOCK_FILE: &str = "lock";

/// Every file of the data directory that is written through [`atomic_file::write`].
const WRITTEN: [&str; 4] = [
    keyring::KEYS_FILE,
    users::USERS_FILE,
    revocation::REVOKED_FILE,
    cost::COST_FILE,
];

/// The exclusive lock of a data directory, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// The shared lock of a data directory, held until dropped.
#[derive(Debug)]
pub(crate) struct SharedLock {
    _file: File,
}

fn open(dir: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(LOCK_FILE))
}

/// Takes the exclusive lock of the existing directory `dir`, waiting as long as
/// another process holds it, then deletes stale temporary files.
pub(crate) fn exclusive(dir: &Path) -> io::Result<DirLock> {
    let file = open(dir, true)?;
    file.lock()?;
    atomic_file::remove_stale(dir, &WRITTEN)?;
    Ok(DirLock { _file: file })
}

/// Takes the exclusive lock of `dir` if it comes free within `wait`, as
/// [`exclusive`] does; `None` when another process held it all along.
pub(crate) fn try_exclusive(dir: &Path, wait: Duration) -> io::Result<Option<DirLock>> {
    let file = open(dir, true)?;
    if !try_within(wait, || file.try_lock())? {
        return Ok(None);
    }
    atomic_file::remove_stale(dir, &WRITTEN)?;
    Ok(Some(DirLock { _file: file }))
}

/// Takes the shared lock of `dir` if it comes free within `wait`. `None` when a
/// writer held it all along, or when there is no lock file yet (nothing was ever
/// written under it).
pub(crate) fn try_shared(dir: &Path, wait: Duration) -> io::Result<Option<SharedLock>> {
    let file = match open(dir, false) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !try_within(wait, || file.try_lock_shared())? {
        return Ok(None);
    }
    Ok(Some(SharedLock { _file: file }))
}

/// Calls `attempt` every millisecond until it succeeds (true) or `wait` has passed
/// (false).
fn try_within(wait: Duration, attempt: impl Fn() -> Result<(), TryLockError>) -> io::Result<bool> {
    let deadline = Instant::now() + wait;
    loop {
        match attempt() {
            Ok(()) => return Ok(true),
            Err(TryLockError::Error(e)) => return Err(e),
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => return Ok(false),
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let suffix: [u8; 6] = crate::random::array().unwrap();
        let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("latchkey-lock-{tag}-{hex}"));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_exclusive_lock_keeps_out_every_other_holder_until_dropped() {
        let dir = temp_dir("excl");
        let held = exclusive(&dir).unwrap();
        let short = Duration::from_millis(5);
        assert!(try_exclusive(&dir, short).unwrap().is_none());
        assert!(try_shared(&dir, short).unwrap().is_none());
        drop(held);
        let shared = try_shared(&dir, short).unwrap().expect("free again");
        assert!(
            try_shared(&dir, short).unwrap().is_some(),
            "shared with readers"
        );
        assert!(try_exclusive(&dir, short).unwrap().is_none());
        drop(shared);
        assert!(try_exclusive(&dir, short).unwrap().is_some());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(dir.join(LOCK_FILE)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_a_lock_file_a_reader_takes_none_and_creates_none() {
        let dir = temp_dir("none");
        assert!(try_shared(&dir, Duration::ZERO).unwrap().is_none());
        assert!(!dir.join(LOCK_FILE).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn taking_the_lock_removes_stale_temp_files_only() {
        let dir = temp_dir("stale");
        let stale: Vec<_> = WRITTEN
            .iter()
            .map(|name| dir.join(format!(".{name}.tmp-0123456789abcdef")))
            .collect();
        let unrelated = [
            dir.join(".users.tmp-notours"),
            dir.join(".users.tmp-0123456789ABCDEF"),
            dir.join(".other.tmp-0123456789abcdef"),
            dir.join("users.bak"),
        ];
        for p in stale.iter().chain(&unrelated) {
            fs::write(p, "half a fi").unwrap();
        }
        drop(exclusive(&dir).unwrap());
        for p in &stale {
            assert!(!p.exists(), "{}", p.display());
        }
        for p in &unrelated {
            assert!(p.exists(), "{}", p.display());
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
