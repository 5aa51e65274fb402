//! The systemd service as docs/DEPLOY.md installs it: the unit passes `systemd-analyze
//! verify` and its hardening score stays low; steps 1 and 2 followed as written
//! (`tests/common/recipe.rs`) give a service that logs the admin in, both with the admin
//! created before the first start and with the first run's printed password changed
//! through `systemd-run`; "3a. latchkey alone" serves the admin page's files to
//! logged-in users only, with its `LATCHKEY_*` settings from /etc/default/latchkey, and
//! over HTTPS, plain HTTP redirected, as "HTTPS without nginx or Caddy" sets it up.
//! (No systemd runs here: the harness starts latchkey as the installed unit says.)

use crate::common::*;
use std::net::SocketAddr;
use std::process::Command;

#[test]
fn systemd_unit_verifies_and_stays_hardened() {
    let Some(analyze) = find_program("systemd-analyze") else {
        skip("systemd-analyze is not installed");
        return;
    };
    let tmp = TempDir::new("systemd");
    let shipped =
        std::fs::read_to_string(repo_root().join("contrib/systemd/latchkey.service")).unwrap();
    assert!(
        shipped.contains("ExecStart=/usr/local/bin/latchkey serve --data-dir /var/lib/latchkey"),
        "the unit runs latchkey from /usr/local/bin with the state directory"
    );
    // verify insists that ExecStart exists: point it at the binary under test.
    let unit = tmp.path().join("latchkey.service");
    std::fs::write(&unit, shipped.replace("/usr/local/bin/latchkey", BIN)).unwrap();
    let verify = Command::new(&analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let verify_text = String::from_utf8_lossy(&verify.stderr).into_owned();
    assert!(
        verify.status.success() && verify_text.trim().is_empty(),
        "systemd-analyze verify:\n{verify_text}"
    );

    let security = Command::new(&analyze)
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout).into_owned();
    assert!(
        security.status.success(),
        "exposure above 2.0 (threshold 20 tenths):\n{report}{}",
        String::from_utf8_lossy(&security.stderr)
    );
    for setting in [
        "DynamicUser=yes",
        "StateDirectory=latchkey",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "MemoryMax=",
        "Restart=on-failure",
        "EnvironmentFile=-/etc/default/latchkey",
    ] {
        assert!(shipped.contains(setting), "the unit lacks {setting:?}");
    }
}

const PASSWORD: &str = "correct horse battery staple";
const SERVICE: [&str; 2] = ["1. Install the binary", "2. Run it as a service"];

/// A form login the way a script does it (no Origin, no cookies): the status, and the
/// session cookie if one was set.
fn form_login(addr: SocketAddr, path: &str, user: &str, password: &str) -> (u16, Option<String>) {
    let response = request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("username", user), ("password", password)]),
    );
    (response.status, response.cookie_pair("latchkey_session"))
}

#[test]
fn service_as_deployed_logs_in_the_admin_created_before_the_first_start() {
    let tmp = TempDir::new("service");
    let mut machine = Machine::new(&tmp, PASSWORD);
    if !machine.follow_or_skip(&SERVICE) {
        return;
    }
    let (latchkey, _) = machine.start_latchkey(|_| {});
    assert!(
        !latchkey.log.text().contains("first run"),
        "with the admin created first, no password is generated or printed:\n{}",
        latchkey.log.text()
    );
    let (status, cookie) = form_login(latchkey.addr, "/login", "admin", PASSWORD);
    assert_eq!(
        status, 303,
        "admin logs in with the password typed at `user add`"
    );
    assert!(cookie.is_some(), "and gets a session");
}

