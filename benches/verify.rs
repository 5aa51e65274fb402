//! Token verification cost, in nanoseconds per operation (median of several rounds).
//!
//! Run with `cargo bench --bench verify`. No criterion: a plain timing loop keeps the
//! dev-dependency tree small. Also session cookie verification, and password
//! verification at the default cost (timed on its own: it takes milliseconds).
//!
//! The machine this runs on is shared, so rounds are interleaved: each round times
//! every row once, back to back, and the ratio rows are medians of per-round ratios,
//! which a load change between rows cannot skew much. `BENCH_ONLY=<substring>` keeps
//! matching rows; `BENCH_ROUNDS` / `BENCH_ITERS` shrink the run (e.g. under callgrind).

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hmac::Mac;
use latchkey::jwt::{self, Claims, TokenType, Validation};
use latchkey::keys::KeySet;

const ROUNDS: usize = 31;
const ITERS_PER_ROUND: usize = 10_000;

/// One benchmark row: name, what it includes, and the operation (returns something
/// to keep the optimiser honest).
struct Row {
    name: &'static str,
    includes: &'static str,
    op: Box<dyn FnMut() -> usize>,
}

struct Fixture {
    token: String,
    keys: KeySet,
    secret: Vec<u8>,
    now: u64,
}

fn fixture() -> Fixture {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1_700_000_000);
    let secret = [7u8; 32];
    // A raw shared secret so jsonwebtoken can use the very same key bytes.
    let keys = KeySet::single(latchkey::keys::Key::raw(Some("k1"), &secret).unwrap());
    let claims = Claims::new_token("admin", now, 900, "Zm9vYmFyYmF6cXV4", TokenType::Access);
    let token = jwt::sign(&claims, keys.current());
    Fixture {
        token,
        keys,
        secret: secret.to_vec(),
        now,
    }
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct JwtClaims {
    sub: String,
    identity: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    #[serde(rename = "type")]
    token_type: String,
}

fn rows(f: &Fixture) -> Vec<Row> {
    let mut rows = Vec::new();

    let now = f.now;
    let (token, keys) = (f.token.clone(), f.keys.clone());
    let validation = Validation::default();
    rows.push(Row {
        name: VERIFY,
        includes: "every check: shape, header, HMAC, strict JSON, claims, validation",
        op: Box::new(move || {
            let c = jwt::verify(black_box(&token), black_box(&keys), &validation, now);
            c.map(|c| c.extra.len()).unwrap_or(usize::MAX)
        }),
    });

    let keys = f.keys.clone();
    let minimal = jwt::sign(
        &Claims {
            exp: Some(f.now + 900),
            ..Claims::default()
        },
        keys.current(),
    );
    let validation = Validation::default();
    rows.push(Row {
        name: "jwt::verify minimal",
        includes: "the same for a token whose payload is only {\"exp\":…} (fixed cost)",
        op: Box::new(move || {
            let c = jwt::verify(black_box(&minimal), black_box(&keys), &validation, now);
            c.map(|c| c.extra.len()).unwrap_or(usize::MAX)
        }),
    });

    let signing_input = f.token.rsplit_once('.').map(|(i, _)| i.to_owned()).unwrap();
    let key = f.keys.current().clone();
    rows.push(Row {
        name: HMAC,
        includes: "HMAC of the signing input with a pre-keyed MAC (no key schedule), no parsing",
        op: Box::new(move || {
            let mut mac = key.mac();
            mac.update(black_box(signing_input.as_bytes()));
            usize::from(mac.finalize().into_bytes()[0])
        }),
    });

    let token = f.token.clone();
    let decoding_key = jsonwebtoken::DecodingKey::from_secret(&f.secret);
    let mut jv = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    jv.leeway = 10;
    rows.push(Row {
        name: JSONWEBTOKEN,
        includes: "jsonwebtoken 11 decode+validate into a serde struct (HMAC key schedule each call)",
        op: Box::new(move || {
            let d = jsonwebtoken::decode::<JwtClaims>(black_box(&token), &decoding_key, &jv);
            d.map(|d| d.claims.sub.len()).unwrap_or(usize::MAX)
        }),
    });

    let ring = latchkey::keys::Keyring::from_master("k1", &f.secret).unwrap();
    let cookie_keys = ring.key_set(latchkey::keys::Purpose::SessionCookie);
    let session = latchkey::cookie::Session::new("admin", f.now, 43_200, false, 1).unwrap();
    let value = latchkey::cookie::seal(&session, "latchkey_session", cookie_keys.current());
    rows.push(Row {
        name: "cookie::open",
        includes: "session cookie verify: shape, kid, HMAC over name and payload, payload decode, expiry",
        op: Box::new(move || {
            let s = latchkey::cookie::open(black_box(&value), "latchkey_session", &cookie_keys, now);
            s.map(|s| s.user.len()).unwrap_or(usize::MAX)
        }),
    });
    rows
}

