//! Shared plumbing for the deployment tests (`deploy_nginx`, `deploy_caddy`, `browser`,
//! `fail2ban_filter`): temp dirs and child processes that clean up even when a test
//! panics, a latchkey started on a free port, a tiny HTTP/1.1 client with a cookie jar,
//! an upstream that echoes the request head it got, and the login walk a browser does
//! through a reverse proxy.
//!
//! Each test binary uses only part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The repository root, where `contrib/` lives.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Prints the skip reason in the one format CI logs are grepped for. Written to the
/// stderr handle directly, not with `eprintln!`, so the test harness does not swallow it
/// for a passing test.
pub fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP: {why}");
}

/// Finds an executable on `PATH` (or an absolute path that exists).
pub fn find_program(name: &str) -> Option<PathBuf> {
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

// ---------------------------------------------------------------------------
// Temp dirs and child processes.

/// A private (0700) directory under the system temp dir, removed on drop unless the
/// test is panicking (then it is kept and its path printed, for the post-mortem).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh 0700 subdirectory.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&path)
            .unwrap();
        path
    }

    /// True when the directory belongs to root, i.e. the tests run as root.
    pub fn owned_by_root(&self) -> bool {
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
pub struct ChildGuard {
    name: String,
    child: Child,
    kill_group: bool,
}

impl ChildGuard {
    /// Spawns `command`; with `own_group` the child leads a new process group that drop
    /// kills as a whole (node → chromium).
    pub fn spawn(name: &str, command: &mut Command, own_group: bool) -> ChildGuard {
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

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Panics with `context` if the child has already exited.
    pub fn assert_running(&mut self, context: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}): {context}", self.name);
        }
    }

    /// Waits up to `limit` for the child to exit by itself.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
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
pub struct LineLog {
    lines: Arc<Mutex<Vec<String>>>,
}

impl LineLog {
    /// Starts a thread that appends every line of `stream` and forwards it on `tx`.
    pub fn follow(stream: impl Read + Send + 'static, tx: Option<mpsc::Sender<String>>) -> LineLog {
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

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// Waits (bounded) until some line contains `needle`; auth events are logged as the
    /// response is written, so a reader may be a moment behind the client.
    pub fn wait_for(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.lines().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// Reserves a free loopback port for a server whose config needs the number up front
/// (nginx, Caddy). The tiny window between drop and the server's bind is accepted.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`, failing fast if `guard`'s
/// process dies meanwhile.
pub fn wait_for_port(port: u16, guard: &mut ChildGuard, diagnostics: &dyn Fn() -> String) {
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

// ---------------------------------------------------------------------------
// latchkey itself.

pub const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// A latchkey `serve` process on a free port with its stderr captured.
pub struct Latchkey {
    pub guard: ChildGuard,
    pub addr: SocketAddr,
    pub stderr: LineLog,
}

impl Latchkey {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// A fresh data dir with a fixed PBKDF2 cost (no 250 ms calibration) and the given users.
pub fn data_dir_with_users(tmp: &TempDir, users: &[(&str, &str)]) -> PathBuf {
    let dir = tmp.subdir("data");
    std::fs::write(dir.join("pbkdf2-iterations"), "100000").unwrap();
    for (name, password) in users {
        let mut child = latchkey_command()
            .args(["user", "add", name, "--password-stdin", "--data-dir"])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "latchkey user add {name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The latchkey binary with no `LATCHKEY_*` settings leaking in from the caller's env.
pub fn latchkey_command() -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LATCHKEY_") {
            command.env_remove(key);
        }
    }
    command
}

/// Starts `latchkey serve --listen 127.0.0.1:0 --data-dir DIR ARGS…` and waits for its
/// "listening on" line.
pub fn start_latchkey(data_dir: &Path, args: &[&str]) -> Latchkey {
    let mut command = latchkey_command();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args);
    spawn_latchkey(command)
}

/// Spawns a prepared latchkey `serve` command (stdio is set here) and waits for its
/// "listening on" line.
pub fn spawn_latchkey(mut command: Command) -> Latchkey {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn("latchkey", &mut command, false);
    let (tx, rx) = mpsc::channel();
    let stderr = LineLog::follow(guard.child_mut().stderr.take().unwrap(), Some(tx));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = parse_listening_line(&line) {
                    return Latchkey {
                        guard,
                        addr,
                        stderr,
                    };
                }
            }
            Err(_) => panic!(
                "latchkey never said it was listening; stderr:\n{}",
                stderr.text()
            ),
        }
    }
}

