//! The fuzz seeds in `cargo test`: every committed seed (`fuzz/seeds/<target>/`) and
//! every saved crash input (`fuzz/regressions/<target>/`) replayed through the same
//! invariant check the fuzz target runs (`latchkey::internal::fuzz`), so plain `cargo test`
//! keeps them all fixed; and a stable-toolchain mutation run over them, ignored by
//! default: `MUTATION_FUZZ_SECS=60 cargo test --release --test it fuzz_seeds -- --ignored`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The committed seeds and saved crash inputs of `target`, dot files left out.
fn seed_files(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = fs::read_dir(fuzz_dir().join(kind).join(target)) else {
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
            files.push(path);
        }
    }
    files
}

#[test]
fn every_seed_and_regression_passes_its_target_check() {
    let mut replayed = 0;
    for (target, check) in latchkey::internal::fuzz::TARGETS {
        for path in seed_files(target) {
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
    assert!(
        replayed > 0,
        "no fuzz seeds found under {}",
        fuzz_dir().display()
    );
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = b".\"\\{}[],:0123456789eE-+ \t\r\n\x00\x1f\x7f\x80\xff=;AQ_/tfnu";

fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = d.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                d.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(4.min(len - i));
                d.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(8.min(len - i));
                let chunk = d[i..i + n].to_vec();
                let at = rng.below(len + 1);
                d.splice(at..at, chunk);
            }
            5 if !other.is_empty() => {
                let i = rng.below(other.len());
                let n = 1 + rng.below((other.len() - i).min(16));
                let at = rng.below(len + 1);
                d.splice(at..at, other[i..i + n].iter().copied());
            }
            _ if len > 0 => {
                let i = rng.below(len);
                let digit = b'0' + rng.below(10) as u8;
                d[i] = digit;
            }
            _ => d.push(b'A'),
        }
    }
    d
}

#[test]
#[ignore]
fn mutated_seeds_keep_every_invariant() {
    let secs: u64 = std::env::var("MUTATION_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for (target, check) in latchkey::internal::fuzz::TARGETS {
        let mutated = [
            "jwt_verify",
            "cookie_value",
            "cookie_header",
            "http_head",
            "upstream_response",
            "chunked_body",
            "proxy_path",
            "https_redirect",
            "certificate_der",
        ];
        if !mutated.contains(target) {
            continue;
        }
        let corpus: Vec<Vec<u8>> = seed_files(target)
            .iter()
            .map(|path| fs::read(path).unwrap())
            .collect();
        assert!(!corpus.is_empty(), "{target}: no seeds");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut runs = 0u64;
        while Instant::now() < deadline {
            let base = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            let input = mutate(&mut rng, base, other);
            let outcome = std::panic::catch_unwind(|| check(&input));
            if outcome.is_err() {
                let path = std::env::temp_dir().join(format!("mutation-crash-{target}"));
                let _ = fs::write(&path, &input);
                panic!(
                    "{target}: invariant broken, input saved to {}",
                    path.display()
                );
            }
            runs += 1;
        }
        eprintln!("{target}: {runs} mutated inputs");
    }
}
