//! Persisted revocations of sessions, API tokens and whole users.
//!
//! Signed cookies and tokens are valid until they expire; revoking one early needs a
//! list the server consults on every authenticated request. The store holds:
//!
//! - revoked session ids (128-bit),
//! - revoked token ids (`jti`, 1 to 64 printable ASCII characters),
//! - per-user cutoffs: every session or token of the user issued at or before the
//!   cutoff is revoked (`latchkey session revoke-all USER`).
//!
//! Lookups are hash-table hits and allocate nothing. Each entry carries the time after
//! which it can be forgotten: the session's or token's expiry, or for a cutoff, the
//! cutoff plus the longest lifetime anything can be issued with. Pass the time after
//! which the verifier refuses the credential *on its own*, leeway included: once an
//! entry is pruned, expiry checking is the only thing left refusing it.
//!
//! # File
//!
//! `<data-dir>/revoked` ([`REVOKED_FILE`]), mode 0600, text, one entry per line, times in
//! unix seconds, `#` starting a comment line:
//!
//! ```text
//! sid <32 hex digits> <expires>
//! jti <token id> <expires>
//! user <name> <cutoff> <forget_after>
//! ```
//!
//! Both the CLI and the running server change the file. Every change is made under
//! the data directory's exclusive lock ([`crate::store::lock`], passed in as proof):
//! it re-reads the file if someone else changed it, adds the entry (duplicates merge
//! to the later time), prunes, and replaces the file through
//! [`crate::store::atomic_file::write`]. Readers need no lock: the file is only ever
//! replaced whole. The server picks up changes made by the CLI by calling
//! [`RevocationStore::reload_if_changed`] about once a second.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::hash::Hash;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::FileStamp;
use super::lock::DirLock;

/// Name of the revocations file inside the data directory.
pub(crate) const REVOKED_FILE: &str = "revoked";
/// Default cap on entries; see [`RevocationStore::load_with_max_entries`].
pub(crate) const MAX_ENTRIES: usize = 100_000;
/// Longest accepted token id.
pub(crate) const MAX_TOKEN_ID_LEN: usize = 64;
/// Longest accepted user name.
pub(crate) const MAX_USER_LEN: usize = 64;

/// Bytes per entry the size limit allows: the longest line (`user`, a 64-byte name and
/// two 20-digit times) is 111 bytes with its newline.
const BYTES_PER_ENTRY: u64 = 128;
/// Room for comments on top of the entries.
const COMMENT_ALLOWANCE: u64 = 64 * 1024;

/// Why the revocations could not be read or changed.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum RevocationError {
    /// Reading or writing the revocations file failed.
    Io(PathBuf, io::Error),
    /// The revocations file can be read or written by group or others.
    Permissions(PathBuf, u32),
    /// A line of the revocations file is not a valid entry.
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The revocations file is larger than the entry cap allows.
    TooLarge(PathBuf),
    /// The store already holds its maximum of live entries; nothing was dropped.
    Full {
        /// The cap that was reached.
        max_entries: usize,
    },
    /// A token id is empty, longer than 64 bytes or not printable ASCII.
    BadTokenId,
    /// A user name is not 1 to 64 characters of `[A-Za-z0-9._@-]`.
    BadUserName,
}

impl fmt::Display for RevocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevocationError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            RevocationError::Permissions(p, mode) => write!(
                f,
                "{}: mode {mode:03o} lets others read or change revocations; run: chmod 600 {}",
                p.display(),
                p.display()
            ),
            RevocationError::Malformed { line, reason } => {
                write!(f, "{REVOKED_FILE}:{line}: {reason}")
            }
            RevocationError::TooLarge(p) => {
                write!(f, "{}: too large for the revocation cap", p.display())
            }
            RevocationError::Full { max_entries } => {
                write!(f, "revocation store full ({max_entries} live entries)")
            }
            RevocationError::BadTokenId => {
                f.write_str("token id must be 1-64 printable ascii characters")
            }
            RevocationError::BadUserName => {
                f.write_str("user name must be 1-64 characters of a-z A-Z 0-9 . _ @ -")
            }
        }
    }
}

impl std::error::Error for RevocationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RevocationError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

