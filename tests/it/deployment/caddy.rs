//! The shipped `contrib/caddy/Caddyfile`, run by a real Caddy on loopback in front of a
//! real latchkey and an upstream that echoes what it receives: the same login walk as
//! the nginx test, through `forward_auth` to latchkey's `/latchkey/forward-auth`.
//! A second test drives Chromium through the same Caddy (tests/browser/proxy.mjs).
//! Skips (with a `SKIP:` line) where caddy is not installed; CI installs Debian's.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// Replaces every `from`, after checking the shipped file has it `expected` times, so
/// the test cannot silently drift from what users copy.
fn replace_counted(config: &str, from: &str, expected: usize, to: &str) -> String {
    assert_eq!(
        config.matches(from).count(),
        expected,
        "contrib/caddy/Caddyfile must contain {from:?} {expected} time(s)"
    );
    config.replace(from, to)
}

/// Global options that keep Caddy off the network and inside `tmp`, then the shipped
/// site block on a loopback port.
fn caddy_config(tmp: &TempDir, front: u16, latchkey: u16, upstream: u16) -> String {
    let shipped = std::fs::read_to_string(repo_root().join("contrib/caddy/Caddyfile")).unwrap();
    let site = replace_counted(
        &shipped,
        "http://router.lan {",
        1,
        &format!("http://127.0.0.1:{front} {{\n\tbind 127.0.0.1"),
    );
    let site = replace_counted(
        &site,
        "reverse_proxy 127.0.0.1:8080",
        1,
        &format!("reverse_proxy 127.0.0.1:{latchkey}"),
    );
    let site = replace_counted(
        &site,
        "forward_auth 127.0.0.1:8080",
        1,
        &format!("forward_auth 127.0.0.1:{latchkey}"),
    );
    let site = replace_counted(
        &site,
        "reverse_proxy 127.0.0.1:8081",
        1,
        &format!("reverse_proxy 127.0.0.1:{upstream}"),
    );
    format!(
        "{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {{\n\t\troot {}\n\t}}\n}}\n\n{site}",
        tmp.path().join("storage").display()
    )
}

/// latchkey behind Caddy: forward-auth rebuilds the original URL from X-Forwarded-Host,
/// so the site's host:port must be an allowed host for next= to survive.
fn start_latchkey_for(data: &Path, front_host: &str) -> Server {
    Server::start(
        data,
        &[
            "--prefix",
            "/latchkey",
            "--trusted-proxy",
            "127.0.0.1",
            "--allowed-host",
            front_host,
        ],
    )
}

#[test]
fn login_walk_through_caddy_forward_auth() {
    let Some(caddy) = find_program("caddy") else {
        skip("caddy is not installed (contrib/ci/install-deploy-deps.sh installs Debian's caddy)");
        return;
    };
    let tmp = TempDir::new("caddy");
    let data = data_dir_with_users(&tmp, &[("alice", "correct horse battery staple")]);
    let upstream = start_echo_upstream();
    // The front port goes into latchkey's allowed hosts, so pick it first.
    let front_guess = free_port();
    let latchkey = start_latchkey_for(&data, &format!("127.0.0.1:{front_guess}"));
    let (mut caddy_guard, front, caddy_log) =
        start_caddy_on(&caddy, &tmp, front_guess, latchkey.port(), upstream);

    let walk =
        std::panic::catch_unwind(|| proxy_walk(front, "/latchkey", &latchkey, ApiDenial::Json401));
    if walk.is_err() {
        eprintln!("--- caddy log ---\n{}", caddy_log.text());
        eprintln!("--- latchkey stderr ---\n{}", latchkey.log.text());
    }
    caddy_guard.assert_running("after the walk");
    if let Err(panic) = walk {
        std::panic::resume_unwind(panic);
    }
}

/// Starts Caddy on `front` with HOME and XDG dirs inside `tmp`; returns its guard,
/// port, and captured log.
fn start_caddy_on(
    caddy: &Path,
    tmp: &TempDir,
    front: u16,
    latchkey: u16,
    upstream: u16,
) -> (ChildGuard, u16, LineLog) {
    let config_path = tmp.path().join("Caddyfile");
    std::fs::write(&config_path, caddy_config(tmp, front, latchkey, upstream)).unwrap();
    let home = tmp.subdir("home");
    let mut command = Command::new(caddy);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config_path)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn("caddy", &mut command, false);
    let log = LineLog::follow(guard.child_mut().stderr.take().unwrap(), None);
    wait_for_port(front, &mut guard, &|| log.text());
    (guard, front, log)
}

#[test]
fn chromium_through_caddy() {
    let Some(caddy) = find_program("caddy") else {
        skip("caddy is not installed (contrib/ci/install-deploy-deps.sh installs Debian's caddy)");
        return;
    };
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let tmp = TempDir::new("caddy-browser");
    let data = data_dir_with_users(&tmp, &[("alice", "correct horse battery staple")]);
    let upstream = start_echo_upstream();
    let front = free_port();
    let latchkey = start_latchkey_for(&data, &format!("127.0.0.1:{front}"));
    let (_caddy_guard, front, _log) =
        start_caddy_on(&caddy, &tmp, front, latchkey.port(), upstream);
    browser_proxy_walk(
        &format!("http://127.0.0.1:{front}"),
        "/latchkey",
        &latchkey,
        &tmp,
    );
}
