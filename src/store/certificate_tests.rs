use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, Connection, RootCertStore, ServerConfig};

use super::*;

/// A data dir that exists, under the temp dir; removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        let suffix: [u8; 6] = crate::random::array().unwrap();
        let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("latchkey-cert-{tag}-{hex}"));
        let temp = Temp(path);
        temp.data().create().unwrap();
        temp
    }

    fn data(&self) -> DataDir {
        DataDir::new(self.0.join("data"))
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// 2026-12-02T09:00:00Z, and days.
const NOW: i64 = 1_796_202_000;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A certificate for host "pi-test" with one extra DNS name, one extra IP name, a LAN
/// listen address and the unspecified address.
fn issue_at(dir: &DataDir, now: i64) -> SelfSigned {
    dir.self_signed_at(
        &names(&["device.example.lan", "192.168.7.2"]),
        &[ip("10.1.2.3"), ip("0.0.0.0")],
        Some("pi-test"),
        now,
    )
    .unwrap()
}

fn cert_der(made: &SelfSigned) -> Vec<u8> {
    first_certificate(&fs::read(&made.cert_path).unwrap()).unwrap()
}

fn contents(made: &SelfSigned) -> Contents {
    Contents::parse(&cert_der(made)).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn verifier(made: &SelfSigned) -> Arc<WebPkiServerVerifier> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(cert_der(made))).unwrap();
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap()
}

/// What webpki (the verifier rustls clients use) says of the certificate, trusted as
/// its own root, for `name` at `at`.
fn verify_at(made: &SelfSigned, name: &str, at: i64) -> Result<(), rustls::Error> {
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let when = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(at).unwrap()));
    verifier(made)
        .verify_server_cert(
            &CertificateDer::from(cert_der(made)),
            &[],
            &server_name,
            &[],
            when,
        )
        .map(|_| ())
}

/// A whole TLS handshake in memory: a rustls client trusting the certificate as its
/// root, connecting to `name`, and a rustls server with the certificate and key files
/// as written.
fn handshake(made: &SelfSigned, name: &str) -> Result<(), rustls::Error> {
    let cert = CertificateDer::from_pem_slice(&fs::read(&made.cert_path).unwrap()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(&fs::read(&made.key_path).unwrap()).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let client_config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut client = Connection::Client(
        rustls::ClientConnection::new(Arc::new(client_config), server_name).unwrap(),
    );
    let mut server =
        Connection::Server(rustls::ServerConnection::new(Arc::new(server_config)).unwrap());
    for _ in 0..10 {
        pump(&mut client, &mut server)?;
        pump(&mut server, &mut client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake with {name} did not finish");
}

fn pump(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).unwrap();
    }
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).unwrap();
        to.process_new_packets()?;
    }
    Ok(())
}

