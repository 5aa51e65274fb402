//! Temp dirs and child processes that clean up even when a test panics, and finding the
//! programs a test needs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The repository root, where `contrib/` lives.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the tests run in CI (`CI` set, as CI services do, to anything but empty,
/// `0` or `false`): there every tool a deployment test needs must be installed.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// A deployment test that cannot run here because `why` (a tool is missing). On a
/// developer's machine it prints `SKIP: <test>: <why>` and the test returns early; the
/// line goes to the stderr handle directly, not through `eprintln!`, so the test harness
/// does not swallow it and it stands next to the test's `ok` in the summary. With
/// [`in_ci`] a missing tool is a broken install step: the test fails instead.
pub(crate) fn skip(why: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("this test");
    assert!(
        !in_ci(),
        "{test} cannot run: {why}; with CI set, a deployment test fails instead of \
         skipping (`sudo bash contrib/ci/install-deploy-deps.sh` installs every tool)"
    );
    let _ = writeln!(std::io::stderr(), "SKIP: {test}: {why}");
}

/// Finds an executable on `PATH` (or an absolute path that exists).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    let path_var = std::env::var_os("PATH")?;
    // Debian puts nginx in /usr/sbin, which a non-root PATH often lacks.
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path_var)
        .chain(extra)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A private (0700) directory under the system temp dir, removed on drop unless the
/// test is panicking (then it is kept and its path printed, for the post-mortem).
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "latchkey-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .unwrap();
        TempDir { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A 0700 subdirectory (created if missing).
    pub(crate) fn subdir(&self, name: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&path)
            .unwrap();
        path
    }

    /// True when the directory belongs to root, i.e. the tests run as root.
    pub(crate) fn owned_by_root(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.uid() == 0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for the post-mortem", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Kills its child (and, if asked, the child's whole process group) on drop, so a failing
/// assertion never leaves a server behind.
pub(crate) struct ChildGuard {
    name: String,
    child: Child,
    kill_group: bool,
}

impl ChildGuard {
    /// Spawns `command`; with `own_group` the child leads a new process group that drop
    /// kills as a whole (node → chromium).
    pub(crate) fn spawn(name: &str, command: &mut Command, own_group: bool) -> ChildGuard {
        if own_group {
            command.process_group(0);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name}: {err}"));
        ChildGuard {
            name: name.to_owned(),
            child,
            kill_group: own_group,
        }
    }

    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Panics with `context` if the child has already exited.
    pub(crate) fn assert_running(&mut self, context: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}): {context}", self.name);
        }
    }

    /// Waits up to `limit` for the child to exit by itself.
    pub(crate) fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        // Without libc there is no kill(2); kill(1) sends the signal.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.kill_group {
            // Without libc there is no killpg; kill(1) takes a negative pid for the group.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects a child's output lines in the background, so a test can both read the log
/// and wait for one particular line.
#[derive(Clone, Default)]
pub(crate) struct LineLog {
    lines: Arc<Mutex<Vec<String>>>,
}

impl LineLog {
    /// Starts a thread that appends every line of `stream` and forwards it on `tx`.
    pub(crate) fn follow(
        stream: impl Read + Send + 'static,
        tx: Option<mpsc::Sender<String>>,
    ) -> LineLog {
        let log = LineLog::default();
        let lines = Arc::clone(&log.lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if let Some(tx) = &tx {
                    let _ = tx.send(line.clone());
                }
                lines.lock().unwrap().push(line);
            }
        });
        log
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub(crate) fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// Waits up to `limit` for a line that contains `needle`; a server logs an event as
    /// it writes the response, so the reader may be a moment behind the client.
    pub(crate) fn wait_for(&self, needle: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return Some(line);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reserves a free loopback port for a server whose config needs the number up front
/// (nginx, Caddy). The tiny window between drop and the server's bind is accepted.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`, failing fast if `guard`'s
/// process dies meanwhile.
pub(crate) fn wait_for_port(port: u16, guard: &mut ChildGuard, diagnostics: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = guard.child_mut().try_wait() {
            panic!(
                "{} exited ({status}) before listening:\n{}",
                guard.name,
                diagnostics()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} never listened on {port}:\n{}",
            guard.name,
            diagnostics()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