/// A user's cutoff and when it may be forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cutoff {
    cutoff: u64,
    forget_after: u64,
}

impl Cutoff {
    /// A later cutoff revokes more; keep the later of each time.
    fn merge(self, other: Cutoff) -> Cutoff {
        Cutoff {
            cutoff: self.cutoff.max(other.cutoff),
            forget_after: self.forget_after.max(other.forget_after),
        }
    }
}

/// The revocation tables, without any file handling.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Entries {
    sessions: HashMap<[u8; 16], u64>,
    tokens: HashMap<String, u64>,
    users: HashMap<String, Cutoff>,
}

/// One addition, kept so a refused or failed write can be undone in memory.
enum Change {
    Session([u8; 16], u64),
    Token(String, u64),
    User(String, Cutoff),
}

/// What an entry held before a [`Change`], to restore it.
enum Undo {
    Session([u8; 16], Option<u64>),
    Token(String, Option<u64>),
    User(String, Option<Cutoff>),
}

impl Undo {
    fn was_new(&self) -> bool {
        match self {
            Undo::Session(_, old) | Undo::Token(_, old) => old.is_none(),
            Undo::User(_, old) => old.is_none(),
        }
    }
}

/// Inserts `value`, merging with an existing one; returns what was there.
fn upsert<K: Hash + Eq, V: Copy>(
    map: &mut HashMap<K, V>,
    key: K,
    value: V,
    merge: fn(V, V) -> V,
) -> Option<V> {
    match map.entry(key) {
        Entry::Occupied(mut slot) => {
            let old = *slot.get();
            slot.insert(merge(old, value));
            Some(old)
        }
        Entry::Vacant(slot) => {
            slot.insert(value);
            None
        }
    }
}

fn restore<K: Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, old: Option<V>) {
    match old {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}

impl Entries {
    fn len(&self) -> usize {
        self.sessions.len() + self.tokens.len() + self.users.len()
    }

    fn apply(&mut self, change: Change) -> Undo {
        match change {
            Change::Session(sid, exp) => {
                Undo::Session(sid, upsert(&mut self.sessions, sid, exp, u64::max))
            }
            Change::Token(jti, exp) => {
                let old = upsert(&mut self.tokens, jti.clone(), exp, u64::max);
                Undo::Token(jti, old)
            }
            Change::User(name, cut) => {
                let old = upsert(&mut self.users, name.clone(), cut, Cutoff::merge);
                Undo::User(name, old)
            }
        }
    }

    fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Session(sid, old) => restore(&mut self.sessions, sid, old),
            Undo::Token(jti, old) => restore(&mut self.tokens, jti, old),
            Undo::User(name, old) => restore(&mut self.users, name, old),
        }
    }

    /// Drops entries whose forget time has passed; returns how many.
    fn prune(&mut self, now: u64) -> usize {
        let before = self.len();
        self.sessions.retain(|_, exp| *exp >= now);
        self.tokens.retain(|_, exp| *exp >= now);
        self.users.retain(|_, c| c.forget_after >= now);
        before - self.len()
    }

    fn parse(bytes: &[u8]) -> Result<Entries, RevocationError> {
        let mut entries = Entries::default();
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = index + 1;
            let bad = |reason| RevocationError::Malformed { line, reason };
            let text = std::str::from_utf8(raw).map_err(|_| bad("not utf-8"))?;
            let text = text.trim_ascii();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let mut fields = text.split_ascii_whitespace();
            let kind = fields.next().unwrap_or_default();
            let change = match (kind, fields.next(), fields.next(), fields.next()) {
                ("sid", Some(hex), Some(exp), None) => {
                    let sid =
                        parse_sid(hex).ok_or_else(|| bad("session id is not 32 hex digits"))?;
                    Change::Session(sid, parse_time(exp).ok_or_else(|| bad("bad expiry time"))?)
                }
                ("sid", ..) => return Err(bad("expected `sid <hex32> <expires>`")),
                ("jti", Some(jti), Some(exp), None) => {
                    check_token_id(jti).map_err(|_| bad("bad token id"))?;
                    let exp = parse_time(exp).ok_or_else(|| bad("bad expiry time"))?;
                    Change::Token(jti.to_owned(), exp)
                }
                ("jti", ..) => return Err(bad("expected `jti <id> <expires>`")),
                ("user", Some(name), Some(cutoff), Some(forget)) => {
                    if fields.next().is_some() {
                        return Err(bad("expected `user <name> <cutoff> <forget_after>`"));
                    }
                    check_user_name(name).map_err(|_| bad("bad user name"))?;
                    let cutoff = parse_time(cutoff).ok_or_else(|| bad("bad cutoff time"))?;
                    let forget_after =
                        parse_time(forget).ok_or_else(|| bad("bad forget-after time"))?;
                    Change::User(
                        name.to_owned(),
                        Cutoff {
                            cutoff,
                            forget_after,
                        },
                    )
                }
                ("user", ..) => return Err(bad("expected `user <name> <cutoff> <forget_after>`")),
                _ => return Err(bad("unknown entry kind")),
            };
            entries.apply(change);
        }
        Ok(entries)
    }

    fn render(&self) -> String {
        // Writing into a String cannot fail, so the fmt::Results are ignored.
        let mut out = String::with_capacity(120 + self.len() * 64);
        out.push_str(
            "# latchkey revocations, unix seconds: sid <hex32> <expires> | \
             jti <id> <expires> | user <name> <cutoff> <forget_after>\n",
        );
        for (sid, expires) in &self.sessions {
            out.push_str("sid ");
            for byte in sid {
                let _ = write!(out, "{byte:02x}");
            }
            let _ = writeln!(out, " {expires}");
        }
        for (jti, expires) in &self.tokens {
            let _ = writeln!(out, "jti {jti} {expires}");
        }
        for (name, c) in &self.users {
            let _ = writeln!(out, "user {name} {} {}", c.cutoff, c.forget_after);
        }
        out
    }
}