#[test]
fn first_run_password_from_the_journal_is_changed_as_deployed() {
    let tmp = TempDir::new("service-first-run");
    let mut machine = Machine::new(&tmp, PASSWORD);
    // The reader who skips `user add`.
    let skipped = machine.follow_except(&SERVICE, |c| c.contains("latchkey user add"));
    match skipped {
        Ok(()) => {}
        Err(Stop::Missing(why)) => return skip(&why),
        Err(Stop::Failed { command, output }) => panic!("`{command}` failed:\n{output}"),
    }
    let (latchkey, _) = machine.start_latchkey(|_| {});
    // What `journalctl -u latchkey -g 'first run'` shows: the service's stderr line.
    assert!(
        deploy_section("2. Run it as a service").contains("journalctl -u latchkey -g 'first run'"),
        "DEPLOY.md says how to find the first-run password"
    );
    let line = latchkey.wait_log("first run");
    let generated = line
        .rsplit("password: ")
        .next()
        .expect("the first-run line ends with the password")
        .trim()
        .to_owned();
    assert_eq!(
        form_login(latchkey.addr, "/login", "admin", &generated).0,
        303
    );

    // Changing it through systemd-run, as DEPLOY.md says, while the service runs.
    if !machine.follow_or_skip(&["Changing users and passwords"]) {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while form_login(latchkey.addr, "/login", "admin", PASSWORD).0 != 303 {
        assert!(
            std::time::Instant::now() < deadline,
            "the service never took the new password:\n{}\n{}",
            machine.transcript,
            latchkey.log.text()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_ne!(
        form_login(latchkey.addr, "/login", "admin", &generated).0,
        303,
        "the password printed to the journal no longer logs in"
    );
}

#[test]
fn latchkey_alone_as_deployed_serves_the_files_to_logged_in_users() {
    let tmp = TempDir::new("alone");
    let mut machine = Machine::new(&tmp, PASSWORD);
    // The reader's admin page.
    let www = machine.path("/srv/admin");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<h1>router settings</h1>\n").unwrap();
    if !machine.follow_or_skip(&[SERVICE[0], SERVICE[1], "3a. latchkey alone"]) {
        return;
    }
    let (latchkey, settings) = machine.start_latchkey(|_| {});
    assert!(
        settings
            .iter()
            .any(|(k, v)| k == "LATCHKEY_LISTEN" && v.starts_with("0.0.0.0:")),
        "3a listens on every address: {settings:?}"
    );
    let anonymous = latchkey.get("/", &[("Accept", "text/html")]);
    assert!(
        !anonymous.text().contains("router settings"),
        "a stranger does not see the admin page: {anonymous:?}"
    );
    let login_page = latchkey.get("/login", &[]);
    assert!(
        login_page.text().contains("Router admin"),
        "LATCHKEY_TITLE names the login page: {}",
        login_page.text()
    );
    let (status, cookie) = form_login(latchkey.addr, "/login", "admin", PASSWORD);
    assert_eq!(status, 303);
    let cookie = cookie.expect("a session cookie");
    let page = latchkey.get("/", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.text().contains("router settings"), "{page:?}");
}

#[test]
fn https_without_nginx_or_caddy_as_deployed() {
    let tmp = TempDir::new("alone-https");
    let mut machine = Machine::new(&tmp, PASSWORD);
    let www = machine.path("/srv/admin");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<h1>router settings</h1>\n").unwrap();
    let steps = [
        SERVICE[0],
        SERVICE[1],
        "3a. latchkey alone",
        "HTTPS without nginx or Caddy",
    ];
    if !machine.follow_or_skip(&steps) {
        return;
    }
    // The document's ports, 8443 and 8080, may be taken here: a free one for the
    // redirect (start_latchkey puts the listener on a free loopback port).
    let redirect: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (latchkey, settings) = machine.start_latchkey(|settings| {
        for (key, value) in settings.iter_mut() {
            if key == "LATCHKEY_REDIRECT_HTTP" {
                assert_eq!(value, "0.0.0.0:8080", "the document's redirect address");
                *value = redirect.to_string();
            }
        }
    });
    assert!(
        settings
            .iter()
            .any(|(k, v)| k == "LATCHKEY_LISTEN" && v == "0.0.0.0:8443"),
        "the later LATCHKEY_LISTEN wins: {settings:?}"
    );
    assert!(
        latchkey.https,
        "LATCHKEY_TLS=1 serves HTTPS:\n{}",
        latchkey.log.text()
    );
    // `journalctl -u latchkey -g fingerprint` finds the line with the fingerprint, of
    // the certificate the document says to import.
    let line = latchkey.wait_log("fingerprint");
    let (cert, fingerprint) = latchkey.certificate.clone().unwrap();
    assert!(line.contains(&fingerprint), "{line}");
    assert_eq!(cert, machine.path("/var/lib/latchkey/tls/cert.pem"));

    // Over HTTPS, trusting that certificate: the admin logs in.
    let response = latchkey.post(
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("username", "admin"), ("password", PASSWORD)]),
    );
    assert_eq!(response.status, 303, "{response:?}");
    let cookie = response
        .cookie_pair("latchkey_session")
        .expect("a session cookie");
    assert!(cookie.starts_with("__Host-latchkey_session="), "{cookie}");
    let page = latchkey.get("/", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.text().contains("router settings"), "{page:?}");

    // http://DEVICE:8080/ now redirects there.
    let plain = request(redirect, "GET", "/", &[("Host", "router.lan:8080")], b"");
    assert_eq!(plain.status, 308, "{plain:?}");
    assert_eq!(
        plain.header("location"),
        Some(format!("https://router.lan:{}/", latchkey.port()).as_str()),
        "{plain:?}"
    );
}
