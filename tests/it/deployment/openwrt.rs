//! `contrib/openwrt/`, checked as far as a machine without the OpenWrt SDK, procd or UCI
//! can (contrib/openwrt/README says what is left): the package Makefile with GNU make
//! against stand-ins for the SDK's includes, its install recipe into a scratch root, the
//! keep.d file naming the data dir; the procd init script's command line from the shipped
//! UCI config, run by the latchkey under test as the package's user; and the init
//! script with shellcheck.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Stand-ins for what the Makefile includes from the SDK and the packages feed:
/// rules.mk (the INSTALL_* commands, as OpenWrt defines them), package.mk (BuildPackage:
/// targets that print the package's variables and run its install recipe) and the feed's
/// rust-package.mk (RustBinPackage and RUST_ARCH_DEPENDS).
const RULES_MK: &str = "INCLUDE_DIR:=$(TOPDIR)/include
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
";
const PACKAGE_MK: &str = r#"define BuildPackage
$(eval $(Package/$(1)))
show-$(1):
	$$(info PKG_NAME=$(PKG_NAME))
	$$(info PKG_VERSION=$(PKG_VERSION))
	$$(info PKG_RELEASE=$(PKG_RELEASE))
	$$(info PKG_LICENSE=$(PKG_LICENSE))
	$$(info PKG_BUILD_DEPENDS=$(PKG_BUILD_DEPENDS))
	$$(info USERID=$(USERID))
	$$(info DEPENDS=$(DEPENDS))
	$$(info TITLE=$(TITLE))
	$$(info CONFFILES=$(strip $(Package/$(1)/conffiles)))
	@:
install-$(1):
	$$(call Package/$(1)/install,$$(DEST))
endef
"#;
const RUST_PACKAGE_MK: &str = "RUST_ARCH_DEPENDS:=@(aarch64||arm||i386||mips||mipsel||x86_64)
define RustBinPackage
  ifndef Package/$(1)/install
    $$(error the stand-in expects Package/$(1)/install to be defined)
  endif
endef
";

