//! Real TLS clients on the generated certificate: curl trusts it by name and by address
//! (IPv4 and IPv6 loopback) with `--cacert` and refuses it without; the fingerprint
//! latchkey prints is the one openssl computes from the file; `openssl s_client` gets
//! TLS 1.2 and 1.3 but not 1.0 or 1.1, and ALPN `http/1.1` (RFC 7301).

use super::*;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;

/// `curl --silent --show-error FLAGS… URL` (localhost pinned to 127.0.0.1, where latchkey
/// listens, whatever /etc/hosts says about ::1); the exit code and the body.
fn curl(curl: &Path, flags: &[&str], url: &str) -> (i32, String, String) {
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    let out = run(Command::new(curl)
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(flags)
        .arg(url));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_trusts_the_generated_certificate_by_name_and_address_and_its_fingerprint_is_printed() {
    let (Some(curl_bin), Some(openssl)) = (tool("curl"), tool("openssl")) else {
        return;
    };
    let (tmp, srv) = start_tls(&[]);
    let data = tmp.path().join("data");
    let cert = data.join("tls/cert.pem");
    let (named, printed) = srv.certificate.clone().unwrap();
    assert_eq!(named, cert, "the start-up line names DATA/tls/cert.pem");
    assert_eq!(
        printed,
        openssl_fingerprint(&openssl, &cert),
        "the fingerprint printed at start is the one openssl computes"
    );
    // What latchkey logs is what a client receives.
    let conn = Conn::open_over(srv.addr, srv.tls.as_ref());
    assert_eq!(fingerprint(&conn.peer_certificates()[0]), printed);

    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/login", srv.port());
        let (code, body, err) = curl(&curl_bin, &["--cacert", cert.to_str().unwrap()], &url);
        assert_eq!(code, 0, "curl --cacert {url}: {err}");
        assert!(is_login_page(&body), "{url} answers the login page: {body}");

        // Without the certificate, curl's verification fails: exit 60 (peer certificate
        // cannot be authenticated with known CA certificates).
        let (code, body, err) = curl(&curl_bin, &[], &url);
        assert_eq!(
            code, 60,
            "curl without --cacert must refuse {url}: {err} {body}"
        );
    }

    // The key is the owner's alone (the data dir's rule), and so is the tls/ dir.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("tls/key.pem")), 0o600, "key.pem mode");
    assert_eq!(mode(&data.join("tls")), 0o700, "tls/ mode");

    // A restart keeps the certificate: the fingerprint a person checked stays valid.
    drop(srv);
    let again = Server::start(&data, &["--tls"]);
    assert_eq!(
        again.fingerprint(),
        printed,
        "a restart keeps the certificate"
    );
}