fn not_valid_for_name(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

#[test]
fn a_tls_client_completes_a_handshake_for_every_name_in_the_certificate() {
    let tmp = Temp::new("handshake");
    let made = tmp.data().self_signed_at(
        &names(&["device.example.lan", "192.168.7.2"]),
        &[ip("10.1.2.3"), ip("0.0.0.0")],
        Some("pi-test"),
        unix_now(),
    );
    let made = made.unwrap();
    for name in [
        "localhost",
        "127.0.0.1",
        "::1",
        "pi-test",
        "pi-test.local",
        "device.example.lan",
        "DEVICE.example.lan",
        "192.168.7.2",
        "10.1.2.3",
    ] {
        handshake(&made, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in ["other.example.lan", "example.lan", "10.9.9.9", "0.0.0.0"] {
        let e = handshake(&made, name).expect_err(name);
        assert!(not_valid_for_name(&e), "{name}: {e:?}");
    }
}

#[test]
fn the_certificate_is_valid_from_a_day_ago_for_825_days_in_both_time_encodings() {
    let tmp = Temp::new("validity");
    let made = issue_at(&tmp.data(), NOW);
    let parsed = contents(&made);
    assert_eq!(parsed.not_before, NOW - DAY);
    assert_eq!(parsed.not_after, NOW - DAY + 825 * DAY - 1);
    verify_at(&made, "localhost", NOW - DAY).unwrap();
    verify_at(&made, "localhost", NOW - DAY + 825 * DAY - 1).unwrap();
    let early = verify_at(&made, "localhost", NOW - DAY - 1).unwrap_err();
    assert!(format!("{early:?}").contains("NotValidYet"), "{early:?}");
    let late = verify_at(&made, "localhost", NOW - DAY + 825 * DAY).unwrap_err();
    assert!(format!("{late:?}").contains("Expired"), "{late:?}");

    // Issued in 2049, it runs out in 2051: UTCTime, then GeneralizedTime.
    let tmp = Temp::new("validity-2049");
    let in_2049 = der::days_from_civil(2049, 6, 1) * DAY;
    let made = issue_at(&tmp.data(), in_2049);
    let der = cert_der(&made);
    let tbs_times: Vec<u8> = [
        der::time(in_2049 - DAY),
        der::time(in_2049 - DAY + LIFETIME),
    ]
    .concat();
    assert_eq!(tbs_times[0], der::tag::UTC_TIME);
    assert!(der.windows(tbs_times.len()).any(|w| w == tbs_times));
    verify_at(&made, "localhost", der::days_from_civil(2050, 1, 1) * DAY).unwrap();
    let late = verify_at(&made, "localhost", der::days_from_civil(2051, 9, 5) * DAY).unwrap_err();
    assert!(format!("{late:?}").contains("Expired"), "{late:?}");
}

#[test]
fn a_changed_signature_is_refused() {
    let tmp = Temp::new("signature");
    let made = issue_at(&tmp.data(), unix_now());
    verify_at(&made, "localhost", unix_now()).unwrap();
    let mut der = cert_der(&made);
    let last = der.len() - 1;
    der[last] ^= 1;
    fs::write(&made.cert_path, pem("CERTIFICATE", &der)).unwrap();
    let e = verify_at(&made, "localhost", unix_now()).unwrap_err();
    assert!(
        matches!(
            e,
            rustls::Error::InvalidCertificate(CertificateError::BadSignature)
        ),
        "{e:?}"
    );
}

#[test]
fn first_use_writes_a_private_dir_a_private_key_and_the_certificate() {
    let tmp = Temp::new("first");
    let dir = tmp.data();
    let made = issue_at(&dir, NOW);
    assert!(made.created);
    assert_eq!(made.issued, Some(Issued::NewKey));
    assert_eq!(made.cert_path, dir.path().join("tls/cert.pem"));
    assert_eq!(made.key_path, dir.path().join("tls/key.pem"));
    assert_eq!(mode(&dir.tls_dir()), 0o700);
    assert_eq!(mode(&made.cert_path), 0o600);
    assert_eq!(mode(&made.key_path), 0o600);
    assert_eq!(made.fingerprint, fingerprint(&cert_der(&made)));

    let key = fs::read_to_string(&made.key_path).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{key}");
    let cert = fs::read_to_string(&made.cert_path).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"), "{cert}");
    assert!(cert.ends_with("-----END CERTIFICATE-----\n"), "{cert}");
    let body: Vec<&str> = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    let (last, full) = body.split_last().unwrap();
    assert!(full.iter().all(|l| l.len() == 64), "{cert}");
    assert!((1..=64).contains(&last.len()), "{cert}");

    let parsed = contents(&made);
    assert_eq!(
        parsed.dns,
        names(&[
            "pi-test",
            "pi-test.local",
            "localhost",
            "device.example.lan"
        ])
    );
    assert_eq!(
        parsed.ips,
        [
            ip("127.0.0.1"),
            ip("::1"),
            ip("10.1.2.3"),
            ip("192.168.7.2")
        ]
    );
}

#[test]
fn the_serial_is_a_positive_16_octet_integer_and_differs_per_certificate() {
    let tmp = Temp::new("serial");
    let dir = tmp.data();
    let serial = |made: &SelfSigned| {
        let der = cert_der(made);
        let mut cert = der::Reader::new(&der);
        let mut tbs = der::Reader::new(cert.expect(der::tag::SEQUENCE).unwrap());
        let mut tbs = der::Reader::new(tbs.expect(der::tag::SEQUENCE).unwrap());
        assert_eq!(
            tbs.optional(der::tag::context(0)),
            Some(Some(&[2, 1, 2][..]))
        );
        tbs.expect(der::tag::INTEGER).unwrap().to_vec()
    };
    let first = serial(&issue_at(&dir, NOW));
    assert_eq!(first.len(), 16);
    assert_eq!(first[0] & 0xc0, 0x40, "{first:02x?}");
    let second = serial(&issue_at(&dir, NOW + 800 * DAY));
    assert_eq!(second.len(), 16);
    assert_ne!(first, second);
}

#[test]
fn a_second_start_reuses_the_certificate_as_it_is() {
    let tmp = Temp::new("reuse");
    let dir = tmp.data();
    let first = issue_at(&dir, NOW);
    let cert = fs::read(&first.cert_path).unwrap();
    let key = fs::read(&first.key_path).unwrap();
    // Names asked for again in another order and case, a month later.
    let again = dir
        .self_signed_at(
            &names(&["192.168.7.2", "Device.Example.LAN."]),
            &[ip("10.1.2.3")],
            Some("pi-test"),
            NOW + 30 * DAY,
        )
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.issued, None);
    assert_eq!(again.fingerprint, first.fingerprint);
    assert_eq!(fs::read(&first.cert_path).unwrap(), cert);
    assert_eq!(fs::read(&first.key_path).unwrap(), key);
}

#[test]
fn a_new_name_or_address_reissues_the_certificate_with_the_same_key() {
    let tmp = Temp::new("rename");
    let dir = tmp.data();
    let now = unix_now();
    let first = issue_at(&dir, now);
    let key = fs::read(&first.key_path).unwrap();
    let point = contents(&first).public_key;
    let check = |made: SelfSigned, lacked: &str| {
        assert!(made.created, "{lacked}");
        assert_eq!(made.issued, Some(Issued::Lacks(lacked.to_owned())));
        assert_ne!(made.fingerprint, first.fingerprint);
        assert_eq!(fs::read(&made.key_path).unwrap(), key, "{lacked}");
        assert_eq!(contents(&made).public_key, point);
        handshake(&made, lacked).unwrap();
    };
    let host = Some("pi-test");
    check(
        dir.self_signed_at(&names(&["router.lan"]), &[], host, now)
            .unwrap(),
        "router.lan",
    );
    check(
        dir.self_signed_at(&[], &[ip("fd00::7")], host, now)
            .unwrap(),
        "fd00::7",
    );
    check(
        dir.self_signed_at(&[], &[], Some("renamed"), now).unwrap(),
        "renamed",
    );
}

#[test]
fn a_certificate_near_its_end_or_not_yet_valid_is_reissued_with_the_same_key() {
    let tmp = Temp::new("expiry");
    let dir = tmp.data();
    let first = issue_at(&dir, NOW);
    let key = fs::read(&first.key_path).unwrap();
    let not_after = contents(&first).not_after;

    let kept = issue_at(&dir, not_after - RENEW_BEFORE);
    assert_eq!(kept.issued, None);
    let renewed = issue_at(&dir, not_after - RENEW_BEFORE + 1);
    assert_eq!(renewed.issued, Some(Issued::Expiring));
    assert_eq!(
        contents(&renewed).not_before,
        not_after - RENEW_BEFORE + 1 - DAY
    );

    // The clock went back past notBefore (set wrong before, or now).
    let back = issue_at(&dir, NOW - 3 * DAY);
    assert_eq!(back.issued, Some(Issued::NotYetValid));
    assert_eq!(fs::read(&back.key_path).unwrap(), key);
    verify_at(&back, "localhost", NOW - 3 * DAY).unwrap();
}

#[test]
fn a_key_without_its_certificate_gets_one_and_a_certificate_for_another_key_is_replaced() {
    let tmp = Temp::new("pair");
    let dir = tmp.data();
    let first = issue_at(&dir, unix_now());
    let key = fs::read(&first.key_path).unwrap();

    // Killed between writing the key and the certificate.
    fs::remove_file(&first.cert_path).unwrap();
    let made = issue_at(&dir, unix_now());
    assert_eq!(made.issued, Some(Issued::Missing));
    assert_eq!(fs::read(&made.key_path).unwrap(), key);
    handshake(&made, "localhost").unwrap();

    // A certificate of another data dir's key.
    let other = Temp::new("pair-other");
    let foreign = issue_at(&other.data(), unix_now());
    fs::copy(&foreign.cert_path, &made.cert_path).unwrap();
    let made = issue_at(&dir, unix_now());
    assert_eq!(made.issued, Some(Issued::OtherKey));
    assert_eq!(fs::read(&made.key_path).unwrap(), key);
    handshake(&made, "localhost").unwrap();

    // No key: a new one, and so a new certificate.
    fs::remove_file(&made.key_path).unwrap();
    let made = issue_at(&dir, unix_now());
    assert_eq!(made.issued, Some(Issued::NewKey));
    assert_ne!(fs::read(&made.key_path).unwrap(), key);
    handshake(&made, "localhost").unwrap();
}

#[test]
fn an_unreadable_key_or_certificate_is_an_error_and_left_as_it_is() {
    let tmp = Temp::new("corrupt");
    let dir = tmp.data();
    let first = issue_at(&dir, NOW);
    let key = fs::read(&first.key_path).unwrap();
    let cert = fs::read(&first.cert_path).unwrap();

    let broken_keys: [(&[u8], &str); 4] = [
        (b"", "no PEM \"PRIVATE KEY\" in it"),
        (
            b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n",
            "no PEM \"PRIVATE KEY\" in it",
        ),
        (
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
            "not an ECDSA P-256 private key",
        ),
        (&key[..key.len() - 30], "bad PEM"),
    ];
    for (broken, why) in broken_keys {
        fs::write(&first.key_path, broken).unwrap();
        let e = dir
            .self_signed_at(&names(&["new.example.lan"]), &[], Some("pi-test"), NOW)
            .unwrap_err();
        assert!(matches!(e, StoreError::TlsFile(..)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{}: ", first.key_path.display())),
            "{text}"
        );
        assert!(text.contains(why), "{text}");
        assert!(
            text.ends_with("move it away to have latchkey make a new one"),
            "{text}"
        );
        assert_eq!(fs::read(&first.key_path).unwrap(), broken);
        assert_eq!(fs::read(&first.cert_path).unwrap(), cert);
    }
    fs::write(&first.key_path, &key).unwrap();

    let broken_certs: [&[u8]; 3] = [
        b"not pem at all\n",
        b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        &cert[..cert.len() - 40],
    ];
    for broken in broken_certs {
        fs::write(&first.cert_path, broken).unwrap();
        let e = dir
            .self_signed_at(&names(&["new.example.lan"]), &[], Some("pi-test"), NOW)
            .unwrap_err();
        assert!(matches!(e, StoreError::TlsFile(..)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: ", first.cert_path.display()))
        );
        assert_eq!(fs::read(&first.cert_path).unwrap(), broken);
        assert_eq!(fs::read(&first.key_path).unwrap(), key);
    }
}

#[test]
fn a_key_others_may_read_is_refused() {
    let tmp = Temp::new("mode");
    let dir = tmp.data();
    let first = issue_at(&dir, NOW);
    fs::set_permissions(&first.key_path, fs::Permissions::from_mode(0o644)).unwrap();
    let e = issue_at_err(&dir);
    assert!(matches!(e, StoreError::Permissions(_, 0o644)), "{e:?}");
}

fn issue_at_err(dir: &DataDir) -> StoreError {
    dir.self_signed_at(&[], &[], Some("pi-test"), NOW)
        .unwrap_err()
}

#[test]
fn a_name_that_is_neither_dns_nor_ip_is_refused_before_anything_is_written() {
    let tmp = Temp::new("badname");
    let dir = tmp.data();
    for bad in [
        "",
        "two words",
        "*.example.lan",
        "-x.lan",
        "a..b",
        "host/path",
        "1.2.3",
        "x..",
    ] {
        let e = dir
            .self_signed_at(&names(&["ok.lan", bad]), &[], Some("pi-test"), NOW)
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::TlsName(n) if n == bad),
            "{bad:?}: {e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{bad:?}: not a DNS name or IP address for the certificate")
        );
    }
    assert!(!dir.tls_dir().exists());
}

/// The entry point `serve` calls: this machine's host name and clock.
#[test]
fn the_entry_point_names_this_host_and_uses_the_clock() {
    let tmp = Temp::new("entry");
    let dir = tmp.data();
    let made = dir
        .self_signed_certificate(&names(&["entry.example.lan"]), &[ip("127.0.0.2")])
        .unwrap();
    assert_eq!(made.issued, Some(Issued::NewKey));
    for name in ["localhost", "entry.example.lan", "127.0.0.2"] {
        handshake(&made, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let host = host_name();
    if let Some(host) = &host {
        handshake(&made, host).unwrap();
    }
    let parsed = contents(&made);
    assert_eq!(
        parsed.dns.first(),
        host.as_ref().or(Some(&"localhost".to_owned()))
    );
    let again = dir
        .self_signed_certificate(&names(&["entry.example.lan"]), &[])
        .unwrap();
    assert_eq!(
        (again.created, again.fingerprint),
        (false, made.fingerprint)
    );
}

#[test]
fn without_a_valid_host_name_the_certificate_still_has_localhost() {
    assert_eq!(dns_name("Pi-Test."), Some("pi-test".to_owned()));
    assert_eq!(dns_name("(none)"), None);
    assert_eq!(dns_name("localhost"), Some("localhost".to_owned()));
    let wanted = Wanted::new(None, &[], &[ip("::"), ip("127.0.0.1")]).unwrap();
    assert_eq!(wanted.common_name, "latchkey");
    assert_eq!(wanted.dns, names(&["localhost"]));
    assert_eq!(wanted.ips, [ip("127.0.0.1"), ip("::1")]);
    let long = "a".repeat(60);
    let wanted = Wanted::new(Some(&long), &[], &[]).unwrap();
    assert_eq!(wanted.common_name, "latchkey");
    assert_eq!(wanted.dns[0], long);
    let wanted = Wanted::new(Some("pi.example.lan"), &[], &[]).unwrap();
    assert_eq!(wanted.common_name, "latchkey on pi.example.lan");
    assert_eq!(wanted.dns, names(&["pi.example.lan", "localhost"]));
}

#[test]
fn concurrent_starts_end_with_one_matching_pair() {
    let tmp = Temp::new("race");
    let dir = tmp.data();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || issue_at(&dir, unix_now()))
        })
        .collect();
    let results: Vec<SelfSigned> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.created).count(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.fingerprint == results[0].fingerprint)
    );
    handshake(&results[0], "pi-test").unwrap();
    let leftovers: Vec<_> = fs::read_dir(dir.tls_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn a_key_made_by_openssl_is_reused() {
    let Some(openssl) = openssl() else { return };
    let tmp = Temp::new("openssl-key");
    let dir = tmp.data();
    fs::create_dir(dir.tls_dir()).unwrap();
    let key_path = dir.tls_dir().join(KEY_FILE);
    run(Command::new(&openssl)
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key_path));
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600)).unwrap();
    let key = fs::read(&key_path).unwrap();
    let made = issue_at(&dir, unix_now());
    assert_eq!(made.issued, Some(Issued::Missing));
    assert_eq!(fs::read(&key_path).unwrap(), key);
    handshake(&made, "localhost").unwrap();
}

