//! `--tls-cert FILE --tls-key FILE` with a certificate renewed on disk (as acme.sh or
//! certbot does it): a connection made before keeps working, a new one gets the new
//! certificate within about a second, and a renewal caught half-written or broken keeps
//! the certificate that works.

use super::*;
use std::time::{Duration, Instant};

/// Replaces `dest` with `src`'s bytes the way a renewal tool does: a new file renamed
/// over the old one.
fn install(src: &Path, dest: &Path) {
    let tmp = dest.with_extension("new");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dest).unwrap();
}

/// The fingerprint of the certificate a new connection gets.
fn served_fingerprint(srv: &Server) -> String {
    let conn = Conn::open_over(srv.addr, srv.tls.as_ref());
    fingerprint(&conn.peer_certificates()[0])
}

/// Waits (3 s at most) until new connections get `want`; how long that took.
fn until_served(srv: &Server, want: &str) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        if served_fingerprint(srv) == want {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// One keep-alive `GET /login` on `conn`.
fn keep_alive_login_page(conn: &mut Conn) -> Response {
    conn.send(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    conn.response()
}

#[test]
fn a_renewed_certificate_is_served_to_new_connections_while_old_ones_keep_going() {
    let Some(openssl) = tool("openssl") else {
        return;
    };
    let tmp = TempDir::new("tls-renew");
    let (old_cert, old_key) = make_certificate(&openssl, tmp.path(), "old");
    let (new_cert, new_key) = make_certificate(&openssl, tmp.path(), "new");
    let (old_fp, new_fp) = (
        openssl_fingerprint(&openssl, &old_cert),
        openssl_fingerprint(&openssl, &new_cert),
    );
    let live = tmp.subdir("live");
    let (cert, key) = (live.join("fullchain.pem"), live.join("privkey.pem"));
    install(&old_cert, &cert);
    install(&old_key, &key);

    let data = data_dir_with_users(&tmp, &[(USER, PASSWORD)]);
    let mut srv = Server::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(srv.https, "--tls-cert implies --tls");
    assert_eq!(srv.fingerprint(), old_fp, "the start-up line");
    // Trust both, as a client of a real CA would: what changes is which one is served.
    srv.tls = Some(Tls::trusting(&[&old_cert, &new_cert], "127.0.0.1"));
    assert_eq!(served_fingerprint(&srv), old_fp);

    let mut kept = Conn::open_over(srv.addr, srv.tls.as_ref());
    assert_eq!(keep_alive_login_page(&mut kept).status, 200);

    // The key first, then the certificate (a moment in which they do not match).
    install(&new_key, &key);
    install(&new_cert, &cert);
    let took = until_served(&srv, &new_fp);
    assert!(
        took.is_some(),
        "new connections still get the old certificate 3 s after the renewal:\n{}",
        srv.log.text()
    );
    println!("renewed certificate served after {took:?}");

    // The connection made before the renewal keeps going, on the old certificate.
    let again = keep_alive_login_page(&mut kept);
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(fingerprint(&kept.peer_certificates()[0]), old_fp);

    // A broken renewal (a truncated certificate, then a key that belongs to another
    // certificate) keeps what works, and the server up.
    std::fs::write(&cert, b"-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        served_fingerprint(&srv),
        new_fp,
        "a truncated file replaced a good one"
    );
    install(&new_cert, &cert);
    install(&old_key, &key);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        served_fingerprint(&srv),
        new_fp,
        "a key that does not match the certificate replaced a good pair"
    );
    // Fixed again: the old pair, complete, is served.
    install(&old_cert, &cert);
    assert!(
        until_served(&srv, &old_fp).is_some(),
        "the repaired pair is not served:\n{}",
        srv.log.text()
    );
    assert_eq!(keep_alive_login_page(&mut kept).status, 200);
}
