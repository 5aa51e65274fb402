//! The hash cost file: `<data-dir>/pbkdf2-iterations`, the PBKDF2 iteration count of
//! new password hashes as one decimal line, measured once per machine.

use std::io;
use std::path::Path;

use super::StoreError;
use super::lock::DirLock;
use crate::password::Policy;

/// Name of the hash cost file inside the data directory.
pub(crate) const COST_FILE: &str = "pbkdf2-iterations";

/// The policy stored at `path`, `None` when there is no file.
pub(crate) fn load(path: &Path) -> Result<Option<Policy>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let n: u32 = text
                .trim()
                .parse()
                .map_err(|_| StoreError::BadCost(path.to_owned()))?;
            Ok(Some(Policy::new(n)?))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io(path.to_owned(), e)),
    }
}

/// Stores `iterations` at `path`, mode 0600, under the data directory's lock.
pub(crate) fn save(path: &Path, iterations: u32, _held: &DirLock) -> Result<(), StoreError> {
    super::atomic_file::write(path, format!("{iterations}\n").as_bytes(), 0o600)
        .map_err(|e| StoreError::Io(path.to_owned(), e))
}
