//! The users file: who may log in, with which password hash.
//!
//! `<data-dir>/users`, mode 0600, one user per line as four fields separated by single
//! spaces:
//!
//! ```text
//! # name  hash                                         epoch  flags
//! admin $pbkdf2-sha256$i=600000,l=32$<salt>$<hash> 4211 -
//! ops pbkdf2:sha256:1000000$<salt>$<hex> 77 admin,future-flag
//! ```
//!
//! - `name` obeys [`validate_username`];
//! - `hash` is any stored password hash (see [`crate::password`]): printable ASCII
//!   without spaces. It is checked only when someone logs in, so one user with an
//!   unsupported scheme does not lock everyone else out;
//! - `epoch` is a decimal counter that ends every session and token of the user when it
//!   changes: [`UserDb::set_password`] bumps it;
//! - `flags` is a comma-separated list, or `-` for none. Flags latchkey does not know are
//!   kept verbatim, so an older binary rewriting the file does not drop them.
//!
//! `#` comment lines and blank lines are kept in place on rewrite (trailing carriage
//! returns are dropped, and whitespace-only lines are written back empty).
//!
//! Every rewrite goes through [`crate::store::atomic_file::write`], so a crash leaves the old
//! file or the new one, never a mix. A writer holds the data directory's lock
//! ([`crate::store::lock`]) while it reads, changes and saves the file, so no change is
//! lost; taking the lock deletes the temporary file a crashed writer left behind.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::lock::DirLock;

/// Name of the users file inside the data directory.
pub(crate) const USERS_FILE: &str = "users";
/// Longest user name, in bytes.
pub(crate) const MAX_USERNAME_LEN: usize = 64;
/// Longest hash field, in bytes (stored hashes are far shorter).
pub(crate) const MAX_HASH_FIELD_LEN: usize = 512;
/// Longest single flag, in bytes.
pub(crate) const MAX_FLAG_LEN: usize = 64;
/// Most flags on one user.
pub(crate) const MAX_FLAGS: usize = 32;
/// Largest users file accepted, in bytes.
pub(crate) const MAX_FILE_LEN: usize = 1 << 20;

/// What is wrong with one line of the users file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum LineProblem {
    /// Not four fields separated by single spaces.
    FieldCount,
    /// The name breaks [`validate_username`].
    BadName,
    /// The hash field is too long or not printable ASCII.
    BadHash,
    /// The epoch is not a plain decimal that fits in 64 bits.
    BadEpoch,
    /// The flags field is not `-` or a comma-separated list of valid flags.
    BadFlags,
    /// The line is not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineProblem::FieldCount => {
                "expected `name hash epoch flags` separated by single spaces"
            }
            LineProblem::BadName => "bad user name",
            LineProblem::BadHash => "bad password hash field",
            LineProblem::BadEpoch => "bad epoch",
            LineProblem::BadFlags => "bad flags",
            LineProblem::NotUtf8 => "not utf-8",
        })
    }
}

