//! A real browser on the login page: `node tests/browser/login.mjs` drives Debian's
//! chromium (through playwright-core) against a latchkey this test starts. It sees the
//! form, types the credentials, submits, lands on the welcome page, survives a reload,
//! cannot read the HttpOnly session cookie from script, and logs out. Screenshots (phone
//! 390×844, desktop 1280×800, dark mode) land in `target/browser-screenshots/`.
//! Skips (with a `SKIP:` line) where node, chromium or playwright-core is missing.

mod deploy_support;

use deploy_support::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";

/// `target/browser-screenshots/`, beside the `target/tmp` cargo gives integration tests.
fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or(tmp.clone(), PathBuf::from)
        .join("browser-screenshots")
}

#[test]
fn chromium_logs_in_reloads_and_logs_out() {
    let root = repo_root();
    let Some(node) = find_program("node") else {
        skip("node is not installed (contrib/ci/install-deploy-deps.sh installs nodejs)");
        return;
    };
    if find_program(CHROMIUM).is_none() {
        skip(
            "/usr/bin/chromium is not installed (contrib/ci/install-deploy-deps.sh installs chromium)",
        );
        return;
    }
    if !root
        .join("tests/browser/node_modules/playwright-core/package.json")
        .is_file()
    {
        skip(
            "playwright-core is not installed: run `npm ci` in tests/browser (contrib/ci/install-deploy-deps.sh does)",
        );
        return;
    }

    let tmp = TempDir::new("browser");
    let (user, password) = ("alice", "correct horse battery staple");
    let data = data_dir_with_users(&tmp, &[(user, password)]);
    let latchkey = start_latchkey(&data, &["--title", "Router admin"]);
    let shots = screenshot_dir();

    let mut command = Command::new(node);
    command
        .arg(root.join("tests/browser/login.mjs"))
        .current_dir(root.join("tests/browser"))
        .env("BROWSER_TEST_URL", format!("http://{}", latchkey.addr))
        .env("BROWSER_TEST_USER", user)
        .env("BROWSER_TEST_PASSWORD", password)
        .env("BROWSER_TEST_CHROMIUM", CHROMIUM)
        .env("BROWSER_TEST_PROFILE", tmp.subdir("chromium-profile"))
        .env("BROWSER_TEST_SHOTS", &shots)
        // Chromium writes caches and crash reports under HOME: keep them in the temp dir.
        .env("HOME", tmp.subdir("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so the guard takes chromium down with node.
    let mut browser = ChildGuard::spawn("node", &mut command, true);
    let stdout = LineLog::follow(browser.child_mut().stdout.take().unwrap(), None);
    let stderr = LineLog::follow(browser.child_mut().stderr.take().unwrap(), None);
    let status = browser.wait_timeout(Duration::from_secs(180));
    // The reader threads may still be draining the pipes.
    std::thread::sleep(Duration::from_millis(200));
    let report = format!(
        "--- login.mjs stdout ---\n{}\n--- login.mjs stderr ---\n{}\n--- latchkey stderr ---\n{}",
        stdout.text(),
        stderr.text(),
        latchkey.stderr.text()
    );
    println!("{report}");
    let status =
        status.unwrap_or_else(|| panic!("the browser walk did not finish in 180 s\n{report}"));
    assert!(
        status.success(),
        "the browser walk failed ({status})\n{report}"
    );
    assert!(
        stdout.text().contains("browser walk: all checks passed"),
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
    assert!(
        latchkey
            .stderr
            .wait_for(&format!("login ok ip=127.0.0.1 user={user}")),
        "{report}"
    );
}