fn parse_sid(hex: &str) -> Option<[u8; 16]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut sid = [0u8; 16];
    for (out, pair) in sid.iter_mut().zip(bytes.chunks_exact(2)) {
        let digit = |b: u8| char::from(b).to_digit(16);
        let [hi, lo] = *pair else {
            return None;
        };
        *out = u8::try_from(digit(hi)? << 4 | digit(lo)?).ok()?;
    }
    Some(sid)
}

fn parse_time(text: &str) -> Option<u64> {
    // `u64::from_str` also takes a leading `+`; the file format does not.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn check_token_id(jti: &str) -> Result<(), RevocationError> {
    let ok = !jti.is_empty()
        && jti.len() <= MAX_TOKEN_ID_LEN
        && jti.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(RevocationError::BadTokenId)
    }
}

fn check_user_name(name: &str) -> Result<(), RevocationError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_USER_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(RevocationError::BadUserName)
    }
}

/// The revocation list of one data directory, mirrored in memory.
#[derive(Debug)]
pub(crate) struct RevocationStore {
    path: PathBuf,
    entries: Entries,
    /// The file version `entries` reflects; `None` when there was no file.
    seen: Option<FileStamp>,
    max_entries: usize,
}

impl RevocationStore {
    /// Loads `<data_dir>/revoked` with the default cap of [`MAX_ENTRIES`]. A missing
    /// file is an empty store.
    pub(crate) fn load(data_dir: &Path) -> Result<RevocationStore, RevocationError> {
        RevocationStore::load_with_max_entries(data_dir, MAX_ENTRIES)
    }

    /// Loads with a cap of `max_entries` live entries (at least 1). A file holding more
    /// (hand-edited, or a lowered cap) still loads — no revocation is ever dropped —
    /// but new entries are refused with [`RevocationError::Full`] until pruning makes
    /// room.
    pub(crate) fn load_with_max_entries(
        data_dir: &Path,
        max_entries: usize,
    ) -> Result<RevocationStore, RevocationError> {
        let mut store = RevocationStore {
            path: data_dir.join(REVOKED_FILE),
            entries: Entries::default(),
            seen: None,
            max_entries: max_entries.max(1),
        };
        store.read()?;
        Ok(store)
    }

