//! `docs/DEPLOY.md`, followed as written. A deployment test names the steps a reader
//! follows (by their headings) and every command of their `sh` blocks runs, in order,
//! against a scratch root that stands in for the machine:
//!
//! - paths under `/etc`, `/usr/local`, `/var/lib`, `/var/log`, `/run` and `/srv` in a
//!   command are moved into the root; the commands run with bash from a checkout whose
//!   `contrib/` is this repository's and whose `target/release/latchkey` is the binary
//!   under test, with the root's `/usr/local/bin` first on `PATH`;
//! - the config a Debian package installed (`/etc/nginx`, `/etc/caddy`, `/etc/fail2ban`)
//!   is copied in from this machine by [`Machine::install_package_config`], its own
//!   absolute paths moved into the root too;
//! - `sudo` runs its command as is; `nginx`, `caddy` and `fail2ban-client` run the real
//!   programs on the root's config;
//! - what a scratch root cannot do is answered by the harness: `cargo build --release`
//!   was done by `cargo test`; `apt-get install` checks that the program is installed;
//!   `systemctl` records what was started or reloaded, and with which settings file
//!   ([`Machine::start_latchkey`] then starts latchkey as the installed unit says);
//!   `systemd-run` runs its command directly (it must ask for the unit's own user);
//!   `journalctl` is a no-op; a password prompt is answered with [`Machine::password`].
//!
//! The one thing prepared ahead is the password-hash cost in the data dir, so logins
//! take tens of milliseconds instead of the calibrated quarter second.

use super::process::{TempDir, find_program, repo_root, skip};
use super::server::{BIN, Server, TEST_ITERATIONS};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The directories of the machine that live in the scratch root.
const MOVED: [&str; 6] = [
    "/etc/",
    "/usr/local/",
    "/var/lib/",
    "/var/log/",
    "/run/",
    "/srv/",
];

/// The text of the part of `docs/DEPLOY.md` under the one heading that contains
/// `title`, up to the next heading of any level.
pub(crate) fn deploy_section(title: &str) -> String {
    let doc = std::fs::read_to_string(repo_root().join("docs/DEPLOY.md")).unwrap();
    let mut in_fence = false;
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence && line.starts_with('#') {
            sections.push((
                line.trim_start_matches('#').trim().to_owned(),
                String::new(),
            ));
        } else if let Some((_, text)) = sections.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    let found: Vec<&(String, String)> =
        sections.iter().filter(|(h, _)| h.contains(title)).collect();
    assert_eq!(
        found.len(),
        1,
        "docs/DEPLOY.md must have exactly one heading containing {title:?}"
    );
    found[0].1.clone()
}

/// The commands of the ```` ```sh ```` blocks in `section`: continued lines joined,
/// a here-document kept with its command, comment lines and blank lines dropped.
pub(crate) fn sh_commands(section: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut lines = section.lines();
    let mut in_sh = false;
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh || line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut command = line.to_owned();
        while command.ends_with('\\') {
            command.pop();
            command.push_str(lines.next().expect("a continued line"));
        }
        if let Some((_, after)) = command.split_once("<<") {
            let delimiter = after
                .split_whitespace()
                .next()
                .expect("a here-document delimiter")
                .trim_matches(['\'', '"', '-'])
                .to_owned();
            for body in lines.by_ref() {
                command.push('\n');
                command.push_str(body);
                if body == delimiter {
                    break;
                }
            }
        }
        commands.push(command);
    }
    commands
}

/// Why following the document stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    /// A program the step installs with `apt-get` is not on this machine.
    Missing(String),
    /// A command failed the way it would for the reader.
    Failed { command: String, output: String },
}

/// A `systemctl` action the document asked for, after which command (its index).
#[derive(Debug, Clone)]
pub(crate) struct ServiceAction {
    pub unit: String,
    pub action: String,
    pub after: usize,
    /// For latchkey: `/etc/default/latchkey` as it was then (what the unit reads).
    pub settings: Option<String>,
}

/// The machine the document is followed on.
pub(crate) struct Machine {
    pub root: PathBuf,
    checkout: PathBuf,
    /// What the reader types at a password prompt.
    pub password: String,
    /// Every command run so far, as written in the document.
    pub commands: Vec<String>,
    pub services: Vec<ServiceAction>,
    /// Commands and their output, for failure messages.
    pub transcript: String,
}

