//! Several applications by host name, an application on a Unix socket, pooled
//! keep-alive connections to the application, and interim (1xx) answers passed on.

use super::app::{start_keepalive_app, start_unix_app};
use super::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn start_with(tmp: &TempDir, flags: &[&str]) -> Server {
    let data = data_dir_with_users(tmp, &[(USER, PASSWORD)]);
    Server::start(&data, flags)
}

#[test]
fn requests_go_to_the_app_their_host_names() {
    let (pihole, printer, other) = (start_app(), start_app(), start_app());
    let tmp = TempDir::new("proxy-hosts");
    let a = format!("pihole.lan=http://127.0.0.1:{}", pihole.port);
    let b = format!("printer.lan=http://127.0.0.1:{}", printer.port);
    let srv = start_with(&tmp, &["--upstream", &a, "--upstream", &b]);
    let auth = format!("Bearer {}", token(&srv));
    for (host, want) in [
        ("pihole.lan", 1),
        ("PiHole.LAN:8080", 2),
        ("pihole.lan.", 3),
    ] {
        let r = srv.get("/", &[("Host", host), ("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{host}: {r:?}");
        // The app gets the Host as the client sent it.
        assert_eq!(echoed_header(&r.text(), "host"), [host]);
        assert_eq!(pihole.served(), want, "{host}");
    }
    let r = srv.get("/", &[("Host", "printer.lan"), ("Authorization", &auth)]);
    assert_eq!(r.status, 200);
    assert_eq!(printer.served(), 1);
    // A host nobody serves: 404, from latchkey, whoever asks.
    let unknown = srv.get("/", &[("Host", "router.lan"), ("Accept", "text/html")]);
    assert_eq!(unknown.status, 404, "{unknown:?}");
    // latchkey's own routes answer on every host.
    assert_eq!(
        srv.get(&format!("{PREFIX}/healthz"), &[("Host", "router.lan")])
            .status,
        200
    );
    // With an app for every other host.
    let tmp2 = TempDir::new("proxy-hosts");
    let fallback = format!("http://127.0.0.1:{}", other.port);
    let srv2 = start_with(&tmp2, &["--upstream", &a, "--upstream", &fallback]);
    let auth = format!("Bearer {}", token(&srv2));
    let r = srv2.get("/", &[("Host", "router.lan"), ("Authorization", &auth)]);
    assert_eq!(r.status, 200);
    assert_eq!((other.served(), pihole.served()), (1, 3));
}

#[test]
fn two_apps_for_one_host_are_refused_at_start() {
    let tmp = TempDir::new("proxy-hosts");
    let data = tmp.data_dir();
    let run = cli(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--upstream",
            "a.lan=http://127.0.0.1:9",
            "--upstream",
            "A.lan=http://127.0.0.1:10",
        ],
        "",
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn an_app_on_a_unix_socket() {
    let tmp = TempDir::new("proxy-unix");
    let sock = tmp.path().join("app.sock");
    let served = start_unix_app(&sock);
    let upstream = format!("unix:{}", sock.display());
    let srv = start_with(&tmp, &["--upstream", &upstream]);
    let auth = format!("Bearer {}", token(&srv));
    let r = srv.get("/status", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(echoed_header(&r.text(), "remote-user"), [USER]);
    let big = srv.get("/big?bytes=1000000", &[("Authorization", &auth)]);
    assert_eq!(big.body, pattern(1_000_000));
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

#[test]
fn upstream_connections_are_kept_and_reused() {
    let app = start_keepalive_app(Duration::from_secs(30), false);
    let upstream = format!("http://127.0.0.1:{}", app.port);
    let tmp = TempDir::new("proxy-pool");
    let srv = start_with(&tmp, &["--upstream", &upstream]);
    let auth = format!("Bearer {}", token(&srv));
    for n in 1..=20 {
        let r = srv.get("/", &[("Authorization", &auth)]);
        assert_eq!(r.text(), format!("request {n}"));
    }
    let connections = app.connections.load(Ordering::SeqCst);
    assert!(
        connections <= 2,
        "20 requests took {connections} upstream connections"
    );
    // A request with a body takes a connection of its own, closed after it.
    let r = srv.post("/", &[("Authorization", &auth)], b"data");
    assert_eq!(r.status, 200);
}

#[test]
fn a_pooled_connection_the_app_closed_is_not_a_failure() {
    // The app closes idle connections after 200 ms: the pooled one is dead by the time
    // the next request comes.
    let app = start_keepalive_app(Duration::from_millis(200), false);
    let tmp = TempDir::new("proxy-pool");
    let srv = start_with(
        &tmp,
        &["--upstream", &format!("http://127.0.0.1:{}", app.port)],
    );
    let auth = format!("Bearer {}", token(&srv));
    for _ in 0..3 {
        let r = srv.get("/", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{r:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // The app closes after every answer without saying so: each next request finds its
    // pooled connection closed (or closing) and goes again on a new one.
    let rude = start_keepalive_app(Duration::from_secs(30), true);
    let tmp2 = TempDir::new("proxy-pool");
    let srv2 = start_with(
        &tmp2,
        &["--upstream", &format!("http://127.0.0.1:{}", rude.port)],
    );
    let auth = format!("Bearer {}", token(&srv2));
    for n in 1..=10 {
        let r = srv2.get("/", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "request {n}: {r:?}");
    }
    assert_eq!(rude.requests.load(Ordering::SeqCst), 10);
}

#[test]
fn interim_answers_are_passed_on() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &[]);
    let mut conn = Conn::open(srv.addr);
    conn.send(
        format!(
            "GET /early-hints HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {}\r\n\r\n",
            token(&srv)
        )
        .as_bytes(),
    );
    let hints = conn.response();
    assert_eq!(hints.status, 103, "{hints:?}");
    assert_eq!(hints.header("link"), Some("</style.css>; rel=preload"));
    let answer = conn.response();
    assert_eq!(
        (answer.status, answer.text().as_str()),
        (200, "after the hints")
    );
}
