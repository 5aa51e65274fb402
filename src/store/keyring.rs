//! The keys file: the keyring's text ([`Keyring::parse`], [`Keyring::to_text`]) at
//! `<data-dir>/keys`, mode 0600, refused when group or others may read it.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::StoreError;
use super::lock::DirLock;
use crate::keys::Keyring;

/// Name of the keys file inside the data directory.
pub(crate) const KEYS_FILE: &str = "keys";

/// Reads the keys file at `path`.
pub(crate) fn load(path: &Path) -> Result<Keyring, StoreError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::Missing(path.to_owned()));
        }
        Err(e) => return Err(StoreError::Io(path.to_owned(), e)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Permissions(path.to_owned(), mode));
    }
    let text = fs::read_to_string(path).map_err(|e| StoreError::Io(path.to_owned(), e))?;
    Keyring::parse(&text).map_err(|e| StoreError::Keys(path.to_owned(), e))
}

/// Replaces the keys file at `path` with `ring`, mode 0600, under the data directory's
/// lock.
pub(crate) fn save(path: &Path, ring: &Keyring, _held: &DirLock) -> Result<(), StoreError> {
    super::atomic_file::write(path, ring.to_text().as_bytes(), 0o600)
        .map_err(|e| StoreError::Io(path.to_owned(), e))
}
