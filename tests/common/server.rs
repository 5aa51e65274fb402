//! The launcher: the real `latchkey` binary, run once as a CLI command or started as a
//! server on a free loopback port with a temporary data dir, users and flags.

use super::client::{Client, Response, request};
use super::process::{ChildGuard, LineLog, TempDir};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
/// The lowest cost the service accepts; keeps each login at tens of milliseconds.
pub(crate) const TEST_ITERATIONS: &str = "100000";

/// The latchkey binary with no `LATCHKEY_*` settings leaking in from the caller's env.
pub(crate) fn latchkey_command() -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LATCHKEY_") {
            command.env_remove(key);
        }
    }
    command
}

/// Output of one CLI run.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `latchkey ARGS` with `stdin` as its input.
pub(crate) fn cli(args: &[&str], stdin: &str) -> Run {
    let mut child = latchkey_command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit before reading its input (a usage error): ignore EPIPE.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Adds a user with `latchkey user add NAME --password-stdin`.
pub(crate) fn add_user(data: &Path, name: &str, password: &str) {
    add_user_with(data, name, password, &[]);
}

/// Adds a user whose password the CLI refuses as weak (Flask-JWT's examples use
/// `password1`), with `--allow-weak-password`.
pub(crate) fn add_user_allowing_weak(data: &Path, name: &str, password: &str) {
    add_user_with(data, name, password, &["--allow-weak-password"]);
}

fn add_user_with(data: &Path, name: &str, password: &str, flags: &[&str]) {
    let mut args = vec![
        "user",
        "add",
        name,
        "--password-stdin",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let r = cli(&args, &format!("{password}\n"));
    assert_eq!(r.code, 0, "user add {name} failed: {}", r.stderr);
}

impl TempDir {
    /// `data` inside this temp dir (0700), with the hash cost preset so no calibration
    /// runs; created on the first call.
    pub(crate) fn data_dir(&self) -> PathBuf {
        let dir = self.path().join("data");
        if !dir.exists() {
            let dir = self.subdir("data");
            std::fs::write(
                dir.join("pbkdf2-iterations"),
                format!("{TEST_ITERATIONS}\n"),
            )
            .unwrap();
        }
        dir
    }
}

/// [`TempDir::data_dir`] holding `users` (name, password).
pub(crate) fn data_dir_with_users(tmp: &TempDir, users: &[(&str, &str)]) -> PathBuf {
    let data = tmp.data_dir();
    for (name, password) in users {
        add_user(&data, name, password);
    }
    data
}

/// A running `latchkey serve`, killed on drop; its stderr is collected in `log`.
pub(crate) struct Server {
    pub addr: SocketAddr,
    pub log: LineLog,
    child: ChildGuard,
}

impl Server {
    /// Starts `latchkey serve --listen 127.0.0.1:0 --data-dir DATA FLAGS…` and waits
    /// until it says where it listens.
    pub(crate) fn start(data: &Path, flags: &[&str]) -> Server {
        let mut command = latchkey_command();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(flags);
        Server::spawn(command)
    }

    /// Spawns a prepared `serve` command (configured by environment, or by a service
    /// script; stdio is set here) and waits for its "listening on" line.
    pub(crate) fn spawn(mut command: Command) -> Server {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn("latchkey", &mut command, false);
        let (tx, rx) = mpsc::channel();
        let log = LineLog::follow(child.child_mut().stderr.take().unwrap(), Some(tx));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = listening_addr(&line) {
                        return Server { addr, log, child };
                    }
                }
                Err(_) => panic!(
                    "latchkey never said it was listening; stderr:\n{}",
                    log.text()
                ),
            }
        }
    }

    /// The server's process id (for prlimit, /proc).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.log.lines()
    }

    /// Waits (10 s at most) until a log line contains `needle`, and returns it.
    pub(crate) fn wait_log(&self, needle: &str) -> String {
        self.log
            .wait_for(needle, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no log line with {needle:?}:\n{}", self.log.text()))
    }

    /// `GET target` on a fresh connection, without cookies but those in `headers`.
    pub(crate) fn get(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", target, headers, b"")
    }

    /// `POST target` on a fresh connection, without cookies but those in `headers`.
    pub(crate) fn post(&self, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.addr, "POST", target, headers, body)
    }

    /// A client with an empty cookie jar, talking to this server.
    pub(crate) fn client(&self) -> Client {
        Client::new(self.addr)
    }

    /// Sends SIGTERM and returns the exit code.
    pub(crate) fn stop(mut self) -> i32 {
        self.child.terminate().code().unwrap_or(-1)
    }
}

/// `latchkey: listening on http://127.0.0.1:PORT/PREFIX/ (data dir …)` (or `https://`
/// with `--tls`) → the address.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = ["listening on http://", "listening on https://"]
        .iter()
        .find_map(|start| line.split(start).nth(1))?;
    rest.split('/').next()?.parse().ok()
}

/// An access token from `POST /auth`.
pub(crate) fn api_token(srv: &Server, user: &str, pass: &str) -> String {
    let body = serde_json::json!({ "username": user, "password": pass }).to_string();
    let r = srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// Waits (5 s at most) until `path` with `headers` is no longer answered 200: the
/// server reloads revocations and users about once a second.
pub(crate) fn eventually_refused(srv: &Server, headers: &[(&str, &str)], path: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while srv.get(path, headers).status == 200 {
        assert!(Instant::now() < deadline, "{path} still accepted");
        std::thread::sleep(Duration::from_millis(100));
    }
}