    /// Revokes session `sid` until `expires` (unix seconds), persisting the change
    /// under the data directory's lock `held`. An already expired session needs no
    /// entry and is left alone.
    pub(crate) fn revoke_session(
        &mut self,
        held: &DirLock,
        sid: [u8; 16],
        expires: u64,
        now: u64,
    ) -> Result<(), RevocationError> {
        if expires < now {
            return Ok(());
        }
        self.change(held, Change::Session(sid, expires), now)
    }

    /// Revokes the token with id `jti` until `expires` (unix seconds), persisting it
    /// under the data directory's lock `held`. An already expired token needs no entry
    /// and is left alone.
    pub(crate) fn revoke_token(
        &mut self,
        held: &DirLock,
        jti: &str,
        expires: u64,
        now: u64,
    ) -> Result<(), RevocationError> {
        check_token_id(jti)?;
        if expires < now {
            return Ok(());
        }
        self.change(held, Change::Token(jti.to_owned(), expires), now)
    }

    /// Revokes every session and token of `user` issued at or before `cutoff` (unix
    /// seconds), persisting it under the data directory's lock `held`. The entry is
    /// forgotten `max_lifetime_secs` after the cutoff, when nothing issued before it
    /// can still be valid; pass the longest lifetime of any session or token (refresh
    /// tokens included) plus verifier leeway.
    ///
    /// A later cutoff for the same user replaces an earlier one.
    pub(crate) fn revoke_user_before(
        &mut self,
        held: &DirLock,
        user: &str,
        cutoff: u64,
        max_lifetime_secs: u64,
        now: u64,
    ) -> Result<(), RevocationError> {
        check_user_name(user)?;
        let forget_after = cutoff.saturating_add(max_lifetime_secs);
        if forget_after < now {
            return Ok(());
        }
        let entry = Cutoff {
            cutoff,
            forget_after,
        };
        self.change(held, Change::User(user.to_owned(), entry), now)
    }

    /// Whether session `sid` is revoked.
    pub(crate) fn is_session_revoked(&self, sid: &[u8; 16]) -> bool {
        self.entries.sessions.contains_key(sid)
    }

    /// Whether the token with id `jti` is revoked.
    pub(crate) fn is_token_revoked(&self, jti: &str) -> bool {
        self.entries.tokens.contains_key(jti)
    }

    /// The revoke-all cutoff of `user`, if any: a session or token of the user with
    /// `issued_at <= cutoff` is revoked. `<=` because issue times are whole seconds: a
    /// token issued in the same second as the revocation, but before it, must not
    /// survive; the price is that a login within that same second must be repeated.
    /// [`is_revoked_by_cutoff`](Self::is_revoked_by_cutoff) applies the rule.
    pub(crate) fn user_cutoff(&self, user: &str) -> Option<u64> {
        self.entries.users.get(user).map(|c| c.cutoff)
    }

    /// Whether a session or token of `user` issued at `issued_at` (unix seconds) falls
    /// under the user's revoke-all cutoff.
    pub(crate) fn is_revoked_by_cutoff(&self, user: &str, issued_at: u64) -> bool {
        self.user_cutoff(user)
            .is_some_and(|cutoff| issued_at <= cutoff)
    }

    /// Drops entries forgotten before `now` and rewrites the file, under the data
    /// directory's lock `_held`, if any were; returns how many were dropped. Call it
    /// now and then (hourly is plenty).
    pub(crate) fn prune(&mut self, _held: &DirLock, now: u64) -> Result<usize, RevocationError> {
        self.refresh()?;
        let dropped = self.entries.prune(now);
        if dropped > 0 {
            self.write()?;
        }
        Ok(dropped)
    }

    /// Re-reads the file if it changed since this store last read or wrote it (another
    /// process, such as the CLI, replaced it). Costs one `stat` when nothing changed.
    /// Returns whether it re-read. On error the previous revocations stay in force.
    pub(crate) fn reload_if_changed(&mut self) -> Result<bool, RevocationError> {
        if self.stamp_now()? == self.seen {
            return Ok(false);
        }
        self.read()?;
        Ok(true)
    }