#[test]
fn openssl_reads_the_certificate_verifies_it_and_prints_our_fingerprint() {
    let Some(openssl) = openssl() else { return };
    let tmp = Temp::new("openssl");
    let made = issue_at(&tmp.data(), unix_now());
    let cert = made.cert_path.as_os_str();

    // OpenSSL 3.0 prints "CN = x", later versions "CN=x".
    let text = run(Command::new(&openssl)
        .args(["x509", "-noout", "-text", "-in"])
        .arg(cert))
    .replace(" = ", "=");
    for expected in [
        "Version: 3 (0x2)",
        "Signature Algorithm: ecdsa-with-SHA256",
        "Issuer: CN=latchkey on pi-test",
        "Subject: CN=latchkey on pi-test",
        "ASN1 OID: prime256v1",
        "X509v3 Basic Constraints: critical\n                CA:FALSE",
        "X509v3 Key Usage: critical\n                Digital Signature\n",
        "X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n",
        "DNS:pi-test, DNS:pi-test.local, DNS:localhost, DNS:device.example.lan, \
         IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.1.2.3, \
         IP Address:192.168.7.2\n",
        "X509v3 Subject Key Identifier",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }

    let printed = run(Command::new(&openssl)
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert));
    let (label, value) = printed.trim_end().split_once('=').unwrap();
    assert!(
        label.eq_ignore_ascii_case("sha256 Fingerprint"),
        "{printed}"
    );
    assert_eq!(value, made.fingerprint);

    // As `curl --cacert` and Python's ssl (strict since 3.13) would check it.
    let verified = run(Command::new(&openssl)
        .args(["verify", "-x509_strict", "-purpose", "sslserver"])
        .args(["-verify_hostname", "pi-test.local", "-CAfile"])
        .arg(cert)
        .arg(cert));
    assert_eq!(
        verified.trim_end(),
        format!("{}: OK", made.cert_path.display())
    );

    let from_key = run(Command::new(&openssl)
        .args(["pkey", "-pubout", "-in"])
        .arg(&made.key_path));
    let from_cert = run(Command::new(&openssl)
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(cert));
    assert_eq!(from_key, from_cert);
}

