//! A users-file save killed at any instant leaves the old file or the new one, whole,
//! with mode 0600, and leftover temporary files do not pile up: the next writer to take
//! the data directory's lock deletes them.
//!
//! The test re-runs its own binary as a child (selected by `CHILD_ENV`) that saves two
//! alternating versions of the file as fast as it can, SIGKILLs it at random moments,
//! and inspects the file after each kill.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::store::DataDir;
use crate::store::users::{USERS_FILE, UserDb};

/// Set to the users file path in the child; its absence makes `writer_child` a no-op.
const CHILD_ENV: &str = "LATCHKEY_USERS_ATOMIC_CHILD";
const READY: &str = "users-atomic-writer-ready";
const ROUNDS: usize = 50;

const HASH: &str = "$pbkdf2-sha256$i=600000,l=32$ng9XySauOjl6Bi4x0O/dAA$Z0rAr6zNcv0C20fm9MwPoG9P2MLYOkk10kMnDh+aw9A";

fn small() -> UserDb {
    UserDb::parse(&format!("# one user\nadmin {HASH} 1 -\n")).unwrap()
}

fn large() -> UserDb {
    let mut text = String::from("# three hundred users\n");
    for i in 0..300 {
        text.push_str(&format!("user{i:03} {HASH} {i} admin,future-flag\n"));
    }
    UserDb::parse(&text).unwrap()
}

/// The child's body: runs only when re-executed by the test below.
#[test]
fn writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let held = DataDir::new(path.parent().unwrap()).lock().unwrap();
    let versions = [small(), large()];
    versions[1].save(&path, &held).unwrap();
    println!("{READY}");
    for turn in 0usize.. {
        versions[turn % 2].save(&path, &held).unwrap();
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".users.tmp-"))
        .collect()
}

fn random_below(bound: u64) -> u64 {
    let bytes: [u8; 8] = crate::random::array().unwrap();
    u64::from_le_bytes(bytes) % bound
}

#[test]
fn save_killed_at_random_moments_leaves_one_whole_version() {
    let dir = std::env::temp_dir().join(format!("latchkey-users-atomic-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(USERS_FILE);
    let (small, large) = (small(), large());
    let texts = [small.to_text(), large.to_text()];
    small
        .save(&path, &DataDir::new(&dir).lock().unwrap())
        .unwrap();

    let exe = std::env::current_exe().unwrap();
    let mut seen = [false, false];
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store::atomic_write_tests::writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child is inside its save loop, so the kill lands mid-write.
        let stdout = child.stdout.take().unwrap();
        let mut ready = false;
        for line in BufReader::new(stdout).lines() {
            if line.unwrap().contains(READY) {
                ready = true;
                break;
            }
        }
        assert!(ready, "round {round}: child never started writing");
        std::thread::sleep(Duration::from_micros(random_below(20_000)));
        child.kill().unwrap(); // SIGKILL: no destructor or cleanup runs.
        child.wait().unwrap();

        let on_disk = fs::read_to_string(&path).unwrap();
        let which = texts.iter().position(|t| *t == on_disk);
        assert!(
            which.is_some(),
            "round {round}: file is neither version ({} bytes)",
            on_disk.len()
        );
        if let Some(i) = which {
            seen[i] = true;
        }
        let loaded = UserDb::load(&path).unwrap();
        assert!(loaded == small || loaded == large, "round {round}");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "round {round}");
        // Each writer deletes leftovers when it takes the lock, so a kill leaves at
        // most its own temp.
        let temps = temp_files(&dir);
        assert!(
            temps.len() <= 1,
            "round {round}: temp files pile up: {temps:?}"
        );
    }
    // Which versions the kills caught depends on disk speed, so it is reported, not
    // asserted.
    eprintln!("versions seen after kills (small, large): {seen:?}");

    // The next ordinary save clears whatever the last kill left.
    small
        .save(&path, &DataDir::new(&dir).lock().unwrap())
        .unwrap();
    assert_eq!(temp_files(&dir), Vec::<String>::new());
    fs::remove_dir_all(&dir).unwrap();
}
