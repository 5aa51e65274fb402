//! docs/DEPLOY.md steps 1, 2 and "3b. Behind nginx", followed as written
//! (`tests/common/recipe.rs`) on a copy of Debian's own `/etc/nginx`: its `nginx.conf`
//! including `conf.d/` and `sites-enabled/`, the stock default site still enabled. Then
//! latchkey runs as the installed unit says, the real nginx runs that config (the
//! reader's ports 80, 8080 and 8081 swapped for free ones), and an HTTP client, a
//! WebSocket client and Chromium walk it, in front of an upstream that echoes what it
//! receives. Without the step that disables Debian's default site, `nginx -t` refuses.
//! Skips (with a `SKIP:` line) where nginx is not installed; fails instead where CI is set.

use crate::common::*;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const PASSWORD: &str = "correct horse battery staple";
const ADMIN: (&str, &str) = ("admin", PASSWORD);
const STEPS: [&str; 3] = [
    "1. Install the binary",
    "2. Run it as a service",
    "3b. Behind nginx",
];

/// A self-signed certificate for 127.0.0.1 and its key.
struct Tls {
    cert: PathBuf,
    key: PathBuf,
}

/// Makes a throwaway certificate with openssl(1); `None` (after a skip) where openssl
/// is missing.
fn self_signed(tmp: &TempDir) -> Option<Tls> {
    let Some(openssl) = find_program("openssl") else {
        skip("openssl is not installed to make a test certificate");
        return None;
    };
    let tls = Tls {
        cert: tmp.path().join("cert.pem"),
        key: tmp.path().join("key.pem"),
    };
    let output = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
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

/// Swaps one line of an installed config, failing loudly when the file no longer has it,
/// so the test cannot silently drift from what users copy.
fn replace_once(config: &str, from: &str, to: &str) -> String {
    assert_eq!(
        config.matches(from).count(),
        1,
        "the installed config must contain {from:?} exactly once:\n{config}"
    );
    config.replacen(from, to, 1)
}

/// Debian's nginx, as its package installed it, in `machine`: `None` (after a skip)
/// where nginx or its Debian config is missing. Debian's nginx keeps its temp files in
/// /var/lib/nginx (compiled in); they move into the root like every other path.
fn debian_nginx(machine: &Machine) -> Option<PathBuf> {
    let Some(nginx) = find_program("nginx") else {
        skip("nginx is not installed (`apt-get install nginx`)");
        return None;
    };
    if let Err(why) = machine.install_package_config("/etc/nginx") {
        skip(&why);
        return None;
    }
    let default_site = machine.path("/etc/nginx/sites-enabled/default");
    let stock = std::fs::read_to_string(&default_site).unwrap_or_default();
    assert!(
        stock.contains("default_server") && stock.contains("server_name _;"),
        "Debian's nginx enables a default site with `server_name _` as default_server: {}",
        default_site.display()
    );
    let conf_path = machine.path("/etc/nginx/nginx.conf");
    let conf = std::fs::read_to_string(&conf_path).unwrap();
    assert!(
        conf.contains(&format!(
            "include {}/*;",
            machine.path("/etc/nginx/sites-enabled").display()
        )) && conf.contains(&format!(
            "include {}/*.conf;",
            machine.path("/etc/nginx/conf.d").display()
        )),
        "Debian's nginx.conf includes conf.d/*.conf and sites-enabled/*:\n{conf}"
    );
    let lib = machine.path("/var/lib/nginx");
    let temp_paths: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|kind| format!("\t{kind}_temp_path {}/{kind};\n", lib.display()))
        .collect();
    let conf = replace_once(&conf, "http {\n", &format!("http {{\n{temp_paths}"));
    std::fs::write(&conf_path, conf).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(machine.path("/var/log/nginx")).unwrap();
    Some(nginx)
}

/// The recipe, followed and running.
struct Deployed {
    tmp: TempDir,
    machine: Machine,
    latchkey: Server,
    nginx: ChildGuard,
    front: u16,
}

