//! Test harness: runs the real `latchkey` binary on an ephemeral loopback port with a
//! temporary data dir, and speaks HTTP/1.1 to it over raw sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
/// The lowest cost the service accepts; keeps each login at tens of milliseconds.
pub const TEST_ITERATIONS: &str = "100000";

/// A fresh temporary data dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n: u64 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let p = std::env::temp_dir().join(format!("latchkey-it-{name}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// A data dir inside this temp dir, with the hash cost preset so no calibration runs.
    pub fn data_dir(&self) -> PathBuf {
        let d = self.0.join("data");
        if !d.exists() {
            std::fs::create_dir_all(&d).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
            std::fs::write(d.join("pbkdf2-iterations"), format!("{TEST_ITERATIONS}\n")).unwrap();
        }
        d
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Output of one CLI run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `latchkey ARGS` with `stdin` as its input.
pub fn cli(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(BIN)
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
pub fn add_user(data: &Path, name: &str, password: &str) {
    let r = cli(
        &[
            "user",
            "add",
            name,
            "--password-stdin",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &format!("{password}\n"),
    );
    assert_eq!(r.code, 0, "user add failed: {}", r.stderr);
}

/// A running `latchkey serve`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `latchkey serve --listen 127.0.0.1:0 --data-dir DATA EXTRA…` and waits
    /// until it says where it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("latchkey: listening on http://") {
                    let addr = rest.split('/').next().unwrap().to_owned();
                    let _ = tx.send(addr);
                }
                log2.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not start");
        Server {
            child,
            addr: addr.parse().unwrap(),
            log,
        }
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(l) = self.log_lines().into_iter().find(|l| l.contains(needle)) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}: {:?}",
                self.log_lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        request(self.addr, "GET", path, headers, b"")
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        request(self.addr, "POST", path, headers, body)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> i32 {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status.code().unwrap_or(-1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not json: {}", self.text()))
    }
    /// `name=value` of the Set-Cookie named `name` (prefix-insensitive search by suffix).
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers_all("set-cookie").into_iter().find(|c| {
            c.split('=')
                .next()
                .is_some_and(|n| n == name || n == format!("__Host-{name}"))
        })
    }
    /// The `name=value` pair of a Set-Cookie, ready for a Cookie header.
    pub fn cookie_pair(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .map(|c| c.split(';').next().unwrap().to_owned())
    }
}

/// One request on a fresh connection (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes).unwrap();
    read_response(&mut s, method == "HEAD")
}

/// Reads one response from `s`.
pub fn read_response(s: &mut TcpStream, head: bool) -> Resp {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "connection closed before a full response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head_text = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let len = if head { 0 } else { len };
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Resp {
        status,
        headers,
        body,
    }
}

/// Percent-encodes a form value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Builds an urlencoded form body.
pub fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The value of the hidden input `name` in an HTML page.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.split("value=\"").nth(1)?;
    Some(
        v.split('"')
            .next()?
            .replace("&amp;", "&")
            .replace("&#x2F;", "/")
            .replace("&#47;", "/"),
    )
}

/// A browser-like login: GET the form (pre-session cookie + CSRF token), then POST it.
/// Returns the POST's response.
pub fn browser_login(
    srv: &Server,
    user: &str,
    pass: &str,
    remember: bool,
    next: Option<&str>,
) -> Resp {
    let page = srv.get(
        &match next {
            Some(n) => format!("/login?next={}", enc(n)),
            None => "/login".to_owned(),
        },
        &[],
    );
    assert_eq!(page.status, 200);
    let pre = page
        .cookie_pair("latchkey_pre")
        .expect("pre-session cookie");
    let html = page.text();
    let csrf = hidden_input(&html, "csrf").expect("csrf field");
    let next_field = hidden_input(&html, "next").unwrap_or_else(|| "/".into());
    let mut fields = vec![
        ("username", user),
        ("password", pass),
        ("csrf", csrf.as_str()),
        ("next", next_field.as_str()),
    ];
    if remember {
        fields.push(("remember", "1"));
    }
    let origin = format!("http://{}", srv.addr);
    srv.post(
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &pre),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&fields),
    )
}

/// Waits (5 s at most) until `path` with `headers` is no longer answered 200: the
/// server reloads revocations and users about once a second.
pub fn eventually_refused(srv: &Server, headers: &[(&str, &str)], path: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while srv.get(path, headers).status == 200 {
        assert!(Instant::now() < deadline, "{path} still accepted");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An access token from `POST /auth`.
pub fn api_token(srv: &Server, user: &str, pass: &str) -> String {
    let body = serde_json::json!({ "username": user, "password": pass }).to_string();
    let r = srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// What `cookie::header::get_unique_in` answered before it walked the line on bytes
/// (main at 7c46436), the model the hot-path tests compare the byte walk with: split at `;`,
/// trim blanks, split at the first `=`, compare the trimmed name, unquote, check.
pub fn old_cookie_walk<'a>(
    lines: &[&'a str],
    name: &str,
) -> Result<Option<&'a str>, latchkey::cookie::CookieError> {
    let octet = |b: u8| (0x21..=0x7E).contains(&b) && !b"\",;\\".contains(&b);
    let mut found = None;
    for line in lines {
        for segment in line.split(';') {
            let segment = segment.trim_matches([' ', '\t']);
            let Some((raw_name, raw_value)) = segment.split_once('=') else {
                continue;
            };
            if raw_name.trim_end_matches([' ', '\t']) != name {
                continue;
            }
            if raw_name.len() != name.len() {
                return Err(latchkey::cookie::CookieError::MalformedPair);
            }
            let value = raw_value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(raw_value);
            if !value.bytes().all(octet) {
                return Err(latchkey::cookie::CookieError::MalformedPair);
            }
            if found.is_some() {
                return Err(latchkey::cookie::CookieError::DuplicateCookie);
            }
            found = Some(value);
        }
    }
    Ok(found)
}