    #[cfg(test)]
    /// Entries held, expired or not yet pruned included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    /// Whether nothing is revoked.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// Read-merge-prune-write of one addition under the lock `_held`. On any error the
    /// store is as if the change had not been asked for (apart from having caught up
    /// with the file).
    fn change(&mut self, _held: &DirLock, change: Change, now: u64) -> Result<(), RevocationError> {
        self.refresh()?;
        let undo = self.entries.apply(change);
        self.entries.prune(now);
        if undo.was_new() && self.entries.len() > self.max_entries {
            self.entries.undo(undo);
            return Err(RevocationError::Full {
                max_entries: self.max_entries,
            });
        }
        if let Err(e) = self.write() {
            self.entries.undo(undo);
            return Err(e);
        }
        Ok(())
    }

    /// Catches up with the file if another process replaced it.
    fn refresh(&mut self) -> Result<(), RevocationError> {
        self.reload_if_changed().map(drop)
    }

    fn stamp_now(&self) -> Result<Option<FileStamp>, RevocationError> {
        FileStamp::at(&self.path).map_err(|e| RevocationError::Io(self.path.clone(), e))
    }

    fn max_file_len(&self) -> u64 {
        (self.max_entries as u64)
            .saturating_mul(BYTES_PER_ENTRY)
            .saturating_add(COMMENT_ALLOWANCE)
    }

