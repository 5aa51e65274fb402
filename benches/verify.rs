//! Token verification cost, in nanoseconds per operation (median of several rounds).
//!
//! Run with `cargo bench --bench verify`. No criterion: a plain timing loop keeps the
//! dev-dependency tree small. Rows for cookie and password verification are to be
//! added to `rows()` by their owners.

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hmac::Mac;
use latchkey::jwt::{self, Claims, TokenType, Validation};
use latchkey::keys::KeySet;

const ROUNDS: usize = 15;
const ITERS_PER_ROUND: usize = 20_000;

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

    let (token, keys, now) = (f.token.clone(), f.keys.clone(), f.now);
    let validation = Validation::default();
    rows.push(Row {
        name: "latchkey jwt::verify",
        includes: "split, base64, strict JSON, header+claims, pre-keyed HMAC, validation",
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
        includes: "same as above for a token whose payload is only {\"exp\":…} (fixed cost)",
        op: Box::new(move || {
            let c = jwt::verify(black_box(&minimal), black_box(&keys), &validation, now);
            c.map(|c| c.extra.len()).unwrap_or(usize::MAX)
        }),
    });

    let signing_input = f.token.rsplit_once('.').map(|(i, _)| i.to_owned()).unwrap();
    let key = f.keys.current().clone();
    rows.push(Row {
        name: "bare HMAC-SHA256",
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
        name: "jsonwebtoken decode",
        includes: "jsonwebtoken 11 decode+validate into a serde struct (HMAC key schedule each call)",
        op: Box::new(move || {
            let d = jsonwebtoken::decode::<JwtClaims>(black_box(&token), &decoding_key, &jv);
            d.map(|d| d.claims.sub.len()).unwrap_or(usize::MAX)
        }),
    });

    // ---- Rows added by other modules go here (keep the same Row shape): ----
    // rows.extend(cookie_rows());    // cookie verify (src/cookie)
    // rows.extend(password_rows());  // password verify (src/password)
    rows
}

fn median_ns(op: &mut dyn FnMut() -> usize) -> f64 {
    for _ in 0..ITERS_PER_ROUND / 10 {
        black_box(op());
    }
    let mut samples: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ITERS_PER_ROUND {
                black_box(op());
            }
            start.elapsed().as_nanos() as f64 / ITERS_PER_ROUND as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
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

    println!(
        "token: {} bytes ({} rounds x {} iterations, median)",
        f.token.len(),
        ROUNDS,
        ITERS_PER_ROUND
    );
    println!("{:<24} {:>10}  includes", "row", "ns/op");
    let mut results = Vec::new();
    // BENCH_ONLY=<substring> runs only matching rows (handy under a profiler).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for mut row in rows(&f)
        .into_iter()
        .filter(|r| r.name.contains(only.as_str()))
    {
        let ns = median_ns(&mut row.op);
        println!("{:<24} {:>10.1}  {}", row.name, ns, row.includes);
        results.push((row.name, ns));
    }
    let get = |name: &str| results.iter().find(|(n, _)| *n == name).map(|(_, ns)| *ns);
    if let (Some(v), Some(h), Some(j)) = (
        get("latchkey jwt::verify"),
        get("bare HMAC-SHA256"),
        get("jsonwebtoken decode"),
    ) {
        println!("ratio verify/hmac        {:>10.2}  (target <= 1.5)", v / h);
        println!("ratio jsonwebtoken/verify{:>10.2}  (target >= 4)", j / v);
    }
}
