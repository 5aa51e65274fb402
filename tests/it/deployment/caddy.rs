//! docs/DEPLOY.md steps 1, 2 and "3c. Behind Caddy", followed as written
//! (`tests/common/recipe.rs`) on a copy of Debian's own `/etc/caddy/Caddyfile`, whose
//! `:80` welcome site stays. Then latchkey runs as the installed unit says, the real Caddy
//! runs that Caddyfile as Debian's unit does, and an HTTP client, a WebSocket client and
//! Chromium walk it, in front of an upstream that echoes what it receives. The
//! `tls internal` step is followed too, and curl trusts the site through the root
//! certificate at the path DEPLOY.md names, as a client would.
//!
//! The test machine differs from the reader's in three ways, each set here: the browser's
//! name for the device is 127.0.0.1 instead of router.lan (curl keeps router.lan), the
//! ports are free ones, and Caddy's global options keep it on loopback, without its
//! admin API and out of the system's trust store.
//! Skips (with a `SKIP:` line) where caddy is not installed; fails instead where CI is set.

use crate::common::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";
const ADMIN: (&str, &str) = ("admin", PASSWORD);
const STEPS: [&str; 3] = [
    "1. Install the binary",
    "2. Run it as a service",
    "3c. Behind Caddy",
];
/// Where DEPLOY.md says Debian's Caddy keeps its local CA's root certificate.
const ROOT_CERT: &str = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt";

/// Replaces every `from`, after checking the file has it `expected` times, so the test
/// cannot silently drift from what users copy.
fn replace_counted(config: &str, from: &str, expected: usize, to: &str) -> String {
    assert_eq!(
        config.matches(from).count(),
        expected,
        "the installed Caddyfile must contain {from:?} {expected} time(s):\n{config}"
    );
    config.replace(from, to)
}

/// The recipe, followed and running.
struct Deployed {
    tmp: TempDir,
    machine: Machine,
    latchkey: Server,
    caddy: ChildGuard,
    log: LineLog,
    http_port: u16,
    https_port: u16,
}

impl Deployed {
    /// Runs `walk`; when it fails, prints what Caddy and latchkey said.
    fn check(&mut self, walk: impl FnOnce(&Deployed)) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| walk(self)));
        if result.is_err() {
            eprintln!("--- caddy log ---\n{}", self.log.text());
            eprintln!("--- latchkey stderr ---\n{}", self.latchkey.log.text());
            eprintln!("--- the steps ---\n{}", self.machine.transcript);
        }
        self.caddy.assert_running("after the walk");
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Debian's Caddy, as its package installed it, in `machine`, with the test machine's
/// global options in front and its welcome site on `http_port`. `None` after a skip.
fn debian_caddy(machine: &Machine, http_port: u16, https_port: u16) -> Option<PathBuf> {
    let Some(caddy) = find_program("caddy") else {
        skip("caddy is not installed (`apt-get install caddy`)");
        return None;
    };
    if let Err(why) = machine.install_package_config("/etc/caddy") {
        skip(&why);
        return None;
    }
    let path = machine.path("/etc/caddy/Caddyfile");
    let stock = std::fs::read_to_string(&path).unwrap();
    let stock = replace_counted(&stock, "\n:80 {", 1, &format!("\n:{http_port} {{"));
    let global = format!(
        "{{\n\tadmin off\n\tdefault_bind 127.0.0.1\n\thttp_port {http_port}\n\
         \thttps_port {https_port}\n\tskip_install_trust\n}}\n\n"
    );
    std::fs::write(&path, global + &stock).unwrap();
    Some(caddy)
}

