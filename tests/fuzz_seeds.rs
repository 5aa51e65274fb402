//! Replays every committed fuzz seed (`fuzz/seeds/<target>/`) and every saved crash
//! input (`fuzz/regressions/<target>/`) through the same invariant check the fuzz
//! target runs, so plain `cargo test` keeps them all fixed.

use std::fs;
use std::path::Path;

#[test]
fn every_seed_and_regression_passes_its_target_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (target, check) in latchkey::fuzz_checks::TARGETS {
        for kind in ["seeds", "regressions"] {
            let dir = root.join(kind).join(target);
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    continue;
                }
                let data = fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(
                    outcome.is_ok(),
                    "{target}: {} broke an invariant",
                    path.display()
                );
                replayed += 1;
            }
        }
    }
    assert!(replayed > 0, "no fuzz seeds found under {}", root.display());
}
