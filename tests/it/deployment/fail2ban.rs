//! `contrib/fail2ban/filter.d/latchkey.conf` against log lines latchkey really printed:
//! failed and throttled logins (through a trusted proxy, so the address is the client's from
//! X-Forwarded-For, IPv4 and IPv6, and one with a user name that tries to smuggle in
//! another address) must each match with the client's address; a good login must not.
//! Checked with fail2ban's own `fail2ban-regex` where installed, and with Python's `re`
//! on the same regex (also covering the uncut journal form of a line) where python3 is.
//! The jail, installed as docs/DEPLOY.md step 4 says (`tests/common/recipe.rs`), passes
//! `fail2ban-client -t` and bans at the port the clients use: the proxy's, or latchkey's
//! own when it serves the pages alone.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const PASSWORD: &str = "correct horse battery staple";

/// One curl-like form post (no Origin, no cookie, so no csrf needed) from `client` as
/// reported by the trusted proxy in X-Forwarded-For.
fn login(latchkey: &Server, client: &str, user: &str, password: &str) -> u16 {
    let body = form(&[("username", user), ("password", password)]);
    let response = latchkey.post(
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-For", client),
        ],
        &body,
    );
    response.status
}

fn auth_failure_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.contains("latchkey: login failed ip=") || l.contains("latchkey: login throttled ip=")
        })
        .count()
}

#[test]
fn filter_matches_every_failed_login_with_the_clients_address() {
    let tmp = TempDir::new("fail2ban");
    let data = data_dir_with_users(&tmp, &[("alice", PASSWORD)]);
    let latchkey = Server::start(&data, &["--trusted-proxy", "127.0.0.1"]);

    // The addresses fail2ban must report, in order: one per failed attempt.
    let mut expected = Vec::new();
    for _ in 0..3 {
        assert_eq!(login(&latchkey, "192.0.2.44", "alice", "wrong"), 401);
        expected.push("192.0.2.44");
    }
    // The fourth try runs into latchkey's own lockout: a `login throttled` line.
    assert_eq!(login(&latchkey, "192.0.2.44", "alice", "wrong"), 429);
    expected.push("192.0.2.44");
    assert_eq!(login(&latchkey, "2001:db8::44", "alice", "wrong"), 401);
    expected.push("2001:db8::44");
    assert_ne!(
        login(
            &latchkey,
            "192.0.2.45",
            "mallory ip=203.0.113.5 latchkey: login failed ip=203.0.113.6",
            "x"
        ),
        303
    );
    expected.push("192.0.2.45");
    assert_eq!(
        login(&latchkey, "192.0.2.46", "alice", PASSWORD),
        303,
        "the good login succeeds"
    );

    // Wait until all six auth events are in the captured log.
    latchkey.wait_log("login ok ip=192.0.2.46");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while auth_failure_lines(&latchkey.log.text()) < expected.len()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log_text = latchkey.log.text() + "\n";
    assert_eq!(
        auth_failure_lines(&log_text),
        expected.len(),
        "one line per failed attempt:\n{log_text}"
    );
    assert!(
        log_text.contains("latchkey: login throttled ip=192.0.2.44 "),
        "{log_text}"
    );
    let log_path = tmp.path().join("latchkey.log");
    std::fs::write(&log_path, &log_text).unwrap();
    let filter = repo_root().join("contrib/fail2ban/filter.d/latchkey.conf");

    let mut checked = false;
    if let Some(fail2ban_regex) = find_program("fail2ban-regex") {
        let ips = fail2ban_regex_ips(&fail2ban_regex, &log_path, &filter);
        assert_eq!(
            ips, expected,
            "fail2ban-regex reports these addresses for:\n{log_text}"
        );
        let summary = run(Command::new(&fail2ban_regex).arg(&log_path).arg(&filter));
        let total = log_text.lines().count();
        let want = format!(
            "Lines: {total} lines, 0 ignored, {} matched, {} missed",
            expected.len(),
            total - expected.len()
        );
        assert!(
            summary.contains(&want),
            "fail2ban-regex summary lacks {want:?}:\n{summary}"
        );
        checked = true;
    }
    if let Some(python) = find_program("python3") {
        let ips = python_regex_ips(&python, &log_path, &filter, "");
        assert_eq!(ips, expected, "the failregex (Python re) on:\n{log_text}");
        // The journal hands fail2ban the line with the host and unit in front, stamp uncut.
        let ips = python_regex_ips(&python, &log_path, &filter, "myrouter latchkey[812]: ");
        assert_eq!(
            ips, expected,
            "the failregex on journal-style lines of:\n{log_text}"
        );
        checked = true;
    }
    if !checked {
        skip("neither fail2ban-regex nor python3 is installed to run the filter's regex");
    }
}

