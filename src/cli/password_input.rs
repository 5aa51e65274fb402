//! Reading a password: one line from stdin with `--password-stdin`, or typed twice
//! on the terminal with echo off.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::process::{Command, Stdio};

use super::CliError;

/// Longest password accepted; PBKDF2 pre-hashes long keys, but a bound keeps stdin
/// reads bounded.
const MAX_PASSWORD_LEN: usize = 1024;

/// Reads a new password (typed twice on a terminal) or the one line of stdin.
pub(super) fn read_new_password(from_stdin: bool) -> Result<String, CliError> {
    if from_stdin {
        return read_stdin_line();
    }
    if !io::stdin().is_terminal() {
        return Err(CliError::NoTerminal);
    }
    let first = prompt_tty("New password: ")?;
    let second = prompt_tty("Repeat password: ")?;
    if first != second {
        return Err(CliError::PasswordMismatch);
    }
    Ok(first)
}

fn read_stdin_line() -> Result<String, CliError> {
    let mut line = String::new();
    io::stdin()
        .lock()
        .take(MAX_PASSWORD_LEN as u64 + 2)
        .read_line(&mut line)
        .map_err(|e| CliError::Io("stdin".into(), e))?;
    finish_line(line)
}

fn finish_line(mut line: String) -> Result<String, CliError> {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    if line.is_empty() {
        return Err(CliError::EmptyPassword);
    }
    if line.len() > MAX_PASSWORD_LEN {
        return Err(CliError::Io(
            "password".into(),
            io::Error::new(io::ErrorKind::InvalidInput, "longer than 1024 bytes"),
        ));
    }
    Ok(line)
}

use std::io::Read;

// Echo is switched off with stty(1) on the controlling terminal: termios needs
// unsafe libc calls, which this crate forbids.
fn prompt_tty(prompt: &str) -> Result<String, CliError> {
    let tty_err = |e| CliError::Io("/dev/tty".into(), e);
    let mut out = OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .map_err(tty_err)?;
    let input = File::open("/dev/tty").map_err(tty_err)?;
    out.write_all(prompt.as_bytes()).map_err(tty_err)?;
    out.flush().map_err(tty_err)?;
    let echo_off = stty(&["-echo"]);
    let mut line = String::new();
    let read = BufReader::new(input)
        .take(MAX_PASSWORD_LEN as u64 + 2)
        .read_line(&mut line);
    if echo_off {
        stty(&["echo"]);
    }
    let _ = out.write_all(b"\n");
    read.map_err(tty_err)?;
    finish_line(line)
}

fn stty(args: &[&str]) -> bool {
    let Ok(tty) = File::open("/dev/tty") else {
        return false;
    };
    Command::new("stty")
        .args(args)
        .stdin(Stdio::from(tty))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
