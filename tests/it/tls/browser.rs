//! Chromium logs in over HTTPS (tests/browser/login.mjs, the walk of the plain-HTTP
//! browser test), trusting latchkey's generated certificate the way a person who checked
//! its fingerprint would: by pinning its key
//! (`--ignore-certificate-errors-spki-list`), not by ignoring certificate errors. Without
//! the pin, or with the pin of another key, the page does not load.

use super::*;

/// base64 of SHA-256 over the certificate's SubjectPublicKeyInfo (DER), the form the
/// chromium flag takes; computed with openssl, as the flag's documentation does.
fn spki_pin(openssl: &Path, cert: &Path) -> String {
    let script = r#"set -e
"$0" x509 -in "$1" -pubkey -noout | "$0" pkey -pubin -outform der |
    "$0" dgst -sha256 -binary | base64 -w0"#;
    let out = run(Command::new("sh")
        .args(["-c", script])
        .arg(openssl)
        .arg(cert));
    assert!(out.status.success(), "{out:?}");
    let pin = String::from_utf8(out.stdout).unwrap();
    assert_eq!(pin.len(), 44, "base64 of 32 bytes: {pin:?}");
    pin
}

/// `target/browser-screenshots-tls/`, beside the plain-HTTP test's.
fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or(tmp.clone(), PathBuf::from)
        .join("browser-screenshots-tls")
}

#[test]
fn chromium_logs_in_over_https_trusting_the_certificate_by_its_key() {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let Some(openssl) = tool("openssl") else {
        return;
    };
    let (tmp, srv) = start_tls(&["--title", "Router admin"]);
    let pin = spki_pin(&openssl, &tmp.path().join("data/tls/cert.pem"));
    let (other, _) = make_certificate(&openssl, tmp.path(), "other");
    let other_pin = spki_pin(&openssl, &other);
    assert_ne!(pin, other_pin);
    let env = |spki: Option<&str>, untrusted: bool| {
        let mut env = vec![
            ("BROWSER_TEST_URL", srv.origin()),
            ("BROWSER_TEST_USER", USER.to_owned()),
            ("BROWSER_TEST_PASSWORD", PASSWORD.to_owned()),
            ("BROWSER_TEST_SHOTS", screenshot_dir().display().to_string()),
        ];
        if let Some(spki) = spki {
            env.push(("BROWSER_TEST_SPKI", spki.to_owned()));
        }
        if untrusted {
            env.push(("BROWSER_TEST_UNTRUSTED", "1".to_owned()));
        }
        env
    };

    for (what, spki) in [
        ("no pin", None),
        ("another key's pin", Some(other_pin.as_str())),
    ] {
        let run = run_browser_script("login.mjs", &env(spki, true), &TempDir::new("browser-tls"));
        println!("{}", run.report);
        assert!(
            run.passed && run.stdout.contains("untrusted certificate refused"),
            "with {what}, chromium must not load the page\n{}",
            run.report
        );
    }

    let run = run_browser_script("login.mjs", &env(Some(&pin), false), &tmp);
    let report = format!(
        "{}\n--- latchkey stderr ---\n{}",
        run.report,
        srv.log.text()
    );
    println!("{report}");
    assert!(run.passed, "the browser walk over HTTPS failed\n{report}");
    assert!(
        run.stdout.contains("browser walk: all checks passed"),
        "{report}"
    );
    assert!(
        run.stdout
            .contains("ok: the session cookie is __Host-latchkey_session, Secure"),
        "{report}"
    );
    srv.wait_log(&format!("login ok ip=127.0.0.1 user={USER}"));
}