/// `openssl` on the PATH. Where it is missing the test is skipped with a `SKIP:` line,
/// except in CI (`CI` set, as tests/common's `in_ci`), where that is a failure.
fn openssl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("openssl"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let in_ci = std::env::var("CI")
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
        let current = std::thread::current();
        let test = current.name().unwrap_or("this test");
        assert!(
            !in_ci,
            "{test} cannot run: openssl is not installed (CI is set)"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SKIP: {test}: openssl is not installed\n").as_bytes(),
        );
    }
    found
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn fingerprints_are_uppercase_hex_pairs_joined_by_colons() {
    // SHA-256 of nothing (FIPS 180-4 test vectors).
    assert_eq!(
        fingerprint(b""),
        "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:\
         27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
    );
}

mod der_encoding {
    use super::der::{self, Reader, tag};

    fn length(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        der::push_length(&mut out, len);
        out
    }

    #[test]
    fn lengths_are_short_below_128_and_minimal_long_form_above() {
        assert_eq!(length(0), [0x00]);
        assert_eq!(length(127), [0x7f]);
        assert_eq!(length(128), [0x81, 0x80]);
        assert_eq!(length(255), [0x81, 0xff]);
        assert_eq!(length(256), [0x82, 0x01, 0x00]);
        assert_eq!(length(65_535), [0x82, 0xff, 0xff]);
        assert_eq!(length(65_536), [0x83, 0x01, 0x00, 0x00]);
    }