/// Why the users file could not be read, changed or written.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum UsersError {
    /// The users file does not exist; the caller decides whether that means "no users".
    Missing(PathBuf),
    /// Reading or writing the users file failed.
    Io(PathBuf, io::Error),
    /// The users file can be read by group or others; holds its mode.
    Permissions(PathBuf, u32),
    /// The users file is larger than [`MAX_FILE_LEN`].
    TooLarge(PathBuf),
    /// A line (1-based) of the users file is malformed.
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: LineProblem,
    },
    /// A user name appears a second time, on this 1-based line.
    Duplicate {
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The repeated (valid) name.
        name: String,
    },
    /// A user name breaks the rules of [`validate_username`].
    BadUsername,
    /// A password hash to store is empty, too long, or not printable ASCII.
    BadHash,
    /// A flag to store is empty, too long, or has characters outside `[A-Za-z0-9_.=:-]`.
    #[cfg(test)]
    BadFlag,
    /// A user of that name already exists.
    Exists(String),
    /// No user of that name exists.
    NotFound(String),
    /// The user's epoch is at its maximum and cannot be bumped.
    EpochExhausted(String),
    /// The operating system gave no random bytes for a new user's epoch.
    Random,
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsersError::Missing(p) => write!(f, "{}: no such file", p.display()),
            UsersError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            UsersError::Permissions(p, mode) => write!(
                f,
                "{}: mode {mode:03o} lets others read password hashes; run: chmod 600 {}",
                p.display(),
                p.display()
            ),
            UsersError::TooLarge(p) => {
                write!(f, "{}: larger than {MAX_FILE_LEN} bytes", p.display())
            }
            UsersError::Malformed { line, reason } => write!(f, "line {line}: {reason}"),
            UsersError::Duplicate { line, name } => {
                write!(f, "line {line}: duplicate user {name}")
            }
            UsersError::BadUsername => f.write_str(
                "user name must be 1-64 of A-Z a-z 0-9 . _ @ - and not start with . or -",
            ),
            UsersError::BadHash => {
                f.write_str("password hash must be printable ascii without spaces")
            }
            #[cfg(test)]
            UsersError::BadFlag => f.write_str("flag must be 1-64 of A-Z a-z 0-9 _ . = : -"),
            UsersError::Exists(name) => write!(f, "user {name} already exists"),
            UsersError::NotFound(name) => write!(f, "no user {name}"),
            UsersError::EpochExhausted(name) => write!(f, "user {name}: epoch exhausted"),
            UsersError::Random => f.write_str("operating system randomness unavailable"),
        }
    }
}

impl std::error::Error for UsersError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UsersError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Checks a user name: 1–64 characters of `[A-Za-z0-9._@-]`, not starting with `.` or
/// `-`, so it is safe to put in HTML, headers, logs and the users file unescaped.
pub(crate) fn validate_username(name: &str) -> Result<(), UsersError> {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-');
    match bytes.first() {
        None | Some(b'.') | Some(b'-') => Err(UsersError::BadUsername),
        Some(_) if bytes.len() > MAX_USERNAME_LEN || !bytes.iter().all(allowed) => {
            Err(UsersError::BadUsername)
        }
        Some(_) => Ok(()),
    }
}

/// One account. Its `Debug` leaves out the hash, which is what an offline attack needs.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// The login name, valid per [`validate_username`].
    pub name: String,
    /// The stored password hash, as written in the file.
    pub hash: String,
    /// Sessions and tokens carry this; when it changes they stop being accepted.
    pub epoch: u64,
    /// Flags in file order, unknown ones included.
    pub flags: Vec<String>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("epoch", &self.epoch)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl User {
    #[cfg(test)]
    /// Whether the user carries `flag`.
    pub(crate) fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

// A line of the file: a user, or a comment or blank line kept for the rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    User(User),
    Other(String),
}

/// The users file in memory, in file order, comments included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UserDb {
    lines: Vec<Line>,
    // name → index into `lines` of that user's line, one entry per user line.
    index: HashMap<String, usize>,
}

impl UserDb {
    /// An empty database, for a first user.
    pub(crate) fn new() -> UserDb {
        UserDb::default()
    }