/// The package laid out as contrib/openwrt/README says (the feed's net/latchkey, beside
/// lang/rust), with the stand-in SDK; runs `make TARGET` there.
fn make_package(tmp: &TempDir, target: &str, extra: &[(&str, &Path)]) -> String {
    let make = find_program("make").expect("checked by the caller");
    let sdk = tmp.subdir("sdk");
    std::fs::create_dir_all(sdk.join("include")).unwrap();
    std::fs::write(sdk.join("rules.mk"), RULES_MK).unwrap();
    std::fs::write(sdk.join("include/package.mk"), PACKAGE_MK).unwrap();
    let feed = sdk.join("feeds/packages");
    std::fs::create_dir_all(feed.join("lang/rust")).unwrap();
    std::fs::write(feed.join("lang/rust/rust-package.mk"), RUST_PACKAGE_MK).unwrap();
    let package = feed.join("net/latchkey");
    if !package.exists() {
        std::fs::create_dir_all(feed.join("net")).unwrap();
        let status = Command::new("cp")
            .arg("-r")
            .arg(repo_root().join("contrib/openwrt"))
            .arg(&package)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut command = Command::new(make);
    command
        .arg("--no-print-directory")
        .arg("--warn-undefined-variables")
        .arg("-C")
        .arg(&package)
        .arg(format!("TOPDIR={}", sdk.display()))
        .arg(target);
    for (name, path) in extra {
        command.arg(format!("{name}={}", path.display()));
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "make {target} failed:\n{text}");
    assert!(
        !text.contains("warning:"),
        "make {target} warns (an undefined variable is a typo):\n{text}"
    );
    text
}

/// The user of the Makefile's `USERID:=user:group`.
fn makefile_user() -> String {
    let makefile = std::fs::read_to_string(repo_root().join("contrib/openwrt/Makefile")).unwrap();
    let userid = makefile
        .lines()
        .find_map(|l| l.trim().strip_prefix("USERID:="))
        .expect("the Makefile creates a user (USERID)");
    userid.split([':', '=']).next().unwrap().to_owned()
}

#[test]
fn package_makefile_in_the_feed_style_installs_what_a_router_needs() {
    if find_program("make").is_none() {
        skip("make is not installed to read the package Makefile");
        return;
    }
    let makefile = std::fs::read_to_string(repo_root().join("contrib/openwrt/Makefile")).unwrap();
    for line in [
        "include $(TOPDIR)/rules.mk",
        "include $(INCLUDE_DIR)/package.mk",
        "include ../../lang/rust/rust-package.mk",
        "$(eval $(call RustBinPackage,latchkey))",
        "$(eval $(call BuildPackage,latchkey))",
    ] {
        assert!(
            makefile.lines().any(|l| l == line),
            "the Makefile has `{line}`, as the feed's Rust packages do"
        );
    }

    let tmp = TempDir::new("openwrt-make");
    let shown = make_package(&tmp, "show-latchkey", &[]);
    let var = |name: &str| -> String {
        shown
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("make shows {name}:\n{shown}"))
            .to_owned()
    };
    let cargo = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .unwrap()
        .trim_matches('"');
    assert_eq!(var("PKG_NAME"), "latchkey");
    assert_eq!(
        var("PKG_VERSION"),
        version,
        "PKG_VERSION follows Cargo.toml"
    );
    assert!(!var("PKG_RELEASE").is_empty());
    assert_eq!(
        var("PKG_LICENSE"),
        "MIT Apache-2.0",
        "Cargo.toml's MIT OR Apache-2.0"
    );
    assert!(var("PKG_BUILD_DEPENDS").contains("rust/host"));
    assert!(
        var("DEPENDS").contains("@("),
        "only for architectures Rust builds: RUST_ARCH_DEPENDS"
    );
    assert_eq!(var("USERID"), "latchkey:latchkey");
    assert_eq!(var("CONFFILES"), "/etc/config/latchkey");

    // The install recipe into a scratch root, with the cargo install output stood in by
    // the binary under test.
    let cargo_root = tmp.subdir("ipkg-install");
    std::fs::create_dir_all(cargo_root.join("bin")).unwrap();
    std::fs::copy(BIN, cargo_root.join("bin/latchkey")).unwrap();
    let dest = tmp.subdir("ipkg");
    make_package(
        &tmp,
        "install-latchkey",
        &[("PKG_INSTALL_DIR", &cargo_root), ("DEST", &dest)],
    );
    let mode = |path: &str| {
        std::fs::metadata(dest.join(path))
            .unwrap_or_else(|e| panic!("the package installs /{path}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("usr/bin/latchkey"), 0o755);
    assert_eq!(mode("etc/init.d/latchkey"), 0o755);
    assert_eq!(mode("etc/config/latchkey"), 0o600);
    assert_eq!(mode("lib/upgrade/keep.d/latchkey"), 0o644);

    // sysupgrade keeps what keep.d lists: it must name the data dir the config uses.
    let keep = std::fs::read_to_string(dest.join("lib/upgrade/keep.d/latchkey")).unwrap();
    let config = std::fs::read_to_string(dest.join("etc/config/latchkey")).unwrap();
    let data_dir = uci_entries(&config)
        .into_iter()
        .find(|(_, name, _)| name == "data_dir")
        .map(|(_, _, value)| value)
        .expect("the config sets data_dir");
    assert!(
        keep.lines()
            .any(|l| l.trim_end_matches('/') == data_dir.trim_end_matches('/')),
        "keep.d lists the data dir {data_dir}: {keep:?}"
    );
    assert!(
        !config.contains("uhttpd") || config.contains("uhttpd cannot"),
        "the config claims no uhttpd in front of latchkey"
    );
}

#[test]
fn init_script_passes_shellcheck() {
    let Some(shellcheck) = find_program("shellcheck") else {
        skip("shellcheck is not installed (`apt-get install shellcheck`)");
        return;
    };
    // As dash, which like busybox ash has `local`; SC2034: rc.common reads USE_PROCD,
    // START and STOP, which the script only sets.
    let output = Command::new(shellcheck)
        .args(["--shell=dash", "--exclude=SC2034"])
        .arg(repo_root().join("contrib/openwrt/files/etc/init.d/latchkey"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "shellcheck:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sources the init script with stand-ins for OpenWrt's `config_*` and `procd_*`
/// functions (values from `UCI_<option>` / `UCI_LIST_<option>`) and for `chown`, runs
/// `start_service`, and writes the resulting command line NUL-separated to `$OUT`, the
/// user it runs as to `$OUT.user`, and the `chown` calls to `$OUT.chown`.
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
    case "$1" in
        command) shift; : > "$OUT"; for a in "$@"; do printf '%s\0' "$a" >> "$OUT"; done ;;
        user) printf '%s' "$2" > "$OUT.user" ;;
    esac
}
# Records what the script hands to the service's user (no such user here).
chown() { printf '%s\n' "$*" >> "$OUT.chown"; }
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
fn procd_script_runs_latchkey_as_its_user_with_a_command_it_accepts() {
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

    // Not as root: as the package's user, which owns the data dir first.
    let user = std::fs::read_to_string(tmp.path().join("command.user")).unwrap_or_default();
    assert_eq!(
        user,
        makefile_user(),
        "procd runs latchkey as the package's USERID user"
    );
    let chown = std::fs::read_to_string(tmp.path().join("command.chown")).unwrap_or_default();
    assert_eq!(
        chown.trim(),
        format!("-R {user}:{user} {}", data.display()),
        "the data dir is handed to {user} before the start"
    );

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
