//! Crash-safe file replacement.
//!
//! Every file latchkey owns (keys, users, revocations, hash cost) is rewritten whole
//! through [`write()`]: a temporary file in the same directory, `fsync`, `rename` over
//! the old name, then `fsync` of the directory. A process killed at any instant leaves
//! either the old contents or the new ones, never a mix, and the mode is set before a
//! single byte is written so a secret is never briefly readable by others.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Atomically replaces `path` with `contents`, creating it with permission bits `mode`.
pub(crate) fn write(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let suffix: [u8; 8] = crate::random::array().map_err(io::Error::other)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", hex(&suffix)));
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have cleared bits of `mode`; make the result exact.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Deletes the temporary files [`write()`] leaves in `dir` when killed between
/// creating one and renaming it into place: `.<name>.tmp-<16 hex digits>` for each of
/// `names`. Only safe while no writer of those files can be running, which is what
/// the data directory's lock ([`super::lock`]) guarantees.
pub(crate) fn remove_stale(dir: &Path, names: &[&str]) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let ours = names.iter().any(|name| {
            file_name
                .strip_prefix('.')
                .and_then(|rest| rest.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(".tmp-"))
                .is_some_and(|suffix| {
                    suffix.len() == 16
                        && suffix
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                })
        });
        if ours && entry.file_type()?.is_file() {
            match fs::remove_file(entry.path()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod examples {
    #[test]
    fn write_example() {
        let dir = std::env::temp_dir().join(format!("latchkey-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users");
        crate::store::atomic_file::write(&path, b"admin\n", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"admin\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