/// `latchkey: listening on http://127.0.0.1:PORT/ (data dir …)` → the address.
fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on http://").nth(1)?;
    let addr = rest.split('/').next()?;
    addr.parse().ok()
}

// ---------------------------------------------------------------------------
// A tiny HTTP/1.1 client.

/// One parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` header that sets `cookie`, if any.
    pub fn set_cookie(&self, cookie: &str) -> Option<&str> {
        self.all("set-cookie")
            .into_iter()
            .find(|v| v.split('=').next().is_some_and(|n| n.trim() == cookie))
    }

    /// `Location` as a path on the front server: a relative reference as is, an absolute
    /// URL only if it points back at `127.0.0.1:port` (anything else fails the test).
    pub fn location_path(&self, port: u16) -> String {
        let location = self
            .header("location")
            .unwrap_or_else(|| panic!("no Location in {self:?}"));
        local_path(location, port)
    }
}

/// Strips `http://127.0.0.1:port` from an absolute URL; panics on any other origin.
pub fn local_path(location: &str, port: u16) -> String {
    if location.starts_with('/') && !location.starts_with("//") {
        return location.to_owned();
    }
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        if let Some(path) = location.strip_prefix(&origin) {
            if path.is_empty() {
                return "/".to_owned();
            }
            if path.starts_with('/') {
                return path.to_owned();
            }
        }
    }
    panic!("redirect leaves the site: {location:?}");
}

/// Sends one request with `Connection: close` and reads the whole response.
/// `Host` defaults to `127.0.0.1:port` unless `headers` carries one.
pub fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");

    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|err| panic!("connect 127.0.0.1:{port}: {err}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    if let Err(err) = stream.read_to_end(&mut raw) {
        // A server may reset after a complete response; keep what arrived.
        assert!(!raw.is_empty(), "{method} {target} on :{port}: {err}");
    }
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "{method} {target} on :{port}: unparsable response {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..split)?).ok()?;
    let rest = raw.get(split + 4..)?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(data.get(..eol)?).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = data.get(eol + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The cookies a browser would hold for one site.
#[derive(Default, Debug, Clone)]
pub struct Jar {
    cookies: BTreeMap<String, String>,
}

impl Jar {
    /// Applies every `Set-Cookie` of `response`: an empty value, `Max-Age=0` or an
    /// `Expires` in 1970 deletes.
    pub fn absorb(&mut self, response: &Response) {
        for set in response.all("set-cookie") {
            let mut parts = set.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let deleting = value.trim().is_empty()
                || parts.any(|attr| {
                    let attr = attr.trim().to_ascii_lowercase();
                    attr == "max-age=0" || (attr.starts_with("expires=") && attr.contains("1970"))
                });
            if deleting {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn insert(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// The `Cookie` header value, empty when the jar is.
    pub fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Any session cookie, under either name latchkey may use.
    pub fn session(&self) -> Option<&str> {
        self.get("latchkey_session")
            .or_else(|| self.get("__Host-latchkey_session"))
    }
}

/// Like [`http`] but sends the jar's cookies and absorbs the response's.
pub fn browse(
    port: u16,
    jar: &mut Jar,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let cookie = jar.header();
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if !cookie.is_empty() {
        all.push(("Cookie", &cookie));
    }
    let response = http(port, method, target, &all, body);
    jar.absorb(&response);
    response
}

// ---------------------------------------------------------------------------
// HTML forms and URL encoding.

/// A `<form>` found in a page: its action and its hidden inputs.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub method: String,
    pub hidden: Vec<(String, String)>,
}

impl Form {
    pub fn hidden(&self, name: &str) -> Option<&str> {
        self.hidden
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every `<form>` in `html`, in order.
pub fn forms(html: &str) -> Vec<Form> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<form").map(|i| i + from) {
        let end = lower[start..]
            .find("</form")
            .map_or(html.len(), |i| i + start);
        let tag_end = lower[start..].find('>').map_or(end, |i| i + start);
        let tag = &html[start..tag_end];
        let mut hidden = Vec::new();
        let body = &html[tag_end..end];
        let body_lower = &lower[tag_end..end];
        let mut at = 0;
        while let Some(input) = body_lower[at..].find("<input").map(|i| i + at) {
            let close = body_lower[input..]
                .find('>')
                .map_or(body.len(), |i| i + input);
            let input_tag = &body[input..close];
            if attr(input_tag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden"))
                && let Some(name) = attr(input_tag, "name")
            {
                hidden.push((name, attr(input_tag, "value").unwrap_or_default()));
            }
            at = close;
        }
        found.push(Form {
            action: attr(tag, "action").unwrap_or_default(),
            method: attr(tag, "method")
                .unwrap_or_else(|| "get".to_owned())
                .to_ascii_lowercase(),
            hidden,
        });
        from = end.max(start + 1);
    }
    found
}

/// The (entity-decoded) value of attribute `name` in one tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name).map(|i| i + from) {
        let before_ok = pos > 0 && lower.as_bytes()[pos - 1].is_ascii_whitespace();
        let after = lower[pos + name.len()..].trim_start();
        if before_ok && after.starts_with('=') {
            let value_start = tag.len() - after.len() + 1;
            let value = tag[value_start..].trim_start();
            let raw = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or(""),
            };
            return Some(html_unescape(raw));
        }
        from = pos + name.len();
    }
    None
}

fn html_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `application/x-www-form-urlencoded` / query component encoding.
pub fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (other, _) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The decoded value of query parameter `name` in a path like `/login?next=…`.
pub fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

// ---------------------------------------------------------------------------
// The echo upstream: the "admin page" behind the proxy.

/// Starts a server on a free port that answers every request with 200 and a body that
/// is the request head it received, so a test can see which headers got through.
pub fn start_echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || echo_one(stream));
        }
    });
    port
}

