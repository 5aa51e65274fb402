//! The `latchkey` command line: `serve`, and the administration commands over the
//! kernel (`user`, `hash`, `token`, `session`, `key`, `calibrate`).
//!
//! Every failure is one line on stderr: usage mistakes exit 2, everything else 1.

pub(crate) mod args;
mod commands;
mod password_input;
pub(crate) mod serve;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use args::UsageError;

use crate::store::DataDir;

/// Default data directory, relative to the working directory.
pub(crate) const DEFAULT_DATA_DIR: &str = "latchkey-data";

/// Why a command failed.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum CliError {
    /// The command line is wrong; exit status 2.
    Usage(UsageError),
    /// A file of the data directory could not be read, created or written.
    Store(crate::store::StoreError),
    /// A shared secret is unusable as a key.
    Keys(crate::keys::KeyError),
    /// A user could not be added, changed or removed.
    Users(crate::store::users::UsersError),
    /// A password could not be hashed or a stored hash is unusable.
    Password(crate::password::PasswordError),
    /// A token did not verify.
    Token(crate::jwt::TokenError),
    /// A token verified but was revoked; says how.
    Revoked(String),
    /// A revocation could not be made.
    Revocation(crate::store::revocation::RevocationError),
    /// The operating system gave no random bytes.
    Random(crate::random::RandomError),
    /// The service could not start or failed.
    Serve(crate::web::serve::ServeError),
    /// `--serve-dir` (first) is or holds the data directory (second).
    ServeDirHoldsData(PathBuf, PathBuf),
    /// Reading a password or a file failed.
    Io(String, io::Error),
    /// The two passwords typed differ.
    PasswordMismatch,
    /// An empty password was given.
    EmptyPassword,
    /// No terminal to ask for a password, and `--password-stdin` not given.
    NoTerminal,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(e) => e.fmt(f),
            CliError::Store(e) => e.fmt(f),
            CliError::Keys(e) => e.fmt(f),
            CliError::Users(e) => e.fmt(f),
            CliError::Password(e) => e.fmt(f),
            CliError::Token(e) => e.fmt(f),
            CliError::Revoked(how) => write!(f, "revoked: {how}"),
            CliError::Revocation(e) => e.fmt(f),
            CliError::Random(e) => e.fmt(f),
            CliError::Serve(e) => e.fmt(f),
            CliError::ServeDirHoldsData(serve, data) => write!(
                f,
                "--serve-dir {} holds the data dir {}: it would serve the keys and password \
                 hashes to every logged-in user; serve another directory",
                serve.display(),
                data.display()
            ),
            CliError::Io(what, e) => write!(f, "{what}: {e}"),
            CliError::PasswordMismatch => f.write_str("passwords do not match"),
            CliError::EmptyPassword => f.write_str("empty password"),
            CliError::NoTerminal => {
                f.write_str("no terminal to ask for the password; use --password-stdin")
            }
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Usage(e) => Some(e),
            CliError::Store(e) => Some(e),
            CliError::Keys(e) => Some(e),
            CliError::Users(e) => Some(e),
            CliError::Password(e) => Some(e),
            CliError::Token(e) => Some(e),
            CliError::Revocation(e) => Some(e),
            CliError::Random(e) => Some(e),
            CliError::Serve(e) => Some(e),
            CliError::Io(_, e) => Some(e),
            CliError::Revoked(_)
            | CliError::ServeDirHoldsData(..)
            | CliError::PasswordMismatch
            | CliError::EmptyPassword
            | CliError::NoTerminal => None,
        }
    }
}

impl From<UsageError> for CliError {
    fn from(e: UsageError) -> Self {
        CliError::Usage(e)
    }
}
impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::Store(e)
    }
}
impl From<crate::keys::KeyError> for CliError {
    fn from(e: crate::keys::KeyError) -> Self {
        CliError::Keys(e)
    }
}
impl From<crate::store::users::UsersError> for CliError {
    fn from(e: crate::store::users::UsersError) -> Self {
        CliError::Users(e)
    }
}
impl From<crate::password::PasswordError> for CliError {
    fn from(e: crate::password::PasswordError) -> Self {
        CliError::Password(e)
    }
}
impl From<crate::jwt::TokenError> for CliError {
    fn from(e: crate::jwt::TokenError) -> Self {
        CliError::Token(e)
    }
}
impl From<crate::store::revocation::RevocationError> for CliError {
    fn from(e: crate::store::revocation::RevocationError) -> Self {
        CliError::Revocation(e)
    }
}
impl From<crate::random::RandomError> for CliError {
    fn from(e: crate::random::RandomError) -> Self {
        CliError::Random(e)
    }
}
impl From<crate::web::serve::ServeError> for CliError {
    fn from(e: crate::web::serve::ServeError) -> Self {
        CliError::Serve(e)
    }
}

/// Runs the command line `args` (without the program name) and returns the exit code.
pub(crate) fn main_with_args(args: Vec<String>) -> ExitCode {
    match commands::dispatch(&args) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

/// Prints `e` as one line on stderr and gives its exit code.
fn report(e: &CliError) -> ExitCode {
    let hint = match e {
        CliError::Usage(_) => " (see latchkey --help)",
        _ => "",
    };
    eprintln!("latchkey: {e}{hint}");
    ExitCode::from(if matches!(e, CliError::Usage(_)) {
        2
    } else {
        1
    })
}

/// Runs the process's command line.
pub fn main() -> ExitCode {
    // std::env::args() panics on a non-UTF-8 argument; a variable that is not UTF-8
    // would read as unset and quietly fall back to a default (another data dir).
    let not_utf8 = |what: String| report(&CliError::Usage(UsageError::NotUtf8(what)));
    for (name, value) in std::env::vars_os() {
        if name.as_encoded_bytes().starts_with(b"LATCHKEY_") && value.to_str().is_none() {
            return not_utf8(format!("the value of {}", name.to_string_lossy()));
        }
    }
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(arg) => args.push(arg),
            Err(raw) => return not_utf8(format!("argument {:?}", raw.to_string_lossy())),
        }
    }
    main_with_args(args)
}

pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The data directory `--data-dir` (or `LATCHKEY_DATA_DIR`) names, or the default.
fn data_dir(parsed: &args::Parsed) -> DataDir {
    DataDir::new(parsed.get("data-dir").unwrap_or(DEFAULT_DATA_DIR))
}

/// Says on stderr what a first measurement of this machine chose for the hash cost.
fn announce_calibration(cal: &crate::password::Calibration) {
    eprintln!(
        "latchkey: password hash cost: pbkdf2-sha256 i={} ({} ms measured on this machine)",
        cal.iterations,
        cal.measured.as_millis()
    );
}
