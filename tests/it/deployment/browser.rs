//! A real browser on the login page: `node tests/browser/login.mjs` drives Debian's
//! chromium (through playwright-core) against a latchkey this test starts. It sees the
//! form, types the credentials, submits, lands on the welcome page, survives a reload,
//! cannot read the HttpOnly session cookie from script, and logs out. Screenshots (phone
//! 390×844, desktop 1280×800, dark mode) land in `target/browser-screenshots/`.
//! Skips (with a `SKIP:` line) where node, chromium or playwright-core is missing.

use crate::common::*;
use std::path::PathBuf;

/// `target/browser-screenshots/`, beside the `target/tmp` cargo gives integration tests.
fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or(tmp.clone(), PathBuf::from)
        .join("browser-screenshots")
}

#[test]
fn chromium_logs_in_reloads_and_logs_out() {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let tmp = TempDir::new("browser");
    let (user, password) = ("alice", "correct horse battery staple");
    let data = data_dir_with_users(&tmp, &[(user, password)]);
    let latchkey = Server::start(&data, &["--title", "Router admin"]);
    let shots = screenshot_dir();

    let run = run_browser_script(
        "login.mjs",
        &[
            ("BROWSER_TEST_URL", format!("http://{}", latchkey.addr)),
            ("BROWSER_TEST_USER", user.to_owned()),
            ("BROWSER_TEST_PASSWORD", password.to_owned()),
            ("BROWSER_TEST_SHOTS", shots.display().to_string()),
        ],
        &tmp,
    );
    let report = format!(
        "{}\n--- latchkey stderr ---\n{}",
        run.report,
        latchkey.log.text()
    );
    println!("{report}");
    assert!(run.passed, "the browser walk failed\n{report}");
    assert!(
        run.stdout.contains("browser walk: all checks passed"),
        "{report}"
    );
    for name in [
        "login-phone",
        "login-desktop",
        "login-dark-phone",
        "welcome-phone",
        "welcome-desktop",
    ] {
        let path = shots.join(format!("{name}.png"));
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        assert!(
            size > 1000,
            "screenshot {} missing or empty",
            path.display()
        );
    }
    latchkey.wait_log(&format!("login ok ip=127.0.0.1 user={user}"));
}