fn echo_one(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let body = format!("ECHO UPSTREAM\r\n{}", String::from_utf8_lossy(&head));
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// The values of header `name` in the request head the echo upstream reported, with
/// `_` and `-` in names counted as the same, as CGI-style apps (WSGI, PHP) read them.
pub fn echoed_header(body: &str, name: &str) -> Vec<String> {
    let wanted = name.replace('_', "-");
    body.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(k, _)| k.trim().replace('_', "-").eq_ignore_ascii_case(&wanted))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

/// The request line the echo upstream reported (`GET /admin/… HTTP/1.0`).
pub fn echoed_request_line(body: &str) -> String {
    body.lines().nth(1).unwrap_or("").to_owned()
}

// ---------------------------------------------------------------------------
// The walk a user's browser does through a reverse proxy in front of latchkey.

/// How the proxy under test answers an API request without credentials.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApiDenial {
    /// nginx `auth_request` passes latchkey's 401 through.
    Plain401,
    /// Caddy `forward_auth` relays latchkey's JSON 401.
    Json401,
}

/// Walks the whole flow through the proxy on `front`: anonymous → login page → wrong
/// password → login → back at the first URL with `Remote-User` at the upstream →
/// bearer token on the API → logout → anonymous again. `prefix` is latchkey's prefix
/// as seen through the proxy (`/latchkey`).
pub fn proxy_walk(front: u16, prefix: &str, latchkey: &Latchkey, api_denial: ApiDenial) {
    let (user, password) = ("alice", "correct horse battery staple");
    let origin = format!("http://127.0.0.1:{front}");
    let browser_nav: &[(&str, &str)] = &[
        ("Accept", "text/html,application/xhtml+xml"),
        ("Sec-Fetch-Mode", "navigate"),
    ];
    let first_url = "/admin/settings?tab=wifi&x=1";

    // 1. Anonymous: sent to the login page, with a way back to the page first asked for.
    let mut jar = Jar::default();
    let anon = browse(front, &mut jar, "GET", first_url, browser_nav, b"");
    assert_eq!(
        anon.status, 302,
        "anonymous request must be redirected to log in: {anon:?}"
    );
    let login_target = anon.location_path(front);
    assert!(
        login_target.starts_with(&format!("{prefix}/login")),
        "redirect goes to {login_target:?}, not the login page"
    );
    let next = query_param(&login_target, "next").expect("login redirect carries next=");
    assert_eq!(
        local_path(&next, front),
        first_url,
        "next= must name the URL first asked for"
    );

    // A forged Remote-User from the client changes nothing.
    let forged = http(
        front,
        "GET",
        first_url,
        &[("Remote-User", user), ("Accept", "text/html")],
        b"",
    );
    assert_eq!(
        forged.status, 302,
        "a client-sent Remote-User must not let anyone in: {forged:?}"
    );

    // 2. The login form, fetched through the proxy.
    let page = browse(front, &mut jar, "GET", &login_target, browser_nav, b"");
    assert_eq!(page.status, 200, "login page: {page:?}");
    assert!(
        jar.get("latchkey_pre").is_some(),
        "login page sets the pre-session cookie: {:?}",
        page.headers
    );
    let form = login_form(&page.body);
    let csrf = form
        .hidden("csrf")
        .expect("login form has a csrf field")
        .to_owned();
    let form_next = form
        .hidden("next")
        .expect("login form has a next field")
        .to_owned();
    assert_eq!(
        local_path(&form_next, front),
        first_url,
        "form carries next through"
    );
    let action = form_action(&form, &format!("{prefix}/login"), &login_target);
    assert!(
        action.starts_with(&format!("{prefix}/")),
        "form posts under the prefix: {action}"
    );

    let headers: Vec<(&str, &str)> = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", &origin),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Mode", "navigate"),
        // Forged by the client: the proxy must replace it with the real peer.
        ("X-Forwarded-For", "198.51.100.77"),
    ];

    // 3. A wrong password: 401, and latchkey logs the real client address, not the forged one.
    let wrong = form_body(&[
        ("csrf", &csrf),
        ("next", &form_next),
        ("username", user),
        ("password", "wrong password"),
    ]);
    let denied = browse(front, &mut jar, "POST", &action, &headers, wrong.as_bytes());
    assert_eq!(denied.status, 401, "wrong password: {denied:?}");
    assert!(
        denied.body.contains("Invalid username or password"),
        "401 page says why: {}",
        denied.body
    );
    assert!(
        latchkey.stderr.wait_for("login failed ip=127.0.0.1"),
        "log: {}",
        latchkey.stderr.text()
    );
    assert!(
        !latchkey.stderr.text().contains("198.51.100.77"),
        "a client-forged X-Forwarded-For reached the log: {}",
        latchkey.stderr.text()
    );
    // The failure page may hand out a fresh form; use it as a browser would.
    let (csrf, form_next) = match login_form_opt(&denied.body) {
        Some(f) => (
            f.hidden("csrf").map_or(csrf.clone(), str::to_owned),
            f.hidden("next").map_or(form_next.clone(), str::to_owned),
        ),
        None => (csrf, form_next),
    };

    // 4. The right password: 303 back to the first URL, with an HttpOnly session cookie.
    let good = form_body(&[
        ("csrf", &csrf),
        ("next", &form_next),
        ("username", user),
        ("password", password),
        ("remember", "1"),
    ]);
    let ok = browse(front, &mut jar, "POST", &action, &headers, good.as_bytes());
    assert_eq!(
        ok.status,
        303,
        "login: {ok:?}\nlatchkey log:\n{}",
        latchkey.stderr.text()
    );
    assert_eq!(
        ok.location_path(front),
        first_url,
        "login lands back at the URL first asked for"
    );
    let set = ok
        .set_cookie("latchkey_session")
        .expect("plain-HTTP login sets latchkey_session");
    let set_lower = set.to_ascii_lowercase();
    assert!(
        set_lower.contains("httponly"),
        "session cookie must be HttpOnly: {set}"
    );
    assert!(
        set_lower.contains("samesite=lax"),
        "session cookie must be SameSite=Lax: {set}"
    );
    assert!(
        set_lower.contains("path=/"),
        "session cookie must be Path=/: {set}"
    );
    let session = jar.session().expect("jar holds the session").to_owned();
    assert!(
        latchkey
            .stderr
            .wait_for(&format!("login ok ip=127.0.0.1 user={user}")),
        "log: {}",
        latchkey.stderr.text()
    );

    // 5. Through to the admin page, as alice, whatever the client claims.
    let admin = browse(
        front,
        &mut jar,
        "GET",
        first_url,
        // CGI, WSGI and PHP read `Remote_User` as the same variable as `Remote-User`.
        &[("Remote-User", "root"), ("Remote_User", "root")],
        b"",
    );
    assert_eq!(
        admin.status, 200,
        "logged-in request reaches the upstream: {admin:?}"
    );
    assert!(
        admin.body.starts_with("ECHO UPSTREAM"),
        "answered by the upstream: {}",
        admin.body
    );
    assert!(
        echoed_request_line(&admin.body).contains("/admin/settings?tab=wifi&x=1"),
        "{}",
        admin.body
    );
    assert_eq!(
        echoed_header(&admin.body, "remote-user"),
        vec![user.to_owned()],
        "upstream saw: {}",
        admin.body
    );

    // latchkey's own welcome page under the prefix.
    let welcome = browse(
        front,
        &mut jar,
        "GET",
        &format!("{prefix}/"),
        browser_nav,
        b"",
    );
    assert_eq!(welcome.status, 200, "welcome page: {welcome:?}");
    assert!(
        welcome.body.contains(&format!("Welcome, {user}!")),
        "{}",
        welcome.body
    );

    // 6. A bearer token from POST /auth opens the API location, both header schemes.
    let auth_body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let auth = http(
        front,
        "POST",
        &format!("{prefix}/auth"),
        &[("Content-Type", "application/json")],
        auth_body.as_bytes(),
    );
    assert_eq!(auth.status, 200, "POST {prefix}/auth: {auth:?}");
    let token = json_string_field(&auth.body, "access_token").expect("access_token in /auth reply");
    for scheme in ["Bearer", "JWT"] {
        let value = format!("{scheme} {token}");
        let api = http(
            front,
            "GET",
            "/api/status",
            &[("Authorization", &value), ("Accept", "application/json")],
            b"",
        );
        assert_eq!(api.status, 200, "{scheme} token on the API: {api:?}");
        assert_eq!(
            echoed_header(&api.body, "remote-user"),
            vec![user.to_owned()],
            "{}",
            api.body
        );
    }
    let anon_api = http(
        front,
        "GET",
        "/api/status",
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(
        anon_api.status, 401,
        "API without a token is refused, not redirected: {anon_api:?}"
    );
    if api_denial == ApiDenial::Json401 {
        assert!(
            anon_api.body.trim_start().starts_with('{'),
            "JSON 401 for API clients: {}",
            anon_api.body
        );
    }
    let forged_token = http(
        front,
        "GET",
        "/api/status",
        &[("Authorization", "Bearer not.a.token")],
        b"",
    );
    assert_eq!(
        forged_token.status, 401,
        "a garbage token is refused: {forged_token:?}"
    );
    assert!(
        latchkey.stderr.wait_for("token rejected ip=127.0.0.1"),
        "log: {}",
        latchkey.stderr.text()
    );

    // 7. Logout with the welcome page's own button, then anonymous again.
    let logout_form = forms(&welcome.body)
        .into_iter()
        .find(|f| f.action.contains("logout"))
        .expect("welcome page has a logout form");
    let logout_action = form_action(
        &logout_form,
        &format!("{prefix}/logout"),
        &format!("{prefix}/"),
    );
    let fields: Vec<(&str, &str)> = logout_form
        .hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let bye = browse(
        front,
        &mut jar,
        "POST",
        &logout_action,
        &headers,
        form_body(&fields).as_bytes(),
    );
    assert_eq!(bye.status, 303, "logout: {bye:?}");
    assert!(
        bye.location_path(front)
            .starts_with(&format!("{prefix}/login")),
        "logout goes to the login page: {bye:?}"
    );
    assert!(
        jar.session().is_none(),
        "logout clears the session cookie: {:?}",
        bye.headers
    );
    assert!(
        latchkey
            .stderr
            .wait_for(&format!("logout ip=127.0.0.1 user={user}")),
        "log: {}",
        latchkey.stderr.text()
    );
    let after = browse(front, &mut jar, "GET", first_url, browser_nav, b"");
    assert_eq!(
        after.status, 302,
        "after logout the admin page needs a login again: {after:?}"
    );

    // The old cookie, replayed by someone who copied it, is dead too.
    let mut stolen = Jar::default();
    stolen.insert("latchkey_session", &session);
    let replay = browse(front, &mut stolen, "GET", first_url, browser_nav, b"");
    assert_eq!(
        replay.status, 302,
        "a session cookie must not outlive its logout: {replay:?}"
    );
}