/// Follows `steps` in a fresh machine and starts what they installed: latchkey as the
/// unit says, Caddy as Debian's unit does (`caddy run --config /etc/caddy/Caddyfile`,
/// HOME being the caddy user's /var/lib/caddy). `as_browser_name` replaces router.lan
/// in the site block and in latchkey's settings. `None` after a skip.
fn deploy(label: &str, steps: &[&str], as_browser_name: Option<&str>) -> Option<Deployed> {
    let tmp = TempDir::new(label);
    let mut machine = Machine::new(&tmp, PASSWORD);
    let (http_port, https_port) = (free_port(), free_port());
    let caddy = debian_caddy(&machine, http_port, https_port)?;
    if !machine.follow_or_skip(steps) {
        return None;
    }
    machine.assert_applied("caddy", "/etc/caddy/");
    let rename = |text: &str| match as_browser_name {
        Some(name) => text.replace("router.lan", name),
        None => text.to_owned(),
    };
    let (latchkey, _) = machine.start_latchkey(|settings| {
        for (_, value) in settings.iter_mut() {
            *value = rename(value);
        }
    });
    let upstream = start_echo_upstream();

    let path = machine.path("/etc/caddy/Caddyfile");
    let config = std::fs::read_to_string(&path).unwrap();
    // Twice each: latchkey for reverse_proxy and forward_auth, the admin page for
    // reverse_proxy and the comment that says it must stay on loopback.
    let config = replace_counted(
        &config,
        "127.0.0.1:8080",
        2,
        &format!("127.0.0.1:{}", latchkey.port()),
    );
    let config = replace_counted(
        &config,
        "127.0.0.1:8081",
        2,
        &format!("127.0.0.1:{upstream}"),
    );
    std::fs::write(&path, rename(&config)).unwrap();

    let home = machine.path("/var/lib/caddy");
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(caddy);
    command
        .args(["run", "--config"])
        .arg(&path)
        .env("HOME", &home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn("caddy", &mut command, false);
    let log = LineLog::follow(guard.child_mut().stderr.take().unwrap(), None);
    let port = if steps.iter().any(|s| s.contains("tls internal")) {
        https_port
    } else {
        http_port
    };
    wait_for_port(port, &mut guard, &|| log.text());
    Some(Deployed {
        tmp,
        machine,
        latchkey,
        caddy: guard,
        log,
        http_port,
        https_port,
    })
}

#[test]
fn login_walk_through_caddy_as_deployed() {
    let Some(mut site) = deploy("caddy", &STEPS, Some("127.0.0.1")) else {
        return;
    };
    site.check(|site| {
        proxy_walk(
            site.http_port,
            "/latchkey",
            &site.latchkey,
            ApiDenial::Json401,
            ADMIN,
        );

        // The site block was added: Debian's welcome site still answers other names.
        let front = SocketAddr::from(([127, 0, 0, 1], site.http_port));
        let stock = request(front, "GET", "/", &[("Host", "welcome.test")], b"");
        assert_eq!(
            stock.status, 200,
            "Debian's :80 site still answers: {stock:?}"
        );
        assert!(
            stock.header("location").is_none() && !stock.text().contains("ECHO UPSTREAM"),
            "{stock:?}"
        );
    });
}

#[test]
fn websockets_through_caddy_as_deployed() {
    let Some(mut site) = deploy("caddy-ws", &STEPS, Some("127.0.0.1")) else {
        return;
    };
    site.check(|site| websocket_walk(site.http_port, "/latchkey", ADMIN));
}

#[test]
fn chromium_through_caddy_as_deployed() {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let Some(mut site) = deploy("caddy-browser", &STEPS, Some("127.0.0.1")) else {
        return;
    };
    site.check(|site| {
        let base = format!("http://127.0.0.1:{}", site.http_port);
        browser_proxy_walk(&base, "/latchkey", &site.latchkey, &site.tmp, ADMIN);
    });
}

/// `curl` as a client of the device that trusts only `ca` and knows router.lan as
/// 127.0.0.1: the status line, headers and body of `path` over HTTPS. Retries while
/// Caddy is still issuing its certificate.
fn curl_router_lan(curl: &Path, ca: Option<&Path>, port: u16, path: &str) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut command = Command::new(curl);
        command
            .args(["--silent", "--show-error", "--include", "--max-time", "5"])
            .args(["--resolve", &format!("router.lan:{port}:127.0.0.1")]);
        if let Some(ca) = ca {
            command.arg("--cacert").arg(ca);
        }
        let output = command
            .arg(format!("https://router.lan:{port}{path}"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // 35: TLS handshake failed, which it does until the certificate is there.
        if output.status.code() != Some(35) || Instant::now() > deadline {
            return (output.status.success(), text);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn tls_internal_for_a_lan_name_as_deployed() {
    let Some(curl) = find_program("curl") else {
        skip("curl is not installed to act as an HTTPS client");
        return;
    };
    let steps = [STEPS[0], STEPS[1], STEPS[2], "tls internal"];
    assert!(
        deploy_section("tls internal").contains(ROOT_CERT),
        "DEPLOY.md names the root certificate's path, {ROOT_CERT}"
    );
    let Some(mut site) = deploy("caddy-tls", &steps, None) else {
        return;
    };
    site.check(|site| {
        let config = std::fs::read_to_string(site.machine.path("/etc/caddy/Caddyfile")).unwrap();
        assert!(
            config.contains("\nrouter.lan {\n\ttls internal\n"),
            "the sed made an HTTPS site block with tls internal:\n{config}"
        );
        let port = site.https_port;
        let (_, untrusted) = curl_router_lan(&curl, None, port, "/latchkey/healthz");
        let ca = site.machine.path(ROOT_CERT);
        let (ok, health) = curl_router_lan(&curl, Some(&ca), port, "/latchkey/healthz");
        assert!(
            ok && health.contains("HTTP/2 200") && health.trim_end().ends_with("ok"),
            "with {ROOT_CERT} as its CA, a client reaches latchkey over HTTPS:\n{health}"
        );
        assert!(
            !untrusted.contains(" 200"),
            "without the root certificate the client must not trust the site:\n{untrusted}"
        );
        let (ok, admin) = curl_router_lan(&curl, Some(&ca), port, "/admin");
        let head = admin.to_ascii_lowercase();
        assert!(
            ok && head.starts_with("http/2 302")
                && head.contains("location: ")
                && head.contains("/latchkey/login")
                && head.contains("cache-control: no-store"),
            "a stranger is sent to the login form, over HTTPS:\n{admin}"
        );
    });
}
