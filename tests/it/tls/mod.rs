//! HTTPS in the binary (issue 17), against real clients: curl trusting the generated
//! certificate, `openssl s_client` for protocol versions and ALPN, our own rustls client
//! for logins, cookies, junk on the port, handshake floods and a certificate renewed on
//! disk, the plain-HTTP redirect listener and HSTS, the reverse proxy behind TLS,
//! Chromium trusting the certificate by its key, and testssl.sh rating the service.
//! A test whose program is missing prints `SKIP:` and passes on a developer's machine,
//! and fails where `CI` is set (`contrib/ci/install-deploy-deps.sh` installs them all).

mod browser;
mod clients;
mod flood;
mod junk;
mod mistakes;
mod proxy;
mod redirect;
mod renewal;
mod sessions;
mod streams;
mod testssl;

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub(crate) use crate::proxy::{PASSWORD, USER};

/// `latchkey serve --tls FLAGS…` with alice as a user, in a fresh data dir.
pub(crate) fn start_tls(flags: &[&str]) -> (TempDir, Server) {
    let tmp = TempDir::new("tls");
    let data = data_dir_with_users(&tmp, &[(USER, PASSWORD)]);
    let mut all = vec!["--tls"];
    all.extend_from_slice(flags);
    let srv = Server::start(&data, &all);
    assert!(srv.https, "--tls serves HTTPS:\n{}", srv.log.text());
    (tmp, srv)
}

/// The program `name`, or `None` after [`skip`] (which fails the test in CI).
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let found = find_program(name);
    if found.is_none() {
        skip(&format!(
            "{name} is not installed (contrib/ci/install-deploy-deps.sh installs it)"
        ));
    }
    found
}

/// Runs `command` with no input and returns what it did.
pub(crate) fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

/// What `openssl x509 -noout -fingerprint -sha256` prints for the certificate in `pem`,
/// after `sha256 Fingerprint=`.
pub(crate) fn openssl_fingerprint(openssl: &Path, pem: &Path) -> String {
    let out = run(Command::new(openssl)
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .split_once('=')
        .map(|(_, fp)| fp.to_owned())
        .unwrap_or_else(|| panic!("no fingerprint in {text:?}"))
}

/// A self-signed P-256 certificate as a LAN CA or acme.sh would hand over a real one
/// (a leaf: CA:FALSE, serverAuth, names `localhost` and 127.0.0.1), written to
/// `DIR/STEM.crt` and `DIR/STEM.key`.
pub(crate) fn make_certificate(openssl: &Path, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    let out = run(Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "365",
            "-subj",
        ])
        .arg(format!("/CN={stem}"))
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert!(out.status.success(), "openssl req failed: {out:?}");
    (cert, key)
}

/// The login page's HTML, as a check that a client got through to latchkey.
pub(crate) fn is_login_page(body: &str) -> bool {
    body.contains("name=\"password\"")
}