fn login_form_opt(html: &str) -> Option<Form> {
    forms(html)
        .into_iter()
        .find(|f| f.method == "post" && f.hidden("csrf").is_some() && f.hidden("next").is_some())
}

fn login_form(html: &str) -> Form {
    login_form_opt(html).unwrap_or_else(|| panic!("no login form with csrf and next in:\n{html}"))
}

/// Resolves a form's action the way a browser does: empty → the page's own URL, a
/// relative path against `page`, an absolute path as is. `fallback` when absent.
fn form_action(form: &Form, fallback: &str, page: &str) -> String {
    let action = form.action.as_str();
    if action.is_empty() {
        return if page.is_empty() {
            fallback.to_owned()
        } else {
            page.to_owned()
        };
    }
    if action.starts_with('/') {
        return action.to_owned();
    }
    let base = page.split('?').next().unwrap_or(page);
    let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
    format!("{dir}{action}")
}

/// A string field of a flat JSON object (enough for `{"access_token":"…"}`).
pub fn json_string_field(json: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\"");
    let after = json
        .split(&key)
        .nth(1)?
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let value = after.strip_prefix('"')?;
    Some(value.split('"').next()?.to_owned())
}

// ---------------------------------------------------------------------------
// A real browser: node scripts in tests/browser driving Debian's chromium.

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Why a browser test cannot run here, if it cannot: node, chromium and playwright-core
/// (installed by `npm ci` in tests/browser) must all be present.
pub fn browser_missing() -> Option<String> {
    if find_program("node").is_none() {
        return Some(
            "node is not installed (contrib/ci/install-deploy-deps.sh installs nodejs)".into(),
        );
    }
    if find_program(CHROMIUM).is_none() {
        return Some(format!(
            "{CHROMIUM} is not installed (contrib/ci/install-deploy-deps.sh installs chromium)"
        ));
    }
    let playwright = repo_root().join("tests/browser/node_modules/playwright-core/package.json");
    if !playwright.is_file() {
        return Some(
            "playwright-core is not installed: run `npm ci` in tests/browser \
             (contrib/ci/install-deploy-deps.sh does)"
                .into(),
        );
    }
    None
}

