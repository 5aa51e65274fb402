//! The data dir under faults and concurrency: CLI commands run at once lose nothing, a
//! key rotation or retirement reaches the running service, `token verify` judges
//! revocations, a file the service cannot read makes it refuse every credential
//! (fail closed) rather than keep what it loaded before, and the service refuses to
//! start where it would expose its secrets.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::common::*;

fn dd(data: &Path) -> &str {
    data.to_str().unwrap()
}

/// Logins in these tests come one after another from one address; lift the global
/// hash budget so polling for a new key does not wait on it.
const FAST_LOGINS: &[&str] = &["--max-logins-per-second", "50"];

fn auth(srv: &Server, user: &str, password: &str) -> Response {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    srv.post(
        "/auth",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// The JSON of a token's `seg`-th dot-separated segment (0 header, 1 claims).
fn token_part(token: &str, seg: usize) -> serde_json::Value {
    let part = token.split('.').nth(seg).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn token_kid(token: &str) -> String {
    token_part(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// The kid of a `latchkey_session=v1.<kid>.<payload>.<tag>` pair.
fn cookie_kid(pair: &str) -> String {
    let value = pair.split_once('=').unwrap().1;
    value.split('.').nth(1).unwrap().to_owned()
}

fn bearer(token: &str) -> String {
    format!("JWT {token}")
}

/// Status of `GET path` with `headers`, polled until it is `want` or `limit` passes.
fn status_within(srv: &Server, headers: &[(&str, &str)], path: &str, want: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let got = srv.get(path, headers).status;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} answered {got}, not {want}, after {limit:?}:\n{}",
            srv.log.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The service reloads once a second; two seconds and a margin for a loaded machine.
const RELOAD_LIMIT: Duration = Duration::from_millis(2500);

#[test]
fn twenty_concurrent_cli_writes_lose_nothing() {
    let tmp = TempDir::new("cli-concurrent");
    let data = tmp.data_dir();
    let pw = |name: &str| format!("pw-{name}-old");
    let (passwd, del, revoke_all, add) = (
        ["p0", "p1", "p2", "p3"],
        ["d0", "d1", "d2", "d3"],
        ["r0", "r1", "r2"],
        ["n0", "n1", "n2", "n3", "n4"],
    );
    for name in ["keep"]
        .iter()
        .chain(&passwd)
        .chain(&del)
        .chain(&revoke_all)
    {
        add_user(&data, name, &pw(name));
    }
    let srv = Server::start(&data, FAST_LOGINS);
    let token_of = |name: &str| api_token(&srv, name, &pw(name));
    let keep_tokens: Vec<String> = (0..5).map(|_| token_of("keep")).collect();
    let jtis: Vec<String> = keep_tokens[..4]
        .iter()
        .map(|t| token_part(t, 1)["jti"].as_str().unwrap().to_owned())
        .collect();
    let ended: Vec<(String, String)> = passwd
        .iter()
        .chain(&del)
        .chain(&revoke_all)
        .map(|n| (n.to_string(), token_of(n)))
        .collect();

    // Twenty commands, released at once.
    let mut commands: Vec<(Vec<String>, String)> = Vec::new();
    let own = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    for name in add {
        commands.push((
            own(&["user", "add", name, "--password-stdin"]),
            format!("pw-{name}-new\n"),
        ));
    }
    for name in passwd {
        commands.push((
            own(&["user", "passwd", name, "--password-stdin"]),
            format!("pw-{name}-new\n"),
        ));
    }
    for name in del {
        commands.push((own(&["user", "del", name]), String::new()));
    }
    for jti in &jtis {
        commands.push((own(&["token", "revoke", jti]), String::new()));
    }
    for name in revoke_all {
        commands.push((own(&["session", "revoke-all", name]), String::new()));
    }
    assert_eq!(commands.len(), 20);
    let start = Arc::new(Barrier::new(commands.len()));
    let runs: Vec<_> = commands
        .into_iter()
        .map(|(mut args, stdin)| {
            let start = Arc::clone(&start);
            args.extend(["--data-dir".to_owned(), dd(&data).to_owned()]);
            std::thread::spawn(move || {
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                start.wait();
                let run = cli(&argv, &stdin);
                (args[..args.len() - 2].join(" "), run)
            })
        })
        .collect();
    let failed: Vec<String> = runs
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|(_, run)| run.code != 0)
        .map(|(what, run)| format!("{what}: exit {}: {}", run.code, run.stderr.trim()))
        .collect();
    assert!(failed.is_empty(), "commands failed: {failed:#?}");

    // On disk: every add and no delete lost, each passwd's new hash kept.
    let listed = cli(&["user", "list", "--data-dir", dd(&data)], "");
    let on_disk: BTreeSet<&str> = listed.stdout.lines().collect();
    let expected: BTreeSet<&str> = ["keep"]
        .iter()
        .chain(&passwd)
        .chain(&revoke_all)
        .chain(&add)
        .copied()
        .collect();
    assert_eq!(on_disk, expected, "users file after the commands");
    let revoked = std::fs::read_to_string(data.join("revoked")).unwrap();
    for jti in &jtis {
        assert!(revoked.contains(&format!("jti {jti} ")), "{jti} lost");
    }
    for name in passwd.iter().chain(&del).chain(&revoke_all) {
        assert!(
            revoked.contains(&format!("user {name} ")),
            "cutoff of {name} lost"
        );
    }

    // In the service: every change holds.
    for name in add.iter().chain(&passwd) {
        let r = auth(&srv, name, &format!("pw-{name}-new"));
        assert_eq!(r.status, 200, "{name} new password: {}", r.text());
    }
    for name in passwd.iter().chain(&del) {
        let r = auth(&srv, name, &pw(name));
        assert_eq!(r.status, 401, "{name} old password: {}", r.text());
    }
    for token in keep_tokens[..4].iter().chain(ended.iter().map(|(_, t)| t)) {
        eventually_refused(&srv, &[("Authorization", &bearer(token))], "/protected");
    }
    let control = bearer(&keep_tokens[4]);
    assert_eq!(
        srv.get("/protected", &[("Authorization", &control)]).status,
        200,
        "a token nobody revoked"
    );
    // Nothing was left behind by a writer.
    let leftovers: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_rotated_key_signs_at_once_and_a_dropped_one_stops_verifying() {
    let tmp = TempDir::new("key-reload");
    let data = tmp.data_dir();
    add_user(&data, "kim", "pw-kim-123");
    let srv = Server::start(&data, FAST_LOGINS);
    let cookie = |srv: &Server| {
        browser_login(srv, "kim", "pw-kim-123", false, None)
            .cookie_pair("latchkey_session")
            .unwrap()
    };
    let (t1, c1) = (api_token(&srv, "kim", "pw-kim-123"), cookie(&srv));
    let kid1 = token_kid(&t1);
    assert_eq!(cookie_kid(&c1), kid1);

    let r = cli(&["key", "rotate", "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let kid2 = r
        .stderr
        .split("new signing key ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no kid in {:?}", r.stderr))
        .to_owned();
    assert_ne!(kid1, kid2);
    // The running service signs with the new key within the reload period.
    let deadline = Instant::now() + RELOAD_LIMIT;
    let t2 = loop {
        let t = api_token(&srv, "kim", "pw-kim-123");
        if token_kid(&t) == kid2 {
            break t;
        }
        assert!(Instant::now() < deadline, "still signing with {kid1}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let c2 = cookie(&srv);
    assert_eq!(cookie_kid(&c2), kid2);
    let accepted = |srv: &Server, token: &str, cookie: &str| {
        let t = srv.get("/protected", &[("Authorization", &bearer(token))]);
        let c = srv.get("/", &[("Cookie", cookie)]);
        (t.status, c.status)
    };
    // The older key is still in the keyring: what it signed still verifies.
    assert_eq!(accepted(&srv, &t1, &c1), (200, 200));

    // What the new key signed survives a restart.
    assert_eq!(srv.stop(), 0);
    let srv = Server::start(&data, FAST_LOGINS);
    assert_eq!(accepted(&srv, &t2, &c2), (200, 200));
    assert_eq!(accepted(&srv, &t1, &c1), (200, 200));
    assert_eq!(token_kid(&api_token(&srv, "kim", "pw-kim-123")), kid2);

    // The signing key cannot be dropped; an older one can, and stops verifying.
    let r = cli(&["key", "drop", &kid2, "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = cli(&["key", "drop", &kid1, "--data-dir", dd(&data)], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    status_within(
        &srv,
        &[("Authorization", &bearer(&t1))],
        "/protected",
        401,
        RELOAD_LIMIT,
    );
    status_within(&srv, &[("Cookie", &c1)], "/", 302, RELOAD_LIMIT);
    assert_eq!(accepted(&srv, &t2, &c2), (200, 200));

    // Rotating while keeping one key retires every older key at once.
    let r = cli(
        &["key", "rotate", "--keep", "1", "--data-dir", dd(&data)],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    status_within(
        &srv,
        &[("Authorization", &bearer(&t2))],
        "/protected",
        401,
        RELOAD_LIMIT,
    );
    status_within(&srv, &[("Cookie", &c2)], "/", 302, RELOAD_LIMIT);
    let listed = cli(&["key", "list", "--data-dir", dd(&data)], "");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.lines().count(), 1, "{}", listed.stdout);
    let t3 = api_token(&srv, "kim", "pw-kim-123");
    assert!(
        listed.stdout.starts_with(&token_kid(&t3)),
        "{}",
        listed.stdout
    );
    for bad in [&["key", "rotate", "--keep", "0"][..], &["key", "drop"]] {
        let mut args = bad.to_vec();
        args.extend(["--data-dir", dd(&data)]);
        assert_eq!(cli(&args, "").code, 2, "{bad:?}");
    }
}

#[test]
fn token_verify_refuses_a_revoked_token() {
    let tmp = TempDir::new("verify-revoked");
    let data = tmp.data_dir();
    add_user(&data, "tia", "pw-tia-123");
    assert_eq!(cli(&["key", "rotate", "--data-dir", dd(&data)], "").code, 0);
    let issue = || {
        let r = cli(&["token", "issue", "tia", "--data-dir", dd(&data)], "");
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.trim().to_owned()
    };
    let verify = |token: &str| cli(&["token", "verify", token, "--data-dir", dd(&data)], "");
    let (revoked, cut) = (issue(), issue());
    assert_eq!(verify(&revoked).code, 0);
    let jti = token_part(&revoked, 1)["jti"].as_str().unwrap().to_owned();
    assert_eq!(
        cli(&["token", "revoke", &jti, "--data-dir", dd(&data)], "").code,
        0
    );
    let r = verify(&revoked);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""), "{}", r.stderr);
    assert!(r.stderr.contains("revoked"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);

    assert_eq!(verify(&cut).code, 0);
    let r = cli(
        &["session", "revoke-all", "tia", "--data-dir", dd(&data)],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify(&cut);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("revoked"), "{}", r.stderr);
}

/// Runs `latchkey serve` expecting it to refuse to start; returns its exit code and
/// stderr. Fails if it is still running after a few seconds.
fn serve_refused(data: &Path, flags: &[&str]) -> (i32, String) {
    let mut command = latchkey_command();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn("latchkey", &mut command, false);
    let Some(status) = child.wait_timeout(Duration::from_secs(10)) else {
        panic!("serve {flags:?} started instead of refusing");
    };
    let mut stderr = String::new();
    let mut pipe = child.child_mut().stderr.take().unwrap();
    pipe.read_to_string(&mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn serve_dir_holding_the_data_dir_is_refused() {
    let tmp = TempDir::new("serve-dir-data");
    let data = tmp.data_dir();
    add_user(&data, "sid", "pw-sid-123");
    let elsewhere = TempDir::new("serve-dir-link");
    let link = elsewhere.path().join("www");
    std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
    let fresh = tmp.path().join("not-yet");
    for (data, serve) in [
        (&data, tmp.path()),
        (&data, data.as_path()),
        (&data, link.as_path()),
        (&fresh, tmp.path()),
    ] {
        let (code, stderr) = serve_refused(data, &["--serve-dir", dd(serve)]);
        assert_ne!(code, 0, "{}", stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--serve-dir"), "{stderr}");
        assert!(stderr.contains("data dir"), "{stderr}");
    }
    assert!(!fresh.exists(), "a refused start created the data dir");
    // A sibling directory is fine.
    let site = tmp.subdir("site");
    let srv = Server::start(&data, &["--serve-dir", dd(&site)]);
    assert_eq!(srv.get("/healthz", &[]).status, 200);
}

#[test]
fn a_data_dir_or_secret_others_can_read_stops_the_start() {
    let tmp = TempDir::new("perm-start");
    let data = tmp.data_dir();
    add_user(&data, "pia", "pw-pia-123");
    let srv = Server::start(&data, &[]);
    drop(srv);
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let keys = data.join("keys");
    for (path, mode, fix) in [
        (&data, 0o755, "chmod 700"),
        (&data, 0o750, "chmod 700"),
        (&keys, 0o640, "chmod 600"),
        (&keys, 0o604, "chmod 600"),
    ] {
        let restore = if path == &data { 0o700 } else { 0o600 };
        chmod(path, mode);
        let (code, stderr) = serve_refused(&data, &[]);
        chmod(path, restore);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{fix} {}", path.display())),
            "{mode:o}: {stderr}"
        );
    }
    let srv = Server::start(&data, &[]);
    assert_eq!(srv.get("/healthz", &[]).status, 200);
}

/// Lines of the service's log that report a file it cannot read, or reading it again.
fn state_lines(srv: &Server) -> Vec<String> {
    srv.log_lines()
        .into_iter()
        .filter(|l| l.contains("refusing every credential") || l.contains("credentials again"))
        .collect()
}

#[test]
fn an_unreadable_file_makes_the_service_refuse_every_credential() {
    let tmp = TempDir::new("fail-closed");
    let data = tmp.data_dir();
    add_user(&data, "fay", "pw-fay-123");
    let srv = Server::start(&data, FAST_LOGINS);
    let session = browser_login(&srv, "fay", "pw-fay-123", false, None)
        .cookie_pair("latchkey_session")
        .unwrap();
    let token = bearer(&api_token(&srv, "fay", "pw-fay-123"));
    let cookie = [("Cookie", session.as_str())];
    let authz = [("Authorization", token.as_str())];
    assert_eq!(srv.get("/", &cookie).status, 200);
    let write = |name: &str, text: &[u8]| {
        // As an editor or the CLI would: a whole new file renamed over the old one.
        let temp = data.join(format!(".{name}.edit"));
        std::fs::write(&temp, text).unwrap();
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::rename(&temp, data.join(name)).unwrap()
    };
    let revoked = data.join("revoked");
    let users = data.join("users");
    let keys_text = std::fs::read(data.join("keys")).unwrap();

    let mut expected_lines = 0;
    type Step<'a> = &'a dyn Fn();
    let faults: [(&str, Step, Step); 4] = [
        (
            "garbage revocations",
            &|| write("revoked", b"this is not a revocation\n"),
            &|| write("revoked", b"# fixed\n"),
        ),
        (
            "a directory where the revocations were",
            &|| {
                let _ = std::fs::remove_file(&revoked);
                std::fs::create_dir(&revoked).unwrap();
            },
            &|| std::fs::remove_dir(&revoked).unwrap(),
        ),
        (
            "users readable by others",
            &|| std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap(),
            &|| std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap(),
        ),
        ("garbage keys", &|| write("keys", b"k1 short\n"), &|| {
            write("keys", &keys_text)
        }),
    ];
    for (what, break_it, fix_it) in faults {
        break_it();
        status_within(&srv, &cookie, "/", 503, RELOAD_LIMIT);
        assert_eq!(srv.get("/protected", &authz).status, 503, "{what}: token");
        assert_eq!(auth(&srv, "fay", "pw-fay-123").status, 503, "{what}: login");
        assert_eq!(srv.get("/healthz", &[]).status, 503, "{what}: health");
        // One line when it starts, not one per reload.
        std::thread::sleep(Duration::from_millis(2200));
        expected_lines += 1;
        assert_eq!(
            state_lines(&srv).len(),
            expected_lines,
            "{what}: {:#?}",
            srv.log_lines()
        );
        fix_it();
        status_within(&srv, &cookie, "/", 200, RELOAD_LIMIT);
        assert_eq!(srv.get("/protected", &authz).status, 200, "{what}: token");
        expected_lines += 1;
        assert_eq!(
            state_lines(&srv).len(),
            expected_lines,
            "{what}: {:#?}",
            srv.log_lines()
        );
    }
}