impl Deployed {
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.machine.path("/var/log/nginx/error.log")).unwrap_or_default()
    }

    /// Runs `walk`; when it fails, prints what nginx and latchkey said.
    fn check(&mut self, walk: impl FnOnce(&Deployed)) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| walk(self)));
        if result.is_err() {
            eprintln!("--- nginx error.log ---\n{}", self.error_log());
            eprintln!("--- latchkey stderr ---\n{}", self.latchkey.log.text());
            eprintln!("--- the steps ---\n{}", self.machine.transcript);
        }
        self.nginx.assert_running("after the walk");
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Follows the steps in a fresh machine and starts what they installed: latchkey as the
/// unit says, nginx as Debian's ExecStart does (in the foreground, one process, so the
/// guard stops all of it). `None` after a skip.
fn deploy(label: &str, tls: bool) -> Option<Deployed> {
    let tmp = TempDir::new(label);
    let mut machine = Machine::new(&tmp, PASSWORD);
    let nginx = debian_nginx(&machine)?;
    let tls = if tls { Some(self_signed(&tmp)?) } else { None };
    if !machine.follow_or_skip(&STEPS) {
        return None;
    }
    machine.assert_applied("nginx", "/etc/nginx/");
    let (latchkey, _) = machine.start_latchkey(|_| {});
    let upstream = start_echo_upstream();

    let front = free_port();
    let site_path = machine.path("/etc/nginx/conf.d/latchkey.conf");
    let site = std::fs::read_to_string(&site_path).unwrap();
    let site = replace_once(
        &site,
        "server 127.0.0.1:8080;",
        &format!("server 127.0.0.1:{};", latchkey.port()),
    );
    let site = replace_once(
        &site,
        "server 127.0.0.1:8081;",
        &format!("server 127.0.0.1:{upstream};"),
    );
    let listen = match &tls {
        None => format!("listen 127.0.0.1:{front} default_server;"),
        // What DEPLOY.md says to put there for HTTPS.
        Some(tls) => format!(
            "listen 127.0.0.1:{front} ssl default_server;\n    ssl_certificate {};\n    ssl_certificate_key {};",
            tls.cert.display(),
            tls.key.display()
        ),
    };
    let site = replace_once(&site, "listen 80 default_server;", &listen);
    std::fs::write(&site_path, site).unwrap();

    let mut command = Command::new(nginx);
    command
        .arg("-c")
        .arg(machine.path("/etc/nginx/nginx.conf"))
        .arg("-e")
        .arg(machine.path("/var/log/nginx/error.log"))
        .args(["-g", "daemon off; master_process off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut guard = ChildGuard::spawn("nginx", &mut command, false);
    let log = machine.path("/var/log/nginx/error.log");
    wait_for_port(front, &mut guard, &|| {
        std::fs::read_to_string(&log).unwrap_or_default()
    });
    Some(Deployed {
        tmp,
        machine,
        latchkey,
        nginx: guard,
        front,
    })
}

#[test]
fn debian_default_site_must_be_disabled_first() {
    let tmp = TempDir::new("nginx-default-site");
    let mut machine = Machine::new(&tmp, PASSWORD);
    if debian_nginx(&machine).is_none() {
        return;
    }
    let is_the_rm = |c: &str| c.contains("rm /etc/nginx/sites-enabled/default");
    assert!(
        STEPS
            .iter()
            .any(|s| sh_commands(&deploy_section(s)).iter().any(|c| is_the_rm(c))),
        "DEPLOY.md disables Debian's default site"
    );
    match machine.follow_except(&STEPS, is_the_rm) {
        Err(Stop::Failed { command, output }) => {
            assert!(
                command.contains("nginx -t") && output.contains("duplicate default server"),
                "with Debian's default site left enabled, `nginx -t` must refuse loudly, \
                 not let the stock page win; `{command}` said:\n{output}"
            );
        }
        Err(Stop::Missing(why)) => skip(&why),
        Ok(()) => panic!(
            "with Debian's default site left enabled, the steps went through; the stock \
             \"Welcome to nginx!\" would answer instead of the admin page:\n{}",
            machine.transcript
        ),
    }
}

#[test]
fn login_walk_through_nginx_as_deployed() {
    let Some(mut site) = deploy("nginx", false) else {
        return;
    };
    site.check(|site| {
        proxy_walk(
            site.front,
            "/latchkey",
            &site.latchkey,
            ApiDenial::Plain401,
            ADMIN,
        );
    });
}

#[test]
fn websockets_through_nginx_as_deployed() {
    let Some(mut site) = deploy("nginx-ws", false) else {
        return;
    };
    site.check(|site| websocket_walk(site.front, "/latchkey", ADMIN));
}

#[test]
fn nginx_answers_every_name_hides_the_verify_endpoint_and_forwards_only_its_own_remote_user() {
    let Some(mut site) = deploy("nginx-internal", false) else {
        return;
    };
    site.check(|site| {
        let front = SocketAddr::from(([127, 0, 0, 1], site.front));

        // Whatever name the browser uses, the admin page answers (sending a stranger to
        // the login form), not Debian's welcome page.
        for host in ["router.lan", "192.0.2.1", "localhost"] {
            let page = request(
                front,
                "GET",
                "/",
                &[("Host", host), ("Accept", "text/html")],
                b"",
            );
            assert_eq!(page.status, 302, "Host: {host}: {page:?}");
            assert!(
                page.header("location")
                    .is_some_and(|l| l.starts_with("/latchkey/login")),
                "Host: {host} goes to the login form: {page:?}"
            );
            assert!(!page.text().contains("Welcome to nginx"), "{page:?}");
        }

        // The internal subrequest location is not reachable from outside.
        let internal = request(front, "GET", "/_latchkey_verify", &[], b"");
        assert_eq!(
            internal.status, 404,
            "the auth subrequest location must be internal: {internal:?}"
        );

        // A token for admin on the API: the upstream gets exactly one Remote-User,
        // admin's, even when the client sends its own.
        let body = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
        let auth = request(
            front,
            "POST",
            "/latchkey/auth",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(auth.status, 200, "{auth:?}");
        let bearer = format!("Bearer {}", auth.json()["access_token"].as_str().unwrap());
        let api = request(
            front,
            "GET",
            "/api/x",
            &[("Authorization", &bearer), ("Remote-User", "root")],
            b"",
        );
        assert_eq!(api.status, 200, "{api:?}");
        assert_eq!(
            echoed_header(&api.text(), "remote-user"),
            vec!["admin".to_owned()],
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
    });
}

#[test]
fn chromium_through_nginx_as_deployed() {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let Some(mut site) = deploy("nginx-browser", false) else {
        return;
    };
    site.check(|site| {
        let base = format!("http://127.0.0.1:{}", site.front);
        browser_proxy_walk(&base, "/latchkey", &site.latchkey, &site.tmp, ADMIN);
    });
}

#[test]
fn chromium_through_nginx_over_https_as_deployed() {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    // latchkey's settings stay as DEPLOY.md wrote them: the cookie becomes Secure and
    // `__Host-` from nginx's X-Forwarded-Proto alone (proxy.mjs checks).
    let Some(mut site) = deploy("nginx-https", true) else {
        return;
    };
    site.check(|site| {
        let base = format!("https://127.0.0.1:{}", site.front);
        browser_proxy_walk(&base, "/latchkey", &site.latchkey, &site.tmp, ADMIN);
    });
}