/// What a browser script printed, and whether it finished cleanly.
pub struct BrowserRun {
    pub passed: bool,
    pub stdout: String,
    pub report: String,
}

/// Runs `node tests/browser/<script>` with `env` plus a fresh chromium profile and HOME
/// inside `tmp`; chromium dies with node (own process group) even if the test fails.
pub fn run_browser_script(script: &str, env: &[(&str, String)], tmp: &TempDir) -> BrowserRun {
    let root = repo_root();
    let node = find_program("node").expect("browser_missing() was checked first");
    let mut command = Command::new(node);
    command
        .arg(root.join("tests/browser").join(script))
        .current_dir(root.join("tests/browser"))
        .env("BROWSER_TEST_CHROMIUM", CHROMIUM)
        .env("BROWSER_TEST_PROFILE", tmp.subdir("chromium-profile"))
        // Chromium writes caches and crash reports under HOME: keep them in the temp dir.
        .env("HOME", tmp.subdir("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut browser = ChildGuard::spawn("node", &mut command, true);
    let stdout = LineLog::follow(browser.child_mut().stdout.take().unwrap(), None);
    let stderr = LineLog::follow(browser.child_mut().stderr.take().unwrap(), None);
    let status = browser.wait_timeout(Duration::from_secs(180));
    // The reader threads may still be draining the pipes.
    std::thread::sleep(Duration::from_millis(200));
    let report = format!(
        "--- {script} stdout ---\n{}\n--- {script} stderr ---\n{}\n{}",
        stdout.text(),
        stderr.text(),
        if status.is_none() {
            "(killed after 180 s)"
        } else {
            ""
        }
    );
    BrowserRun {
        passed: status.is_some_and(|s| s.success()),
        stdout: stdout.text(),
        report,
    }
}

/// Chromium walks the proxy at `base` (`http://127.0.0.1:PORT` or `https://…`): the
/// protected page sends it to the login form, the typed credentials bring it back with
/// `Remote-User` at the upstream, signing out locks the page again
/// (tests/browser/proxy.mjs). Skips where no browser is installed.
pub fn browser_proxy_walk(base: &str, prefix: &str, latchkey: &Latchkey, tmp: &TempDir) {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let run = run_browser_script(
        "proxy.mjs",
        &[
            ("BROWSER_TEST_URL", base.to_owned()),
            ("BROWSER_TEST_START", "/admin/settings?tab=wifi".to_owned()),
            ("BROWSER_TEST_PREFIX", prefix.to_owned()),
            ("BROWSER_TEST_USER", "alice".to_owned()),
            (
                "BROWSER_TEST_PASSWORD",
                "correct horse battery staple".to_owned(),
            ),
        ],
        tmp,
    );
    let report = format!(
        "{}\n--- latchkey stderr ---\n{}",
        run.report,
        latchkey.stderr.text()
    );
    println!("{report}");
    assert!(
        run.passed,
        "the browser walk through the proxy failed\n{report}"
    );
    assert!(
        run.stdout.contains("browser proxy walk: all checks passed"),
        "{report}"
    );
}