    #[test]
    fn every_length_reads_back_and_a_non_minimal_one_does_not() {
        for len in [0, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let contents = vec![0x5a; len];
            let mut encoded = der::tlv(tag::OCTET_STRING, &contents);
            encoded.push(0x05);
            let mut reader = Reader::new(&encoded);
            assert_eq!(reader.next(), Some((tag::OCTET_STRING, &contents[..])));
            assert_eq!(reader.next(), None, "a lone trailing octet");
        }
        for bad in [
            &[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..], // fits the short form
            &[0x04, 0x82, 0x00, 0x80],              // leading zero octet
            &[0x30, 0x80, 0x00, 0x00],              // indefinite (BER)
            &[0x04, 0x02, 0x01],                    // runs past the end
            &[0x1f, 0x01, 0x00],                    // multi-octet tag
            &[0x04, 0x85, 1, 0, 0, 0, 0],           // absurdly long
        ] {
            assert_eq!(Reader::new(bad).next(), None, "{bad:02x?}");
        }
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(der::integer(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(der::integer(&[0, 0]), [0x02, 0x01, 0x00]);
        assert_eq!(der::integer(&[2]), [0x02, 0x01, 0x02]);
        assert_eq!(der::integer(&[0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(der::integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(der::integer(&[0xff, 0x01]), [0x02, 0x03, 0x00, 0xff, 0x01]);
        assert_eq!(
            der::integer(&[0x00, 0x00, 0x7f, 0x01]),
            [0x02, 0x02, 0x7f, 0x01]
        );
        assert_eq!(der::integer(&[0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
    }

    #[test]
    fn object_identifiers_match_their_registered_encodings() {
        // The octets as RFC 5480 §2.1.1, RFC 5758 §3.2 and RFC 5280 print them.
        assert_eq!(
            der::oid(&super::oid::EC_PUBLIC_KEY),
            [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
        );
        assert_eq!(
            der::oid(&super::oid::P256),
            [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
        );
        assert_eq!(
            der::oid(&super::oid::ECDSA_WITH_SHA256),
            [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]
        );
        assert_eq!(
            der::oid(&super::oid::SERVER_AUTH),
            [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]
        );
        assert_eq!(
            der::oid(&super::oid::COMMON_NAME),
            [0x06, 0x03, 0x55, 0x04, 0x03]
        );
        assert_eq!(
            der::oid(&super::oid::SUBJECT_ALT_NAME),
            [0x06, 0x03, 0x55, 0x1d, 0x11]
        );
    }

    #[test]
    fn times_are_utc_time_through_2049_and_generalized_time_after() {
        let at = |y, mo, d, h: i64, mi: i64, s: i64| {
            der::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
        };
        let cases = [
            (at(1970, 1, 1, 0, 0, 0), tag::UTC_TIME, "700101000000Z"),
            (at(2026, 12, 2, 9, 5, 7), tag::UTC_TIME, "261202090507Z"),
            (at(2049, 12, 31, 23, 59, 59), tag::UTC_TIME, "491231235959Z"),
            (
                at(2050, 1, 1, 0, 0, 0),
                tag::GENERALIZED_TIME,
                "20500101000000Z",
            ),
            (
                at(2100, 2, 28, 12, 0, 0),
                tag::GENERALIZED_TIME,
                "21000228120000Z",
            ),
            (
                at(1949, 12, 31, 23, 59, 59),
                tag::GENERALIZED_TIME,
                "19491231235959Z",
            ),
            (at(2024, 2, 29, 1, 2, 3), tag::UTC_TIME, "240229010203Z"),
        ];
        for (secs, expected_tag, text) in cases {
            assert_eq!(
                der::time(secs),
                der::tlv(expected_tag, text.as_bytes()),
                "{text}"
            );
            assert_eq!(
                der::read_time((expected_tag, text.as_bytes())),
                Some(secs),
                "{text}"
            );
        }
        assert_eq!(at(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(at(2000, 3, 1, 0, 0, 0), 951_868_800);
        assert_eq!(
            der::time(i64::MAX),
            der::tlv(tag::GENERALIZED_TIME, b"99991231235959Z")
        );
        for days in [-800_000, -1, 0, 59, 60, 10_957, 2_932_896] {
            let (y, m, d) = der::civil_from_days(days);
            assert_eq!(der::days_from_civil(y, m, d), days);
        }
        for bad in [
            "491231235959",
            "4912312359590",
            "491331235959Z",
            "49123123595aZ",
            "4912312359€Z",
        ] {
            assert_eq!(
                der::read_time((tag::UTC_TIME, bad.as_bytes())),
                None,
                "{bad}"
            );
        }
    }
}