impl Machine {
    /// An empty machine in `tmp`: the usual directories, a checkout of this repository
    /// with the binary under test as its release build, and the data dir's hash cost.
    pub(crate) fn new(tmp: &TempDir, password: &str) -> Machine {
        let root = tmp.subdir("root");
        for dir in [
            "etc/default",
            "etc/systemd/system",
            "usr/local/bin",
            "var/lib/latchkey",
            "var/log",
            "run",
            "srv",
        ] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(root.join(dir))
                .unwrap();
        }
        let data = root.join("var/lib/latchkey");
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        std::fs::write(
            data.join("pbkdf2-iterations"),
            format!("{TEST_ITERATIONS}\n"),
        )
        .unwrap();
        let checkout = tmp.subdir("checkout");
        symlink(repo_root().join("contrib"), checkout.join("contrib")).unwrap();
        std::fs::create_dir_all(checkout.join("target/release")).unwrap();
        symlink(BIN, checkout.join("target/release/latchkey")).unwrap();
        Machine {
            root,
            checkout,
            password: password.to_owned(),
            commands: Vec::new(),
            services: Vec::new(),
            transcript: String::new(),
        }
    }

    /// Where the machine's absolute `path` is in the scratch root.
    pub(crate) fn path(&self, path: &str) -> PathBuf {
        assert!(path.starts_with('/'), "{path} is not absolute");
        self.root.join(&path[1..])
    }

    /// `text` with every path under the moved directories pointing into the root.
    pub(crate) fn map_paths(&self, text: &str) -> String {
        let root = self.root.display().to_string();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while !rest.is_empty() {
            let at_word_start = out
                .chars()
                .last()
                .is_none_or(|c| c.is_whitespace() || "'\"=<>(:;".contains(c));
            if at_word_start {
                for prefix in MOVED {
                    if rest.starts_with(prefix) {
                        out.push_str(&root);
                        out.push_str(prefix);
                        rest = &rest[prefix.len()..];
                        continue 'scan;
                    }
                }
            }
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// Copies what installing the package put in `dir` (e.g. `/etc/nginx`) on this
    /// machine into the root, symlinks kept, paths in the files moved into the root;
    /// `Err` names the directory when it is not here.
    pub(crate) fn install_package_config(&self, dir: &str) -> Result<(), String> {
        let source = Path::new(dir);
        if !source.is_dir() {
            return Err(format!("{dir} is not here (the package is not installed)"));
        }
        self.copy_tree(source, &self.path(dir));
        Ok(())
    }

    fn copy_tree(&self, from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                let link = std::fs::read_link(entry.path()).unwrap();
                symlink(self.map_paths(&link.display().to_string()), &target).unwrap();
            } else if kind.is_dir() {
                self.copy_tree(&entry.path(), &target);
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                match String::from_utf8(bytes) {
                    Ok(text) => std::fs::write(&target, self.map_paths(&text)).unwrap(),
                    Err(bytes) => std::fs::write(&target, bytes.as_bytes()).unwrap(),
                }
            }
        }
    }

    /// Follows the steps under the headings containing `titles`, in order.
    pub(crate) fn follow(&mut self, titles: &[&str]) -> Result<(), Stop> {
        self.follow_except(titles, |_| false)
    }

    /// [`Machine::follow`] for a test that needs every step to work: `false` after
    /// [`skip`] when a program is missing; a command that fails fails the test.
    pub(crate) fn follow_or_skip(&mut self, titles: &[&str]) -> bool {
        match self.follow(titles) {
            Ok(()) => true,
            Err(Stop::Missing(why)) => {
                skip(&why);
                false
            }
            Err(Stop::Failed { command, output }) => panic!(
                "following docs/DEPLOY.md, `{command}` failed:\n{output}\n--- all steps ---\n{}",
                self.transcript
            ),
        }
    }

    /// [`Machine::follow`], leaving out the commands `skip` picks (to show what a step
    /// is for).
    pub(crate) fn follow_except(
        &mut self,
        titles: &[&str],
        skip: impl Fn(&str) -> bool,
    ) -> Result<(), Stop> {
        for title in titles {
            let commands = sh_commands(&deploy_section(title));
            assert!(!commands.is_empty(), "{title:?} has no sh block to follow");
            for command in commands.iter().filter(|c| !skip(c)) {
                self.run(command)?;
            }
        }
        Ok(())
    }

    /// Runs one command of the document.
    pub(crate) fn run(&mut self, command: &str) -> Result<(), Stop> {
        self.transcript.push_str(&format!("$ {command}\n"));
        self.commands.push(command.to_owned());
        let flat = command.replace("\\\n", " ");
        let mut words: Vec<&str> = flat
            .split_whitespace()
            .take_while(|w| !w.starts_with('#'))
            .collect();
        if words.first() == Some(&"sudo") {
            words.remove(0);
        }
        match words.as_slice() {
            ["cargo", "build", "--release"] => Ok(()),
            ["apt-get", "install", packages @ ..] => packages
                .iter()
                .filter(|p| !p.starts_with('-'))
                .try_for_each(|p| package_installed(p)),
            ["systemctl", "daemon-reload"] => Ok(()),
            ["systemctl", "enable", "--now", unit]
            | ["systemctl", "start" | "restart" | "reload", unit] => {
                let action = words[1..words.len() - 1].join(" ");
                self.service_action(unit, &action);
                Ok(())
            }
            ["journalctl", ..] => Ok(()),
            ["systemd-run", rest @ ..] => {
                let command = self.systemd_run_command(rest);
                self.shell(&command)
            }
            _ => {
                let shell_command = flat
                    .strip_prefix("sudo ")
                    .unwrap_or(&flat)
                    .trim()
                    .to_owned();
                self.shell(&shell_command)
            }
        }
    }

    fn service_action(&mut self, unit: &str, action: &str) {
        let unit = unit.trim_end_matches(".service").to_owned();
        let settings = (unit == "latchkey")
            .then(|| std::fs::read_to_string(self.path("/etc/default/latchkey")).ok())
            .flatten();
        self.services.push(ServiceAction {
            unit,
            action: action.to_owned(),
            after: self.commands.len() - 1,
            settings,
        });
    }

    /// The command `systemd-run` would start, after checking that it asks for what the
    /// unit's own process gets: its dynamic user (named after the unit) and its state
    /// directory. Anything else would leave files the service cannot read.
    fn systemd_run_command(&self, words: &[&str]) -> String {
        let mut properties = Vec::new();
        let mut rest = words.iter();
        let mut command = Vec::new();
        while let Some(word) = rest.next() {
            if *word == "-p" || *word == "--property" {
                properties.push(*rest.next().expect("a property after -p"));
            } else if let Some(p) = word.strip_prefix("--property=") {
                properties.push(p);
            } else if word.starts_with('-') {
                continue;
            } else {
                command.push(*word);
                command.extend(rest.by_ref());
            }
        }
        for wanted in [
            "DynamicUser=yes",
            "User=latchkey",
            "StateDirectory=latchkey",
        ] {
            assert!(
                properties.contains(&wanted),
                "systemd-run must run as the unit's user, with -p {wanted}: {words:?}"
            );
        }
        command.join(" ")
    }

    /// Runs `command` with bash in the checkout, paths moved into the root.
    fn shell(&mut self, command: &str) -> Result<(), Stop> {
        let mut command = self.map_paths(command);
        let mut stdin = String::new();
        // The reader types the password twice at the prompt; a pipe cannot, so the one
        // line goes to --password-stdin instead.
        let words: Vec<&str> = command.split_whitespace().collect();
        let latchkey_at = words
            .iter()
            .position(|w| *w == "latchkey" || w.ends_with("/usr/local/bin/latchkey"));
        if let Some(at) = latchkey_at
            && matches!(words.get(at + 1..at + 3), Some(["user", "add" | "passwd"]))
            && !command.contains("--password-stdin")
        {
            command.push_str(" --password-stdin");
            stdin = format!("{}\n", self.password);
        }
        let script = format!("{}\n{command}\n", self.prelude());
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&self.checkout)
            .env("ROOT", &self.root)
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    self.path("/usr/local/bin").display()
                ),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let output = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        self.transcript.push_str(&text);
        if output.status.success() {
            Ok(())
        } else {
            Err(Stop::Failed {
                command: self.commands.last().unwrap().clone(),
                output: text,
            })
        }
    }

    /// bash functions standing in for `sudo` and for the servers' own commands run on
    /// the root's config.
    fn prelude(&self) -> String {
        let mut prelude = String::from("set -eo pipefail\nsudo() { \"$@\"; }\n");
        if let Some(nginx) = find_program("nginx") {
            prelude.push_str(&format!(
                "nginx() {{ command '{}' -c \"$ROOT/etc/nginx/nginx.conf\" -e \"$ROOT/var/log/nginx/error.log\" \"$@\"; }}\n",
                nginx.display()
            ));
        }
        if let Some(caddy) = find_program("caddy") {
            prelude.push_str(&format!(
                "caddy() {{ env -u XDG_DATA_HOME -u XDG_CONFIG_HOME HOME=\"$ROOT/var/lib/caddy\" '{}' \"$@\"; }}\n",
                caddy.display()
            ));
        }
        if let Some(client) = find_program("fail2ban-client") {
            prelude.push_str(&format!(
                "fail2ban-client() {{ command '{}' -c \"$ROOT/etc/fail2ban\" \"$@\"; }}\n",
                client.display()
            ));
        }
        prelude
    }

    /// The last time the document (re)started `unit`, if it did.
    pub(crate) fn last_start(&self, unit: &str) -> Option<&ServiceAction> {
        self.services
            .iter()
            .rev()
            .find(|s| s.unit == unit && s.action != "reload")
    }

    /// Asserts that `unit` was started, restarted or reloaded after the last command that
    /// touched `config` (a path prefix such as `/etc/nginx/`), so it runs what is there.
    pub(crate) fn assert_applied(&self, unit: &str, config: &str) {
        let last_change = self
            .commands
            .iter()
            .rposition(|c| c.contains(config))
            .unwrap_or_else(|| panic!("the steps never touch {config}"));
        assert!(
            self.services
                .iter()
                .any(|s| s.unit == unit && s.after > last_change),
            "after `{}` the steps must reload or restart {unit}:\n{}",
            self.commands[last_change],
            self.transcript
        );
    }

    /// Starts latchkey as systemd would from the installed unit: its `ExecStart=`, its
    /// `Environment=`, then `/etc/default/latchkey` as it was at the last
    /// `systemctl restart` (or `enable --now`). `adjust` may change the settings the
    /// way the test machine differs from the reader's (a name, a port), and the address
    /// becomes a free loopback port. Returns the server and the settings it got.
    pub(crate) fn start_latchkey(
        &self,
        adjust: impl Fn(&mut Vec<(String, String)>),
    ) -> (Server, Vec<(String, String)>) {
        let start = self
            .last_start("latchkey")
            .unwrap_or_else(|| panic!("the steps never start latchkey:\n{}", self.transcript));
        let unit = std::fs::read_to_string(self.path("/etc/systemd/system/latchkey.service"))
            .unwrap_or_else(|e| panic!("the unit is not installed ({e}):\n{}", self.transcript));
        let mut settings: Vec<(String, String)> = Vec::new();
        let mut set = |key: &str, value: &str| {
            settings.retain(|(k, _)| k != key);
            settings.push((key.to_owned(), value.trim_matches('"').to_owned()));
        };
        let mut exec = None;
        let mut env_file = None;
        for line in unit.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("ExecStart=") {
                exec = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("Environment=") {
                let (key, value) = v.split_once('=').expect("Environment=KEY=VALUE");
                set(key, value);
            } else if let Some(v) = line.strip_prefix("EnvironmentFile=") {
                env_file = Some(v.trim_start_matches('-').to_owned());
            }
        }
        assert_eq!(
            env_file.as_deref(),
            Some("/etc/default/latchkey"),
            "the unit reads /etc/default/latchkey"
        );
        for line in start
            .settings
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(str::trim)
        {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("/etc/default/latchkey: not KEY=VALUE: {line:?}"));
            set(key, value);
        }
        adjust(&mut settings);
        let exec = self.map_paths(&exec.expect("the unit has ExecStart="));
        let mut argv = exec.split_whitespace();
        let program = argv.next().unwrap();
        assert!(
            Path::new(program).is_file(),
            "ExecStart= names {program}, which the steps never installed:\n{}",
            self.transcript
        );
        let mut command = Command::new(program);
        command.args(argv);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("LATCHKEY_") {
                command.env_remove(key);
            }
        }
        for (key, value) in &settings {
            command.env(key, value);
        }
        command.env("LATCHKEY_LISTEN", "127.0.0.1:0");
        (Server::spawn(command), settings)
    }
}

/// `Ok` when the program the Debian package `package` brings is on this machine.
fn package_installed(package: &str) -> Result<(), Stop> {
    let program = match package {
        "fail2ban" => "fail2ban-client",
        other => other,
    };
    match find_program(program) {
        Some(_) => Ok(()),
        None => Err(Stop::Missing(format!(
            "{program} is not installed (`apt-get install {package}`)"
        ))),
    }
}