    /// Reads and parses the users file at `path`. It must exist ([`UsersError::Missing`]
    /// otherwise) and must not be readable by group or others.
    pub(crate) fn load(path: &Path) -> Result<UserDb, UsersError> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(UsersError::Missing(path.to_owned()));
            }
            Err(e) => return Err(UsersError::Io(path.to_owned(), e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(UsersError::Permissions(path.to_owned(), mode));
        }
        if meta.len() > MAX_FILE_LEN as u64 {
            return Err(UsersError::TooLarge(path.to_owned()));
        }
        let bytes = fs::read(path).map_err(|e| UsersError::Io(path.to_owned(), e))?;
        if bytes.len() > MAX_FILE_LEN {
            return Err(UsersError::TooLarge(path.to_owned()));
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) => UserDb::parse(text),
            Err(e) => {
                let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
                let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
                Err(UsersError::Malformed {
                    line,
                    reason: LineProblem::NotUtf8,
                })
            }
        }
    }

    /// Parses the text of a users file.
    pub(crate) fn parse(text: &str) -> Result<UserDb, UsersError> {
        let mut db = UserDb::new();
        for (i, raw) in text.split_terminator('\n').enumerate() {
            let number = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                db.lines.push(Line::Other(String::new()));
                continue;
            }
            if line.starts_with('#') {
                db.lines.push(Line::Other(line.to_owned()));
                continue;
            }
            let user = parse_user(line).map_err(|reason| UsersError::Malformed {
                line: number,
                reason,
            })?;
            let at = db.lines.len();
            match db.index.entry(user.name.clone()) {
                MapEntry::Occupied(_) => {
                    return Err(UsersError::Duplicate {
                        line: number,
                        name: user.name,
                    });
                }
                MapEntry::Vacant(slot) => {
                    slot.insert(at);
                }
            }
            db.lines.push(Line::User(user));
        }
        Ok(db)
    }

    /// The file text: one line per user, comment or blank line, each ending in `\n`.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Other(text) => out.push_str(text),
                Line::User(u) => {
                    out.push_str(&u.name);
                    out.push(' ');
                    out.push_str(&u.hash);
                    out.push(' ');
                    out.push_str(&u.epoch.to_string());
                    out.push(' ');
                    if u.flags.is_empty() {
                        out.push('-');
                    } else {
                        out.push_str(&u.flags.join(","));
                    }
                }
            }
            out.push('\n');
        }
        out
    }

    /// Atomically replaces the file at `path` with [`UserDb::to_text`], mode 0600. The
    /// caller holds the lock of the directory the file is in (`_held`) and read the
    /// version this one changes under it.
    pub(crate) fn save(&self, path: &Path, _held: &DirLock) -> Result<(), UsersError> {
        crate::store::atomic_file::write(path, self.to_text().as_bytes(), 0o600)
            .map_err(|e| UsersError::Io(path.to_owned(), e))
    }

    /// The user called `name`, if any.
    pub(crate) fn get(&self, name: &str) -> Option<&User> {
        match self.lines.get(*self.index.get(name)?) {
            Some(Line::User(u)) => Some(u),
            _ => None,
        }
    }

    /// Adds a user with no flags and a random starting epoch, so that a user removed
    /// and re-created under the same name does not revive the old one's sessions.
    pub(crate) fn add(&mut self, name: &str, hash: &str) -> Result<(), UsersError> {
        validate_username(name)?;
        validate_hash(hash)?;
        if self.index.contains_key(name) {
            return Err(UsersError::Exists(name.to_owned()));
        }
        // 2^40 starting points, and room above for ~2^63 password changes.
        let random: [u8; 5] = crate::random::array().map_err(|_| UsersError::Random)?;
        let epoch = random
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        self.index.insert(name.to_owned(), self.lines.len());
        self.lines.push(Line::User(User {
            name: name.to_owned(),
            hash: hash.to_owned(),
            epoch,
            flags: Vec::new(),
        }));
        Ok(())
    }

    /// Replaces the user's password hash and bumps the epoch, ending every session and
    /// token issued before.
    pub(crate) fn set_password(&mut self, name: &str, hash: &str) -> Result<(), UsersError> {
        validate_hash(hash)?;
        let user = self.get_mut(name)?;
        user.epoch = user
            .epoch
            .checked_add(1)
            .ok_or_else(|| UsersError::EpochExhausted(name.to_owned()))?;
        user.hash = hash.to_owned();
        Ok(())
    }

    /// Replaces the user's password hash *without* ending sessions: for upgrading a
    /// hash to the current policy after a successful login with the same password.
    pub(crate) fn rehash(&mut self, name: &str, hash: &str) -> Result<(), UsersError> {
        validate_hash(hash)?;
        self.get_mut(name)?.hash = hash.to_owned();
        Ok(())
    }

    #[cfg(test)]
    /// Replaces the user's flags (unknown ones are allowed and kept as given).
    pub(crate) fn set_flags(&mut self, name: &str, flags: Vec<String>) -> Result<(), UsersError> {
        if flags.len() > MAX_FLAGS || !flags.iter().all(|f| valid_flag(f)) {
            return Err(UsersError::BadFlag);
        }
        self.get_mut(name)?.flags = flags;
        Ok(())
    }

    /// Removes the user, returning it.
    pub(crate) fn remove(&mut self, name: &str) -> Result<User, UsersError> {
        let at = self
            .index
            .remove(name)
            .ok_or_else(|| UsersError::NotFound(name.to_owned()))?;
        if at >= self.lines.len() {
            return Err(UsersError::NotFound(name.to_owned()));
        }
        let removed = self.lines.remove(at);
        for slot in self.index.values_mut() {
            if *slot > at {
                *slot -= 1;
            }
        }
        match removed {
            Line::User(u) => Ok(u),
            Line::Other(_) => Err(UsersError::NotFound(name.to_owned())),
        }
    }

    /// The users in file order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &User> {
        self.lines.iter().filter_map(|l| match l {
            Line::User(u) => Some(u),
            Line::Other(_) => None,
        })
    }

    /// How many users there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut User, UsersError> {
        let at = self.index.get(name).copied();
        match at.and_then(|i| self.lines.get_mut(i)) {
            Some(Line::User(u)) => Ok(u),
            _ => Err(UsersError::NotFound(name.to_owned())),
        }
    }
}

