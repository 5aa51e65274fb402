//! testssl.sh (Debian's package, `/usr/bin/testssl`) rates the service as a user would
//! meet it, `serve --tls` with its generated certificate: no finding HIGH or CRITICAL.
//! It runs every check of its default scan (about 100 s here), trusting the generated
//! certificate as a person who checked its fingerprint does (`--add-ca`).

use super::*;
use std::time::Instant;

/// Findings that a self-signed certificate has by what it is, not by how latchkey set
/// up TLS: no CA runs a revocation list or an OCSP responder for it (and testssl.sh
/// rates a certificate without either HIGH, whoever issued it). Each is asserted to be
/// exactly that finding, so nothing else hides behind it.
const SELF_SIGNED: [(&str, &str); 1] = [("cert_revocation", "Neither CRL nor OCSP URI provided")];

#[test]
fn testssl_finds_nothing_high_or_critical() {
    let Some(testssl) = tool("testssl") else {
        return;
    };
    let (tmp, srv) = start_tls(&[]);
    let cert = tmp.path().join("data/tls/cert.pem");
    let json = tmp.path().join("testssl.json");
    let started = Instant::now();
    let out = run(Command::new(&testssl)
        .args(["--quiet", "--color", "0", "--warnings", "batch"])
        .args(["--openssl-timeout", "10"])
        .arg("--add-ca")
        .arg(&cert)
        .arg("--jsonfile")
        .arg(&json)
        .arg(format!("https://127.0.0.1:{}", srv.port())));
    let took = started.elapsed();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}\ntestssl took {took:?}");
    let findings: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(&json)
            .unwrap_or_else(|err| panic!("no {}: {err}\n{report}", json.display())),
    )
    .unwrap();
    let field = |f: &serde_json::Value, k: &str| f[k].as_str().unwrap_or("").to_owned();

    // It did scan: it saw the protocols latchkey speaks and those it does not.
    let finding = |id: &str| {
        findings
            .iter()
            .find(|f| field(f, "id") == id)
            .map(|f| field(f, "finding"))
            .unwrap_or_else(|| panic!("testssl.sh reported no {id}\n{report}"))
    };
    for id in ["TLS1_2", "TLS1_3"] {
        assert!(finding(id).starts_with("offered"), "{id}: {}", finding(id));
    }
    for id in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        assert!(
            finding(id).starts_with("not offered"),
            "{id}: {}",
            finding(id)
        );
    }
    assert!(
        finding("cert_chain_of_trust").starts_with("passed"),
        "{report}"
    );

    let bad: Vec<String> = findings
        .iter()
        .filter(|f| matches!(field(f, "severity").as_str(), "HIGH" | "CRITICAL" | "FATAL"))
        .filter(|f| {
            !SELF_SIGNED
                .iter()
                .any(|(id, text)| field(f, "id") == *id && field(f, "finding") == *text)
        })
        .map(|f| {
            format!(
                "{} {}: {}",
                field(f, "severity"),
                field(f, "id"),
                field(f, "finding")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "testssl.sh rates these HIGH or CRITICAL (or could not scan):\n{}\n{report}",
        bad.join("\n")
    );
    // latchkey survived the scan.
    assert_eq!(srv.get("/healthz", &[]).status, 200);
}