const VERIFY: &str = "jwt::verify";
const HMAC: &str = "bare HMAC-SHA256";
const JSONWEBTOKEN: &str = "jsonwebtoken decode";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Nanoseconds per call of `iters` calls.
fn time_ns(op: &mut dyn FnMut() -> usize, iters: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(op());
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let f = fixture();
    let sane = jwt::verify(&f.token, &f.keys, &Validation::default(), f.now);
    assert!(sane.is_ok(), "bench token must verify: {sane:?}");
    let jwt_ok = jsonwebtoken::decode::<JwtClaims>(
        &f.token,
        &jsonwebtoken::DecodingKey::from_secret(&f.secret),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    );
    assert!(
        jwt_ok.is_ok(),
        "jsonwebtoken must accept the bench token: {:?}",
        jwt_ok.err()
    );

    let rounds = env_usize("BENCH_ROUNDS", ROUNDS).max(1);
    let iters = env_usize("BENCH_ITERS", ITERS_PER_ROUND).max(1);
    println!(
        "token: {} bytes ({rounds} interleaved rounds x {iters} iterations; median, min)",
        f.token.len(),
    );
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let mut rows: Vec<Row> = rows(&f)
        .into_iter()
        .filter(|r| r.name.contains(only.as_str()))
        .collect();
    for row in &mut rows {
        time_ns(&mut row.op, iters / 10 + 1);
    }
    // samples[row][round]
    let mut samples = vec![Vec::with_capacity(rounds); rows.len()];
    for round in 0..rounds {
        // Rotate the order so no row always runs right after another.
        for k in 0..rows.len() {
            let i = (round + k) % rows.len();
            if let (Some(row), Some(out)) = (rows.get_mut(i), samples.get_mut(i)) {
                out.push(time_ns(&mut row.op, iters));
            }
        }
    }
    println!("{:<26} {:>9} {:>9}  includes", "row", "ns/op", "min");
    for (row, s) in rows.iter().zip(&samples) {
        let min = s.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{:<26} {:>9.1} {:>9.1}  {}",
            row.name,
            median(s.clone()),
            min,
            row.includes
        );
    }
    let series = |name: &str| {
        rows.iter()
            .position(|r| r.name == name)
            .and_then(|i| samples.get(i))
    };
    let ratio = |label: &str, num: &str, den: &str| {
        if let (Some(n), Some(d)) = (series(num), series(den)) {
            let per_round = n.iter().zip(d).map(|(n, d)| n / d).collect();
            println!(
                "{label:<26} {:>9.2}  (median of per-round ratios)",
                median(per_round)
            );
        }
    };
    ratio("ratio verify/hmac", VERIFY, HMAC);
    ratio("ratio cookie/hmac", "cookie::open", HMAC);
    ratio("ratio jsonwebtoken/verify", JSONWEBTOKEN, VERIFY);
    if only.is_empty() || "password::verify".contains(only.as_str()) {
        password_row();
    }
}

/// Password verification at the default policy's cost: far too slow for the
/// interleaved loop, so a few single calls, median.
fn password_row() {
    let policy = latchkey::password::Policy::default();
    let stored = latchkey::password::hash(b"correct horse", &policy).unwrap();
    let mut ms: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let ok = latchkey::password::verify(black_box(b"correct horse"), &stored);
            assert_eq!(ok, Ok(true));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "{:<26} {:>9.1} ms  PBKDF2-HMAC-SHA256 at the default cost (i={}), median of 5",
        "password::verify",
        ms[2],
        policy.iterations()
    );
}