fn parse_user(line: &str) -> Result<User, LineProblem> {
    let mut fields = line.split(' ');
    let (Some(name), Some(hash), Some(epoch), Some(flags), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(LineProblem::FieldCount);
    };
    if name.is_empty() || hash.is_empty() || epoch.is_empty() || flags.is_empty() {
        return Err(LineProblem::FieldCount);
    }
    validate_username(name).map_err(|_| LineProblem::BadName)?;
    validate_hash(hash).map_err(|_| LineProblem::BadHash)?;
    Ok(User {
        name: name.to_owned(),
        hash: hash.to_owned(),
        epoch: parse_epoch(epoch).ok_or(LineProblem::BadEpoch)?,
        flags: parse_flags(flags).ok_or(LineProblem::BadFlags)?,
    })
}

// A plain decimal without sign or leading zeros, so a rewrite reproduces it.
fn parse_epoch(text: &str) -> Option<u64> {
    let plain = text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    if !plain || text.len() > 20 {
        return None;
    }
    text.parse().ok()
}

fn parse_flags(text: &str) -> Option<Vec<String>> {
    if text == "-" {
        return Some(Vec::new());
    }
    let flags: Vec<String> = text.split(',').map(str::to_owned).collect();
    (flags.len() <= MAX_FLAGS && flags.iter().all(|f| valid_flag(f))).then_some(flags)
}

// Starting with a letter or digit keeps a lone `-` (no flags) unambiguous.
fn valid_flag(flag: &str) -> bool {
    let bytes = flag.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.len() <= MAX_FLAG_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'=' | b':' | b'-'))
}

