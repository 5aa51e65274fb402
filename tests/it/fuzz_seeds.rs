//! A stable-toolchain mutation run over the committed fuzz seeds, through the same
//! invariant checks the cargo-fuzz targets call (`latchkey::fuzz_checks`). Ignored by
//! default: `MUTATION_FUZZ_SECS=60 cargo test --release --test mutation_fuzz -- --ignored`.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

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

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if let Ok(data) = fs::read(e.path()) {
                out.push(data);
            }
        }
    }
    out
}

#[test]
#[ignore]
fn mutated_seeds_keep_every_invariant() {
    let secs: u64 = std::env::var("MUTATION_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for (target, check) in latchkey::fuzz_checks::TARGETS {
        if !["jwt_verify", "cookie_value", "cookie_header", "http_head"].contains(target) {
            continue;
        }
        let corpus = seeds(target);
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
