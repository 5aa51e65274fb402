//! The shipped `contrib/nginx/latchkey.conf`, run by a real nginx on loopback in front of
//! a real latchkey and an upstream that echoes what it receives: the login walk a
//! browser does, `Remote-User` at the upstream, a bearer token on the API location,
//! logout. A second test drives Chromium through the same nginx (tests/browser/proxy.mjs).
//! Skips (with a `SKIP:` line) where nginx is not installed; CI installs it.

use crate::common::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A self-signed certificate for 127.0.0.1 and its key.
struct Tls {
    cert: PathBuf,
    key: PathBuf,
}

/// Makes a throwaway certificate with openssl(1); `None` where openssl is missing.
fn self_signed(tmp: &TempDir) -> Option<Tls> {
    let openssl = find_program("openssl")?;
    let tls = Tls {
        cert: tmp.path().join("cert.pem"),
        key: tmp.path().join("key.pem"),
    };
    let output = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args([
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&tls.key)
        .arg("-out")
        .arg(&tls.cert)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(tls)
}

/// Swaps one line of the shipped config, failing loudly when the shipped file no longer
/// has it, so the test cannot silently drift from what users copy.
fn replace_once(config: &str, from: &str, to: &str) -> String {
    assert_eq!(
        config.matches(from).count(),
        1,
        "contrib/nginx/latchkey.conf must contain {from:?} exactly once"
    );
    config.replacen(from, to, 1)
}

/// The shipped server block with loopback ports, wrapped in a main config that keeps
/// every file nginx writes inside `tmp`.
fn nginx_config(
    tmp: &TempDir,
    front: u16,
    latchkey: u16,
    upstream: u16,
    tls: Option<&Tls>,
) -> String {
    let shipped = std::fs::read_to_string(repo_root().join("contrib/nginx/latchkey.conf")).unwrap();
    let site = replace_once(
        &shipped,
        "server 127.0.0.1:8080;",
        &format!("server 127.0.0.1:{latchkey};"),
    );
    let site = replace_once(
        &site,
        "server 127.0.0.1:8081;",
        &format!("server 127.0.0.1:{upstream};"),
    );
    let listen = match tls {
        None => format!("listen 127.0.0.1:{front};"),
        // What a deployment adds for HTTPS, in place of `listen 80;`.
        Some(tls) => format!(
            "listen 127.0.0.1:{front} ssl;\n    ssl_certificate {};\n    ssl_certificate_key {};",
            tls.cert.display(),
            tls.key.display()
        ),
    };
    let site = replace_once(&site, "listen 80;", &listen);
    let dir = tmp.path().display();
    // One process, no workers: SIGKILL from the guard then stops all of nginx, and as
    // root no worker drops to `nobody` (who could not enter the 0700 temp dir).
    format!(
        "daemon off;\n\
         master_process off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         access_log {dir}/access.log;\n\
         client_body_temp_path {dir}/client_body;\n\
         proxy_temp_path {dir}/proxy;\n\
         fastcgi_temp_path {dir}/fastcgi;\n\
         uwsgi_temp_path {dir}/uwsgi;\n\
         scgi_temp_path {dir}/scgi;\n\
         {site}\n\
         }}\n"
    )
}

/// Starts nginx (after `nginx -t` accepts the config) on a free port in front of
/// `latchkey_port` and `upstream`; returns its guard and port.
fn start_nginx(
    nginx: &Path,
    tmp: &TempDir,
    latchkey_port: u16,
    upstream: u16,
    tls: Option<&Tls>,
) -> (ChildGuard, u16) {
    let front = free_port();
    let config_path = tmp.path().join("nginx.conf");
    std::fs::write(
        &config_path,
        nginx_config(tmp, front, latchkey_port, upstream, tls),
    )
    .unwrap();
    let prefix_dir = tmp.subdir("prefix");
    let error_log = tmp.path().join("error.log");
    let base_args = |command: &mut Command| {
        command
            .arg("-p")
            .arg(&prefix_dir)
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&config_path);
    };

    let mut check = Command::new(nginx);
    base_args(&mut check);
    let check = check.arg("-t").output().unwrap();
    assert!(
        check.status.success(),
        "nginx -t rejects the generated config:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let mut command = Command::new(nginx);
    base_args(&mut command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut guard = ChildGuard::spawn("nginx", &mut command, false);
    wait_for_port(front, &mut guard, &|| nginx_log(tmp));
    (guard, front)
}

fn nginx_log(tmp: &TempDir) -> String {
    std::fs::read_to_string(tmp.path().join("error.log")).unwrap_or_default()
}

#[test]
fn login_walk_through_nginx_auth_request() {
    let Some(nginx) = find_program("nginx") else {
        skip("nginx is not installed (contrib/ci/install-deploy-deps.sh installs it)");
        return;
    };
    let tmp = TempDir::new("nginx");
    let data = data_dir_with_users(&tmp, &[("alice", "correct horse battery staple")]);
    let latchkey = Server::start(
        &data,
        &["--prefix", "/latchkey", "--trusted-proxy", "127.0.0.1"],
    );
    let upstream = start_echo_upstream();
    let (mut nginx_guard, front) = start_nginx(&nginx, &tmp, latchkey.port(), upstream, None);

    let walk =
        std::panic::catch_unwind(|| proxy_walk(front, "/latchkey", &latchkey, ApiDenial::Plain401));
    if walk.is_err() {
        eprintln!("--- nginx error.log ---\n{}", nginx_log(&tmp));
        eprintln!("--- latchkey stderr ---\n{}", latchkey.log.text());
    }
    nginx_guard.assert_running("after the walk");
    if let Err(panic) = walk {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn nginx_hides_the_verify_endpoint_and_forwards_only_its_own_remote_user() {
    let Some(nginx) = find_program("nginx") else {
        skip("nginx is not installed (contrib/ci/install-deploy-deps.sh installs it)");
        return;
    };
    let tmp = TempDir::new("nginx-internal");
    let data = data_dir_with_users(&tmp, &[("bob", "another long passphrase")]);
    let latchkey = Server::start(
        &data,
        &["--prefix", "/latchkey", "--trusted-proxy", "127.0.0.1"],
    );
    let upstream = start_echo_upstream();
    let (_nginx_guard, front) = start_nginx(&nginx, &tmp, latchkey.port(), upstream, None);
    let front = SocketAddr::from(([127, 0, 0, 1], front));

    // The internal subrequest location is not reachable from outside.
    let internal = request(front, "GET", "/_latchkey_verify", &[], b"");
    assert_eq!(
        internal.status, 404,
        "the auth subrequest location must be internal: {internal:?}"
    );

    // A token for bob on the API: the upstream gets exactly one Remote-User, bob's,
    // even when the client sends its own.
    let body = r#"{"username":"bob","password":"another long passphrase"}"#;
    let auth = request(
        front,
        "POST",
        "/latchkey/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(auth.status, 200, "{auth:?}");
    let token = auth.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let bearer = format!("Bearer {token}");
    let api = request(
        front,
        "GET",
        "/api/x",
        &[("Authorization", &bearer), ("Remote-User", "admin")],
        b"",
    );
    assert_eq!(api.status, 200, "{api:?}");
    assert_eq!(
        echoed_header(&api.text(), "remote-user"),
        vec!["bob".to_owned()],
        "{}",
        api.text()
    );

    // latchkey's health check is reachable through the proxy.
    let health = request(front, "GET", "/latchkey/healthz", &[], b"");
    assert_eq!(
        (health.status, health.text().trim()),
        (200, "ok"),
        "{health:?}"
    );
}

#[test]
fn chromium_through_nginx() {
    let Some(nginx) = find_program("nginx") else {
        skip("nginx is not installed (contrib/ci/install-deploy-deps.sh installs it)");
        return;
    };
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let tmp = TempDir::new("nginx-browser");
    let data = data_dir_with_users(&tmp, &[("alice", "correct horse battery staple")]);
    let latchkey = Server::start(
        &data,
        &["--prefix", "/latchkey", "--trusted-proxy", "127.0.0.1"],
    );
    let upstream = start_echo_upstream();
    let (_nginx_guard, front) = start_nginx(&nginx, &tmp, latchkey.port(), upstream, None);
    browser_proxy_walk(
        &format!("http://127.0.0.1:{front}"),
        "/latchkey",
        &latchkey,
        &tmp,
    );
}

#[test]
fn chromium_through_nginx_over_https() {
    let Some(nginx) = find_program("nginx") else {
        skip("nginx is not installed (contrib/ci/install-deploy-deps.sh installs it)");
        return;
    };
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let tmp = TempDir::new("nginx-https");
    let Some(tls) = self_signed(&tmp) else {
        skip("openssl is not installed to make a test certificate");
        return;
    };
    let data = data_dir_with_users(&tmp, &[("alice", "correct horse battery staple")]);
    // The shipped recipe, unchanged: `--cookie-secure auto` follows nginx's X-Forwarded-Proto.
    let latchkey = Server::start(
        &data,
        &["--prefix", "/latchkey", "--trusted-proxy", "127.0.0.1"],
    );
    let upstream = start_echo_upstream();
    let (_nginx_guard, front) = start_nginx(&nginx, &tmp, latchkey.port(), upstream, Some(&tls));
    // proxy.mjs checks that over HTTPS the session cookie is `__Host-` and Secure.
    browser_proxy_walk(
        &format!("https://127.0.0.1:{front}"),
        "/latchkey",
        &latchkey,
        &tmp,
    );
}