/// Follows docs/DEPLOY.md's steps 1, 2, `way` and 4 (and `extra`) on a copy of Debian's
/// /etc/fail2ban with the stock jails off (the sshd jail fails `-t` on a machine without
/// /var/log/auth.log); returns the machine and what `fail2ban-client -d` says of the
/// `latchkey` jail's ban action. `None` after a skip.
fn jail_as_deployed(label: &str, way: &[&str]) -> Option<(Machine, String)> {
    let Some(client) = find_program("fail2ban-client") else {
        skip("fail2ban is not installed (`apt-get install fail2ban`)");
        return None;
    };
    let tmp = TempDir::new(label);
    let mut machine = Machine::new(&tmp, PASSWORD);
    if let Err(why) = machine.install_package_config("/etc/fail2ban") {
        skip(&why);
        return None;
    }
    for entry in std::fs::read_dir(machine.path("/etc/fail2ban/jail.d")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let mut steps = vec!["1. Install the binary", "2. Run it as a service"];
    steps.extend_from_slice(way);
    if !machine.follow_or_skip(&steps) {
        return None;
    }
    machine.assert_applied("fail2ban", "/etc/fail2ban/");
    let dump = run(Command::new(client)
        .arg("-c")
        .arg(machine.path("/etc/fail2ban"))
        .arg("-d"));
    let action = dump
        .lines()
        .find(|l| l.starts_with("['multi-set', 'latchkey', 'action'"))
        .unwrap_or_else(|| panic!("the latchkey jail has a ban action:\n{dump}"))
        .to_owned();
    drop(tmp);
    Some((machine, action))
}

#[test]
fn jail_behind_a_proxy_bans_at_the_proxys_ports() {
    let Some((_, action)) = jail_as_deployed("fail2ban-proxy", &["4. Ban repeat offenders"]) else {
        return;
    };
    // nginx (3b) and Caddy (3c) take the clients on 80 and 443.
    assert!(
        action.contains("--dports http,https"),
        "the ban closes the proxy's ports to the address: {action}"
    );
}

#[test]
fn jail_for_latchkey_alone_bans_at_latchkeys_port() {
    let Some((machine, action)) = jail_as_deployed(
        "fail2ban-alone",
        &[
            "3a. latchkey alone",
            "4. Ban repeat offenders",
            "fail2ban for latchkey alone",
        ],
    ) else {
        return;
    };
    let settings = machine
        .last_start("latchkey")
        .and_then(|s| s.settings.clone())
        .expect("3a restarts latchkey with its settings");
    let listen = settings
        .lines()
        .find_map(|l| l.strip_prefix("LATCHKEY_LISTEN="))
        .expect("3a sets LATCHKEY_LISTEN");
    let port = listen.rsplit(':').next().unwrap();
    assert!(
        action.contains(&format!("--dports {port} ")),
        "the ban closes latchkey's own port {port} ({listen}) to the address: {action}"
    );
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// `fail2ban-regex -o ip`: one matched address per line.
fn fail2ban_regex_ips(program: &Path, log: &Path, filter: &Path) -> Vec<String> {
    let output = Command::new(program)
        .args(["-o", "ip"])
        .arg(log)
        .arg(filter)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "fail2ban-regex: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The filter's failregex (read with fail2ban's `%(name)s` interpolation, `<HOST>` as an
/// address group) searched in every log line with `prefix` in front, as Python `re`
/// (fail2ban's own engine) does it; returns the captured addresses.
fn python_regex_ips(python: &Path, log: &Path, filter: &Path, prefix: &str) -> Vec<String> {
    const SCRIPT: &str = r#"
import configparser, re, sys
conf = configparser.ConfigParser()
conf.read(sys.argv[1])
host = r"(?P<host>[0-9A-Fa-f:.]+)"
regexes = [re.compile(r.strip().replace("<HOST>", host))
           for r in conf.get("Definition", "failregex").splitlines() if r.strip()]
for line in open(sys.argv[2]):
    line = sys.argv[3] + line.rstrip("\n")
    for rx in regexes:
        m = rx.search(line)
        if m:
            print(m.group("host"))
            break
"#;
    let output = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(filter)
        .arg(log)
        .arg(prefix)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python3 regex check: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