/// `openssl s_client` against 127.0.0.1:PORT with FLAGS; success and its output. With
/// `-brief` it says `Protocol version: …`; without, `ALPN protocol: …`.
fn s_client(openssl: &Path, port: u16, flags: &[&str]) -> (bool, String) {
    let out = run(Command::new("timeout")
        .arg("20")
        .arg(openssl)
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(flags));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Lets this OpenSSL speak TLS 1.0 and 1.1 at all: Debian's configuration (and
/// OpenSSL 3's default security level) refuses them on the client side already.
const LEGACY: [&str; 2] = ["-cipher", "DEFAULT:@SECLEVEL=0"];

#[test]
fn openssl_s_client_gets_tls_1_2_and_1_3_but_not_1_0_or_1_1() {
    let Some(openssl) = tool("openssl") else {
        return;
    };
    let tmp = TempDir::new("tls-versions");
    let (cert, key) = make_certificate(&openssl, tmp.path(), "control");

    // The control: the probe does speak TLS 1.0 and 1.1 to a server that allows them
    // (openssl s_server at security level 0), so a refusal below is latchkey's.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut control = Command::new(&openssl);
    control
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(LEGACY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut control = ChildGuard::spawn("openssl s_server", &mut control, false);
    wait_for_port(port, &mut control, &String::new);
    for (flag, name) in [("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")] {
        let (ok, text) = s_client(&openssl, port, &[&["-brief", flag][..], &LEGACY].concat());
        assert!(
            ok && text.contains(&format!("Protocol version: {name}\n")),
            "the probe cannot speak {name} even to openssl s_server: {text}"
        );
    }
    drop(control);

    let (tmp, srv) = start_tls(&[]);
    let cert = tmp.path().join("data/tls/cert.pem");
    let cert = cert.to_str().unwrap();
    let verify = [
        "-CAfile",
        cert,
        "-verify_return_error",
        "-servername",
        "localhost",
    ];
    for flag in ["-tls1", "-tls1_1"] {
        let (ok, text) = s_client(
            &openssl,
            srv.port(),
            &[&["-brief", flag][..], &LEGACY, &verify].concat(),
        );
        assert!(!ok, "{flag} must be refused: {text}");
        // A fatal alert, not a hang or a reset. RFC 8446 Appendix D.2 asks for
        // protocol_version (70); rustls checks for the signature_algorithms extension
        // first, which a TLS 1.0 or 1.1 ClientHello does not have, and answers
        // handshake_failure (40). Either tells the client it cannot connect.
        assert!(
            text.contains("alert number 70") || text.contains("alert number 40"),
            "{flag}: refused with a protocol_version or handshake_failure alert: {text}"
        );
        assert!(!text.contains("Protocol version: TLSv1"), "{flag}: {text}");
    }
    for (flag, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (ok, text) = s_client(
            &openssl,
            srv.port(),
            &[&["-brief", flag][..], &verify].concat(),
        );
        assert!(ok, "{flag} must be accepted: {text}");
        assert!(
            text.contains(&format!("Protocol version: {name}\n")),
            "{flag}: {text}"
        );
        assert!(text.contains("Verification: OK"), "{flag}: {text}");
    }
    // latchkey is still serving after the refusals.
    assert_eq!(srv.get("/healthz", &[]).status, 200);
}

#[test]
fn alpn_negotiates_http_1_1_and_refuses_a_client_that_only_speaks_h2() {
    let Some(openssl) = tool("openssl") else {
        return;
    };
    let (_tmp, srv) = start_tls(&[]);

    let (ok, text) = s_client(&openssl, srv.port(), &["-alpn", "http/1.1"]);
    assert!(ok, "{text}");
    assert!(text.contains("ALPN protocol: http/1.1"), "{text}");
    let (ok, text) = s_client(&openssl, srv.port(), &["-alpn", "h2,http/1.1"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ALPN protocol: http/1.1"),
        "h2 is not chosen when http/1.1 is offered too: {text}"
    );
    // A client that offers no ALPN at all (older curl, scripts) is served.
    let (ok, text) = s_client(&openssl, srv.port(), &[]);
    assert!(ok, "{text}");
    assert!(text.contains("No ALPN negotiated"), "{text}");

    // RFC 7301 §3.2: a server that supports none of the protocols the client
    // advertises SHALL answer with a fatal no_application_protocol alert (120).
    let (ok, text) = s_client(&openssl, srv.port(), &["-alpn", "h2"]);
    assert!(!ok, "an h2-only client must not get a connection: {text}");
    assert!(
        text.contains("no application protocol") || text.contains("alert number 120"),
        "refused with no_application_protocol: {text}"
    );

    // The same with our client, which reports the protocol it got.
    let conn = Conn::open_over(srv.addr, srv.tls.as_ref());
    assert_eq!(conn.alpn().as_deref(), Some(&b"http/1.1"[..]));
}

#[test]
fn https_on_ipv6_loopback_is_trusted_by_its_address() {
    let tmp = TempDir::new("tls-ipv6");
    let data = data_dir_with_users(&tmp, &[(USER, PASSWORD)]);
    let mut command = latchkey_command();
    command
        .args(["serve", "--tls", "--listen", "[::1]:0", "--data-dir"])
        .arg(&data);
    let srv = Server::spawn(command);
    assert!(srv.https && srv.addr.is_ipv6(), "{}", srv.log.text());
    // The harness's client asks for ::1 and verifies the certificate names it.
    let page = srv.get("/login", &[]);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(is_login_page(&page.text()));
    if let Some(curl_bin) = tool("curl") {
        let url = format!("https://[::1]:{}/login", srv.port());
        let cert = data.join("tls/cert.pem");
        let (code, body, err) = curl(&curl_bin, &["--cacert", cert.to_str().unwrap()], &url);
        assert_eq!(code, 0, "curl --cacert {url}: {err}");
        assert!(is_login_page(&body));
    }
}
