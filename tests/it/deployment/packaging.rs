//! The service files in `contrib/` agree with the real binary: the systemd unit passes
//! `systemd-analyze verify` and its hardening score stays low, its `LATCHKEY_*`
//! environment is honoured; the OpenWrt procd script turns the shipped UCI config (every
//! option and list enabled) into a command line that latchkey really starts with.

use crate::common::*;
use std::process::{Command, Stdio};

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

#[test]
fn systemd_style_environment_configures_latchkey() {
    // What /etc/default/latchkey sets for the unit's `serve --data-dir …`.
    let tmp = TempDir::new("env");
    let data = data_dir_with_users(&tmp, &[("admin", "a long admin passphrase")]);
    let mut command = latchkey_command();
    command
        .args(["serve", "--data-dir"])
        .arg(&data)
        .env("LATCHKEY_LISTEN", "127.0.0.1:0")
        .env("LATCHKEY_PREFIX", "/latchkey")
        .env("LATCHKEY_TRUSTED_PROXY", "127.0.0.1")
        .env("LATCHKEY_TITLE", "Router admin");
    let latchkey = Server::spawn(command);
    let health = latchkey.get("/latchkey/healthz", &[]);
    assert_eq!(
        (health.status, health.text().trim()),
        (200, "ok"),
        "LATCHKEY_PREFIX applies: {health:?}"
    );
    let login = latchkey.get("/latchkey/login", &[]);
    assert_eq!(login.status, 200, "{login:?}");
    assert!(
        login.text().contains("Router admin"),
        "LATCHKEY_TITLE applies: {}",
        login.text()
    );
}

/// Sources the init script with stand-ins for OpenWrt's `config_*` and `procd_*`
/// functions (values from `UCI_<option>` / `UCI_LIST_<option>`), runs `start_service`,
/// and prints the resulting command line NUL-separated.
const PROCD_HARNESS: &str = r#"
set -u
config_load() { [ "$1" = latchkey ]; }
config_get() {
    eval "_v=\${UCI_$3-}"
    [ -n "$_v" ] || _v=${4-}
    eval "$1=\$_v"
}
config_get_bool() {
    config_get "$@"
    case "$(eval echo "\$$1")" in 1|on|true|yes|enabled) eval "$1=1" ;; *) eval "$1=0" ;; esac
}
config_list_foreach() {
    _section=$1 _option=$2 _fn=$3
    shift 3
    eval "_list=\${UCI_LIST_$_option-}"
    for _item in $_list; do "$_fn" "$_item" "$@"; done
}
procd_open_instance() { :; }
procd_set_param() {
    if [ "$1" = command ]; then
        shift
        : > "$OUT"
        for a in "$@"; do printf '%s\0' "$a" >> "$OUT"; done
    fi
}
procd_append_param() {
    if [ "$1" = command ]; then shift; for a in "$@"; do printf '%s\0' "$a" >> "$OUT"; done; fi
}
procd_close_instance() { :; }
procd_add_reload_trigger() { :; }
. "$INIT_SCRIPT"
start_service
"#;

/// `option name 'value'` and `list name 'value'` lines of the shipped UCI file, with the
/// commented-out examples (`#option`, `#list`) included.
fn uci_entries(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .map(|line| line.trim().trim_start_matches('#'))
        .filter_map(|line| {
            let (kind, rest) = line.split_once(' ')?;
            if kind != "option" && kind != "list" {
                return None;
            }
            let (name, value) = rest.trim().split_once(' ')?;
            Some((
                kind.to_owned(),
                name.to_owned(),
                value.trim().trim_matches('\'').to_owned(),
            ))
        })
        .collect()
}

#[test]
fn openwrt_procd_script_builds_a_command_latchkey_accepts() {
    let Some(sh) = find_program("sh") else {
        skip("no sh");
        return;
    };
    let root = repo_root();
    let init = root.join("contrib/openwrt/files/etc/init.d/latchkey");
    let script = std::fs::read_to_string(&init).unwrap();
    assert!(
        script.starts_with("#!/bin/sh /etc/rc.common\n"),
        "a procd init script starts with rc.common"
    );
    assert!(
        script.contains("\nUSE_PROCD=1\n"),
        "the init script uses procd"
    );
    let uci =
        std::fs::read_to_string(root.join("contrib/openwrt/files/etc/config/latchkey")).unwrap();
    let entries = uci_entries(&uci);
    let names: Vec<&str> = entries.iter().map(|(_, n, _)| n.as_str()).collect();
    for option in [
        "listen",
        "data_dir",
        "title",
        "serve_dir",
        "trusted_proxy",
        "allowed_host",
    ] {
        assert!(
            names.contains(&option),
            "/etc/config/latchkey documents {option}"
        );
    }

    let tmp = TempDir::new("openwrt");
    let data = data_dir_with_users(&tmp, &[("admin", "a long admin passphrase")]);
    let www = tmp.subdir("www");
    std::fs::write(www.join("index.html"), "router").unwrap();
    let out = tmp.path().join("command");
    let mut harness = Command::new(sh);
    harness
        .arg("-c")
        .arg(PROCD_HARNESS)
        .env("INIT_SCRIPT", &init)
        .env("OUT", &out)
        .stdin(Stdio::null());
    for (kind, name, value) in &entries {
        // The shipped values, except the paths and port, which must be the test's own.
        let value = match name.as_str() {
            "listen" => "127.0.0.1:0".to_owned(),
            "data_dir" => data.display().to_string(),
            "serve_dir" => www.display().to_string(),
            _ => value.clone(),
        };
        if kind == "list" {
            harness.env(format!("UCI_LIST_{name}"), value);
        } else {
            harness.env(format!("UCI_{name}"), value);
        }
    }
    let output = harness.output().unwrap();
    assert!(
        output.status.success(),
        "start_service failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let raw = std::fs::read(&out).unwrap();
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(
        args.first().map(String::as_str),
        Some("/usr/bin/latchkey"),
        "{args:?}"
    );
    for flag in [
        "serve",
        "--listen",
        "--data-dir",
        "--title",
        "--serve-dir",
        "--prefix",
        "--trusted-proxy",
        "--allowed-host",
    ] {
        assert!(
            args.iter().any(|a| a == flag),
            "procd command lacks {flag}: {args:?}"
        );
    }

    // The very command procd would run, with the binary under test.
    let mut command = latchkey_command();
    command.args(&args[1..]);
    let latchkey = Server::spawn(command);
    let health = latchkey.get("/latchkey/healthz", &[]);
    assert_eq!(
        (health.status, health.text().trim()),
        (200, "ok"),
        "{args:?}: {health:?}"
    );
}