    /// Replaces the in-memory state with the file's, or leaves it untouched on error.
    fn read(&mut self) -> Result<(), RevocationError> {
        let io_err = |e| RevocationError::Io(self.path.clone(), e);
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.entries = Entries::default();
                self.seen = None;
                return Ok(());
            }
            Err(e) => return Err(io_err(e)),
        };
        // Checked on the open handle, so what is checked is what is read.
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(io_err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(RevocationError::Permissions(self.path.clone(), mode));
        }
        let limit = self.max_file_len();
        if meta.len() > limit {
            return Err(RevocationError::TooLarge(self.path.clone()));
        }
        let mut bytes = Vec::new();
        (&mut file)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        if bytes.len() as u64 > limit {
            return Err(RevocationError::TooLarge(self.path.clone()));
        }
        self.entries = Entries::parse(&bytes)?;
        self.seen = Some(FileStamp::of(&meta));
        Ok(())
    }

    /// Writes the in-memory state; the caller holds the lock.
    fn write(&mut self) -> Result<(), RevocationError> {
        let text = self.entries.render();
        crate::store::atomic_file::write(&self.path, text.as_bytes(), 0o600)
            .map_err(|e| RevocationError::Io(self.path.clone(), e))?;
        // Under the lock nobody else can have replaced it since. Should the stat fail,
        // forgetting the stamp only makes the next reload re-read: the write stands.
        self.seen = self.stamp_now().ok().flatten();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed_line(text: &str) -> (usize, &'static str) {
        match Entries::parse(text.as_bytes()) {
            Err(RevocationError::Malformed { line, reason }) => (line, reason),
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn parses_every_kind_of_entry_and_skips_comments() {
        let text = "# header\n\n  # indented comment\n\
                    sid 000102030405060708090a0b0c0d0E0F 100\n\
                    jti tok/1+x= 200\r\n\
                    user admin@example.org 50 150\n";
        let entries = Entries::parse(text.as_bytes()).unwrap();
        let sid: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(entries.sessions.get(&sid), Some(&100));
        assert_eq!(entries.tokens.get("tok/1+x="), Some(&200));
        assert_eq!(
            entries.users.get("admin@example.org"),
            Some(&Cutoff {
                cutoff: 50,
                forget_after: 150
            })
        );
    }

    #[test]
    fn rendered_entries_parse_back_identically() {
        let mut entries = Entries::default();
        entries.apply(Change::Session([0xab; 16], 7));
        entries.apply(Change::Token("a-b.c".into(), u64::MAX));
        entries.apply(Change::User(
            "root".into(),
            Cutoff {
                cutoff: 1,
                forget_after: 2,
            },
        ));
        assert_eq!(
            Entries::parse(entries.render().as_bytes()).unwrap(),
            entries
        );
    }

    #[test]
    fn duplicate_lines_merge_to_the_later_times() {
        let text = "jti t 100\njti t 50\nuser u 10 20\nuser u 5 90\n";
        let entries = Entries::parse(text.as_bytes()).unwrap();
        assert_eq!(entries.tokens.get("t"), Some(&100));
        assert_eq!(
            entries.users.get("u"),
            Some(&Cutoff {
                cutoff: 10,
                forget_after: 90
            })
        );
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        assert_eq!(malformed_line("# ok\nbogus 1 2\n").0, 2);
        assert_eq!(
            malformed_line("sid 00 5\n"),
            (1, "session id is not 32 hex digits")
        );
        assert_eq!(
            malformed_line("\n\nsid 000102030405060708090a0b0c0d0g0f 5\n"),
            (3, "session id is not 32 hex digits")
        );
        assert_eq!(malformed_line("jti t +5\n"), (1, "bad expiry time"));
        assert_eq!(
            malformed_line("jti t 18446744073709551616\n").1,
            "bad expiry time"
        );
        assert_eq!(malformed_line("jti t\n").1, "expected `jti <id> <expires>`");
        assert_eq!(
            malformed_line("jti t 1 2\n").1,
            "expected `jti <id> <expires>`"
        );
        let long = format!("jti {} 1\n", "x".repeat(65));
        assert_eq!(malformed_line(&long).1, "bad token id");
        assert_eq!(malformed_line("user a/b 1 2\n").1, "bad user name");
        assert_eq!(
            malformed_line("user a 1 2 3\n").1,
            "expected `user <name> <cutoff> <forget_after>`"
        );
        assert_eq!(
            malformed_line("user a 1\n").1,
            "expected `user <name> <cutoff> <forget_after>`"
        );
        assert_eq!(
            malformed_line("jti t 1\njti \u{e9} 1\n"),
            (2, "bad token id")
        );
    }

    #[test]
    fn invalid_utf8_is_malformed_not_a_panic() {
        match Entries::parse(b"jti t 1\n\xff\xfe 2\n") {
            Err(RevocationError::Malformed { line: 2, reason }) => assert_eq!(reason, "not utf-8"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prune_keeps_entries_until_their_forget_time_has_passed() {
        let mut entries =
            Entries::parse(b"jti a 10\njti b 11\nuser u 1 10\nuser v 1 11\n").unwrap();
        assert_eq!(
            entries.prune(10),
            0,
            "still kept at exactly the expiry second"
        );
        assert_eq!(entries.prune(11), 2);
        assert!(entries.tokens.contains_key("b") && entries.users.contains_key("v"));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parser() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"sidjtuser 0123456789abcdef#\n\r\t@.-_\xff/";
        for _ in 0..2000 {
            let mut input = Vec::new();
            for _ in 0..(state % 97) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let _ = Entries::parse(&input);
        }
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn revocation_example() {
        use crate::store::{DataDir, revocation::RevocationStore};
        let dir = std::env::temp_dir().join(format!("latchkey-rev-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let now = 1_700_000_000;
        let held = DataDir::new(&dir).lock().unwrap();
        let mut store = RevocationStore::load(&dir).unwrap();
        store
            .revoke_session(&held, [7; 16], now + 3600, now)
            .unwrap();
        store.revoke_token(&held, "tok-1", now + 900, now).unwrap();
        drop(held);

        // A restarted server sees both.
        let reloaded = RevocationStore::load(&dir).unwrap();
        assert!(reloaded.is_session_revoked(&[7; 16]));
        assert!(reloaded.is_token_revoked("tok-1"));
        assert!(!reloaded.is_token_revoked("tok-2"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn revoke_user_before_example() {
        use crate::store::{DataDir, revocation::RevocationStore};
        let dir = std::env::temp_dir().join(format!("latchkey-rev-user-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = DataDir::new(&dir).lock().unwrap();
        let mut store = RevocationStore::load(&dir).unwrap();
        store
            .revoke_user_before(&held, "admin", 1000, 86_400, 1000)
            .unwrap();
        assert!(store.is_revoked_by_cutoff("admin", 999));
        assert!(store.is_revoked_by_cutoff("admin", 1000)); // same second: revoked
        assert!(!store.is_revoked_by_cutoff("admin", 1001));
        assert!(!store.is_revoked_by_cutoff("guest", 5));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