fn validate_hash(hash: &str) -> Result<(), UsersError> {
    if hash.is_empty()
        || hash.len() > MAX_HASH_FIELD_LEN
        || !hash.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(UsersError::BadHash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "$pbkdf2-sha256$i=1000,l=32$ng9XySauOjl6Bi4x0O/dAA$Z0rAr6zNcv0C20fm9MwPoG9P2MLYOkk10kMnDh+aw9A";
    const H2: &str = "pbkdf2:sha256:1000$yEeu2lCh6f930e4D$fbc4680ec028ca6598c4d78183cfcd2d81f717338585a2c468e849bdf7e6ecd5";

    fn temp_dir(tag: &str) -> PathBuf {
        let suffix: [u8; 4] = crate::random::array().unwrap();
        let dir = std::env::temp_dir().join(format!(
            "latchkey-users-{tag}-{}-{:02x}{:02x}{:02x}{:02x}",
            std::process::id(),
            suffix[0],
            suffix[1],
            suffix[2],
            suffix[3]
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn malformed(text: &str) -> (usize, LineProblem) {
        match UserDb::parse(text) {
            Err(UsersError::Malformed { line, reason }) => (line, reason),
            other => panic!("expected Malformed for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_users_flags_and_keeps_comments_on_rewrite() {
        let text = format!(
            "# latchkey users\n\nadmin {H1} 7 -\n  \n# imported from flask\nops {H2} 0 admin,some-future=flag\n"
        );
        let db = UserDb::parse(&text).unwrap();
        assert_eq!(db.len(), 2);
        let ops = db.get("ops").unwrap();
        assert_eq!(ops.hash, H2);
        assert_eq!(ops.epoch, 0);
        assert_eq!(ops.flags, ["admin", "some-future=flag"]);
        assert!(ops.has_flag("admin"));
        assert!(db.get("admin").unwrap().flags.is_empty());
        assert_eq!(db.get("nobody"), None);
        let names: Vec<&str> = db.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["admin", "ops"]);
        // Whitespace-only lines come back empty; everything else is verbatim.
        assert_eq!(db.to_text(), text.replace("\n  \n", "\n\n"));
    }

    #[test]
    fn crlf_and_missing_final_newline_are_accepted() {
        let db = UserDb::parse(&format!("# c\r\nadmin {H1} 1 -\r\nops {H2} 2 -")).unwrap();
        assert_eq!(db.to_text(), format!("# c\nadmin {H1} 1 -\nops {H2} 2 -\n"));
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        assert_eq!(
            malformed(&format!("# x\nadmin {H1} 1\n")),
            (2, LineProblem::FieldCount)
        );
        assert_eq!(
            malformed(&format!("admin  {H1} 1 -\n")),
            (1, LineProblem::FieldCount)
        );
        assert_eq!(
            malformed(&format!("admin\t{H1} 1 -\n")),
            (1, LineProblem::FieldCount)
        );
        assert_eq!(
            malformed(&format!(" admin {H1} 1 -\n")),
            (1, LineProblem::FieldCount)
        );
        assert_eq!(
            malformed(&format!("admin {H1} 1 - extra\n")),
            (1, LineProblem::FieldCount)
        );
        assert_eq!(
            malformed(&format!("admin {H1} 1 -\n\n-rf {H1} 1 -\n")),
            (3, LineProblem::BadName)
        );
        assert_eq!(
            malformed(&format!("a<b {H1} 1 -\n")),
            (1, LineProblem::BadName)
        );
        assert_eq!(malformed("admin h\u{7f}x 1 -\n"), (1, LineProblem::BadHash));
        assert_eq!(malformed("admin h\u{e9} 1 -\n"), (1, LineProblem::BadHash));
        assert_eq!(
            malformed(&format!("admin {H1} 01 -\n")),
            (1, LineProblem::BadEpoch)
        );
        assert_eq!(
            malformed(&format!("admin {H1} -1 -\n")),
            (1, LineProblem::BadEpoch)
        );
        assert_eq!(
            malformed(&format!("admin {H1} 18446744073709551616 -\n")),
            (1, LineProblem::BadEpoch)
        );
        assert_eq!(
            malformed(&format!("admin {H1} 1 a,,b\n")),
            (1, LineProblem::BadFlags)
        );
        assert_eq!(
            malformed(&format!("admin {H1} 1 -,a\n")),
            (1, LineProblem::BadFlags)
        );
        assert_eq!(
            malformed(&format!("admin {H1} 1 a;b\n")),
            (1, LineProblem::BadFlags)
        );
        let too_many = vec!["f"; MAX_FLAGS + 1].join(",");
        assert_eq!(
            malformed(&format!("admin {H1} 1 {too_many}\n")),
            (1, LineProblem::BadFlags)
        );
        // The largest epoch is fine.
        assert!(UserDb::parse(&format!("admin {H1} 18446744073709551615 -\n")).is_ok());
    }

    #[test]
    fn duplicate_names_are_an_error() {
        let err =
            UserDb::parse(&format!("admin {H1} 1 -\nops {H2} 1 -\nadmin {H2} 2 -\n")).unwrap_err();
        assert!(
            matches!(&err, UsersError::Duplicate { line: 3, name } if name == "admin"),
            "{err:?}"
        );
    }

    #[test]
    fn username_rules() {
        for ok in [
            "a",
            "Admin_1",
            "alice@example.org",
            "x.y-z",
            &"a".repeat(64),
        ] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "-rf",
            "a b",
            "a/b",
            "é",
            "a\n",
            "a\"",
            &"a".repeat(65),
        ] {
            assert!(
                matches!(validate_username(bad), Err(UsersError::BadUsername)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn add_set_password_remove() {
        let mut db = UserDb::parse("# keep me\n").unwrap();
        db.add("alice", H1).unwrap();
        db.add("bob", H2).unwrap();
        assert!(matches!(db.add("alice", H2), Err(UsersError::Exists(n)) if n == "alice"));
        assert!(matches!(
            db.add("bad name", H1),
            Err(UsersError::BadUsername)
        ));
        assert!(matches!(
            db.add("carol", "has space"),
            Err(UsersError::BadHash)
        ));
        assert!(matches!(db.add("carol", ""), Err(UsersError::BadHash)));

        let before = db.get("alice").unwrap().epoch;
        db.set_password("alice", H2).unwrap();
        let alice = db.get("alice").unwrap();
        assert_eq!((alice.hash.as_str(), alice.epoch), (H2, before + 1));
        assert!(matches!(
            db.set_password("nobody", H1),
            Err(UsersError::NotFound(_))
        ));

        let epoch = db.get("alice").unwrap().epoch;
        db.rehash("alice", H1).unwrap();
        assert_eq!(
            db.get("alice").unwrap().epoch,
            epoch,
            "a rehash keeps sessions"
        );

        db.set_flags("bob", vec!["admin".into()]).unwrap();
        assert!(matches!(
            db.set_flags("bob", vec!["".into()]),
            Err(UsersError::BadFlag)
        ));

        let removed = db.remove("alice").unwrap();
        assert_eq!(removed.name, "alice");
        assert!(matches!(db.remove("alice"), Err(UsersError::NotFound(_))));
        assert_eq!(db.get("bob").unwrap().flags, ["admin"]);
        assert_eq!(db.len(), 1);
        let bob_epoch = db.get("bob").unwrap().epoch;
        assert_eq!(
            db.to_text(),
            format!("# keep me\nbob {H2} {bob_epoch} admin\n")
        );
        // The text round-trips through the parser.
        assert_eq!(UserDb::parse(&db.to_text()).unwrap(), db);
    }

    #[test]
    fn lookup_is_exact_and_follows_edits() {
        let mut text = String::from("# head\n\n");
        for u in 0..12 {
            text.push_str(&format!("User{u} {H1} {u} -\n"));
        }
        let mut db = UserDb::parse(&text).unwrap();
        // Names that differ only in case are different users (or none).
        for u in 0..12 {
            assert!(db.get(&format!("user{u}")).is_none());
            assert!(db.get(&format!("USER{u}")).is_none());
            assert_eq!(db.get(&format!("User{u}")).unwrap().epoch, u);
        }
        for absent in ["", "User", "User1x", "User99", "# head"] {
            assert!(db.get(absent).is_none(), "{absent:?}");
        }
        // Removing a line shifts the others; they are still found.
        db.remove("User0").unwrap();
        assert!(db.get("User0").is_none());
        db.add("user0", H1).unwrap();
        assert!(db.get("User0").is_none(), "recreated in another case");
        assert_eq!(db.get("user0").unwrap().name, "user0");
        for u in 1..12 {
            assert_eq!(db.get(&format!("User{u}")).unwrap().epoch, u);
        }
    }

    #[test]
    fn debug_output_leaves_out_hashes() {
        let db = UserDb::parse(&format!("admin {H1} 1 -\n")).unwrap();
        let shown = format!("{db:?} {:?}", db.get("admin").unwrap());
        assert!(shown.contains("admin"), "{shown}");
        assert!(!shown.contains("ng9XySau"), "{shown}");
    }

    #[test]
    fn recreated_user_gets_a_fresh_epoch() {
        let mut db = UserDb::new();
        db.add("alice", H1).unwrap();
        let first = db.get("alice").unwrap().epoch;
        db.remove("alice").unwrap();
        db.add("alice", H1).unwrap();
        // 2^-40 chance of a false failure.
        assert_ne!(db.get("alice").unwrap().epoch, first);
    }

    #[test]
    fn epoch_at_max_cannot_be_bumped() {
        let mut db = UserDb::parse(&format!("admin {H1} {} -\n", u64::MAX)).unwrap();
        assert!(matches!(
            db.set_password("admin", H2),
            Err(UsersError::EpochExhausted(_))
        ));
        assert_eq!(db.get("admin").unwrap().hash, H1, "nothing changed");
    }

    #[test]
    fn save_then_load_round_trips_with_mode_0600() {
        let dir = temp_dir("save");
        let path = dir.join(USERS_FILE);
        assert!(matches!(UserDb::load(&path), Err(UsersError::Missing(_))));
        let mut db = UserDb::new();
        db.add("admin", H1).unwrap();
        let held = crate::store::DataDir::new(&dir).lock().unwrap();
        db.save(&path, &held).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(UserDb::load(&path).unwrap(), db);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_refuses_a_group_readable_file() {
        let dir = temp_dir("perm");
        let path = dir.join(USERS_FILE);
        fs::write(&path, format!("admin {H1} 1 -\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = UserDb::load(&path).unwrap_err();
        assert!(matches!(err, UsersError::Permissions(_, 0o640)), "{err:?}");
        assert!(err.to_string().contains("chmod 600"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_reports_invalid_utf8_with_its_line() {
        let dir = temp_dir("utf8");
        let path = dir.join(USERS_FILE);
        fs::write(&path, b"# ok\nadmin h 1 -\n# \xff\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = UserDb::load(&path).unwrap_err();
        assert!(
            matches!(
                err,
                UsersError::Malformed {
                    line: 3,
                    reason: LineProblem::NotUtf8
                }
            ),
            "{err:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn users_example() {
        use crate::store::users::UserDb;
        let mut db =
            UserDb::parse("# staff\nadmin $pbkdf2-sha256$i=1000,l=32$AAAA$BBBB 3 -\n").unwrap();
        assert_eq!(db.get("admin").unwrap().epoch, 3);
        db.set_password("admin", "pbkdf2:sha256:1000$salt$00")
            .unwrap();
        assert_eq!(db.get("admin").unwrap().epoch, 4);
        assert_eq!(
            db.to_text(),
            "# staff\nadmin pbkdf2:sha256:1000$salt$00 4 -\n"
        );
    }

    #[test]
    fn validate_username_example() {
        use crate::store::users::validate_username;
        assert!(validate_username("alice@example.org").is_ok());
        assert!(validate_username("-rf").is_err());
        assert!(validate_username("<script>").is_err());
    }

    #[test]
    fn parse_example() {
        use crate::store::users::{LineProblem, UserDb, UsersError};
        let err = UserDb::parse("alice h 1 -\nbob h one -\n").unwrap_err();
        assert!(matches!(
            err,
            UsersError::Malformed {
                line: 2,
                reason: LineProblem::BadEpoch
            }
        ));
    }

    #[test]
    fn save_example() {
        use crate::store::{DataDir, users::UserDb};
        let dir = std::env::temp_dir().join(format!("latchkey-users-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(crate::store::users::USERS_FILE);
        let db = UserDb::parse("admin $pbkdf2-sha256$i=1000,l=32$AAAA$BBBB 1 -\n").unwrap();
        let held = DataDir::new(&dir).lock().unwrap();
        db.save(&path, &held).unwrap();
        assert_eq!(UserDb::load(&path).unwrap(), db);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn add_example() {
        use crate::store::users::{UserDb, UsersError};
        let mut db = UserDb::new();
        db.add("alice", "$pbkdf2-sha256$i=1000,l=32$AAAA$BBBB")
            .unwrap();
        assert!(matches!(db.add("alice", "x"), Err(UsersError::Exists(_))));
    }
}
