//! A mistake in the HTTPS flags is answered before the data directory is touched: one
//! line on stderr, a non-zero exit, and no first-run data dir or admin password for a
//! service that never ran.

use crate::common::*;

#[test]
fn a_bad_https_flag_leaves_no_data_dir_behind() {
    let tmp = TempDir::new("tls-mistakes");
    let cert = tmp.path().join("cert.pem");
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cert = cert.to_str().unwrap().to_owned();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &[
                "--tls-cert",
                "/nonexistent/cert.pem",
                "--tls-key",
                "/nonexistent/key.pem",
            ],
            1,
            "cannot read /nonexistent/cert.pem",
        ),
        (
            &["--tls-cert", &cert, "--tls-key", &cert],
            1,
            "tls certificate",
        ),
        (&["--tls", "--tls-name", "bad!name"], 2, "--tls-name"),
        (&["--tls", "--redirect-http", &busy], 1, "--redirect-http"),
        (&["--hsts"], 2, "--hsts"),
    ];
    for (i, (flags, code, says)) in cases.iter().enumerate() {
        let data = tmp.path().join(format!("data-{i}"));
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
        args.push(data.to_str().unwrap());
        args.extend_from_slice(flags);
        let run = cli(&args, "");
        assert_eq!(run.code, *code, "{flags:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{flags:?}: {}", run.stderr);
        assert!(
            !data.exists(),
            "{flags:?} created the data dir: {}",
            run.stderr
        );
    }
}
