//! A real browser for the deployment tests: node scripts in `tests/browser` drive
//! Debian's chromium through playwright-core.

use super::process::{ChildGuard, LineLog, TempDir, find_program, repo_root, skip};
use super::server::Server;
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// Why a browser test cannot run here, if it cannot: node, chromium and playwright-core
/// (installed by `npm ci` in tests/browser) must all be present.
pub(crate) fn browser_missing() -> Option<String> {
    if find_program("node").is_none() {
        return Some(
            "node is not installed (contrib/ci/install-deploy-deps.sh installs nodejs)".into(),
        );
    }
    if find_program(CHROMIUM).is_none() {
        return Some(format!(
            "{CHROMIUM} is not installed (contrib/ci/install-deploy-deps.sh installs chromium)"
        ));
    }
    let playwright = repo_root().join("tests/browser/node_modules/playwright-core/package.json");
    if !playwright.is_file() {
        return Some(
            "playwright-core is not installed: run `npm ci` in tests/browser \
             (contrib/ci/install-deploy-deps.sh does)"
                .into(),
        );
    }
    None
}

/// What a browser script printed, and whether it finished cleanly.
pub(crate) struct BrowserRun {
    pub passed: bool,
    pub stdout: String,
    pub report: String,
}

/// Runs `node tests/browser/<script>` with `env` plus a fresh chromium profile and HOME
/// inside `tmp`; chromium dies with node (own process group) even if the test fails.
pub(crate) fn run_browser_script(
    script: &str,
    env: &[(&str, String)],
    tmp: &TempDir,
) -> BrowserRun {
    let root = repo_root();
    let node = find_program("node").expect("browser_missing() was checked first");
    let mut command = Command::new(node);
    command
        .arg(root.join("tests/browser").join(script))
        .current_dir(root.join("tests/browser"))
        .env("BROWSER_TEST_CHROMIUM", CHROMIUM)
        .env("BROWSER_TEST_PROFILE", tmp.subdir("chromium-profile"))
        // Chromium writes caches and crash reports under HOME: keep them in the temp dir.
        .env("HOME", tmp.subdir("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut browser = ChildGuard::spawn("node", &mut command, true);
    let stdout = LineLog::follow(browser.child_mut().stdout.take().unwrap(), None);
    let stderr = LineLog::follow(browser.child_mut().stderr.take().unwrap(), None);
    let status = browser.wait_timeout(Duration::from_secs(180));
    // The reader threads may still be draining the pipes.
    std::thread::sleep(Duration::from_millis(200));
    let report = format!(
        "--- {script} stdout ---\n{}\n--- {script} stderr ---\n{}\n{}",
        stdout.text(),
        stderr.text(),
        if status.is_none() {
            "(killed after 180 s)"
        } else {
            ""
        }
    );
    BrowserRun {
        passed: status.is_some_and(|s| s.success()),
        stdout: stdout.text(),
        report,
    }
}

/// Chromium walks the proxy at `base` (`http://127.0.0.1:PORT` or `https://…`) as
/// `account` (user, password): the protected page sends it to the login form, the typed
/// credentials bring it back with `Remote-User` at the upstream, signing out locks the
/// page again, and the back button then shows the login form, not the page from the
/// cache (tests/browser/proxy.mjs). Skips where no browser is installed.
pub(crate) fn browser_proxy_walk(
    base: &str,
    prefix: &str,
    latchkey: &Server,
    tmp: &TempDir,
    account: (&str, &str),
) {
    if let Some(why) = browser_missing() {
        skip(&why);
        return;
    }
    let run = run_browser_script(
        "proxy.mjs",
        &[
            ("BROWSER_TEST_URL", base.to_owned()),
            ("BROWSER_TEST_START", "/admin/settings?tab=wifi".to_owned()),
            ("BROWSER_TEST_PREFIX", prefix.to_owned()),
            ("BROWSER_TEST_USER", account.0.to_owned()),
            ("BROWSER_TEST_PASSWORD", account.1.to_owned()),
        ],
        tmp,
    );
    let report = format!(
        "{}\n--- latchkey stderr ---\n{}",
        run.report,
        latchkey.log.text()
    );
    println!("{report}");
    assert!(
        run.passed,
        "the browser walk through the proxy failed\n{report}"
    );
    assert!(
        run.stdout.contains("browser proxy walk: all checks passed"),
        "{report}"
    );
}
