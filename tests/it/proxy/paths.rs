//! `--public` and routing are judged on the normalised path that is forwarded, never
//! on the query, a fragment or a client's header (oauth2-proxy GHSA-7x63-xv5r-3p2x,
//! GHSA-7rh7-c77v-6434, GHSA-pxq7-h93f-9jrg, GHSA-5hvv-m4w4-gf6v).

use super::*;

fn get_raw(srv: &Server, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut raw = format!("GET {target} HTTP/1.1\r\nHost: pi.lan\r\nAccept: text/html\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("Connection: close\r\n\r\n");
    raw_request(srv.addr, raw.as_bytes())
}

#[test]
fn public_paths_pass_without_login_and_without_an_identity() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/health", "--public", "/assets/"]);
    for target in [
        "/health",
        "/health?verbose=1",
        "/assets/",
        "/assets/css/a.css",
        "/%68ealth",
    ] {
        let r = get_raw(&srv, target, &[("Remote-User", "root")]);
        assert_eq!(r.status, 200, "{target}: {r:?}");
        let body = r.text();
        assert!(body.starts_with("ECHO UPSTREAM"), "{target}: {body}");
        assert!(
            echoed_header(&body, "remote-user").is_empty(),
            "{target}: {body}"
        );
    }
    // The app sees the normalised path that was judged.
    let decoded = get_raw(&srv, "/%68ealth", &[]);
    assert!(echoed_request_line(&decoded.text()).starts_with("GET /health HTTP/1.1"));
    for target in [
        "/health/",
        "/healthz",
        "/health.json",
        "/assets",
        "/assetsx/a",
        "/",
    ] {
        assert_eq!(get_raw(&srv, target, &[]).status, 302, "{target}");
    }
}

#[test]
fn encoded_and_dotted_paths_cannot_reach_a_protected_page_through_a_public_one() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/assets/"]);
    for target in [
        "/assets/../admin",
        "/assets/./../admin",
        "/assets/%2e%2e/admin",
        "/assets/%2E%2E/admin",
        "/assets/.%2e/admin",
        "/assets%2F..%2Fadmin",
        "/assets/..%2Fadmin",
        "/assets/..;/admin",
        "/assets/..%3B/admin",
        "/assets%5C..%5Cadmin",
        "/assets/%00/../admin",
        "/assets/%c0%ae%c0%ae/admin",
        "//assets/../admin",
        "/assets//../admin",
    ] {
        let r = get_raw(&srv, target, &[]);
        assert_eq!(r.status, 400, "{target}: {r:?}");
        assert!(!r.text().contains("ECHO UPSTREAM"), "{target}");
    }
    // A raw backslash or fragment: refused by the parser or by the normaliser.
    for target in ["/assets\\..\\admin", "/assets/x#/../../admin"] {
        let r = get_raw(&srv, target, &[]);
        assert_eq!(r.status, 400, "{target}: {r:?}");
    }
    assert_eq!(app.served(), 0, "a bypass attempt reached the application");
}

#[test]
fn neither_the_query_nor_client_headers_make_a_path_public() {
    let app = start_app();
    let (_tmp, srv) = start_proxy(app.port, &["--public", "/health"]);
    for target in [
        "/admin?/health",
        "/admin?x=/health",
        "/admin;/health",
        "/admin/health",
    ] {
        assert_eq!(get_raw(&srv, target, &[]).status, 302, "{target}");
    }
    for (name, value) in [
        ("X-Forwarded-Uri", "/health"),
        ("X-Original-URL", "/health"),
        ("X-Original-URI", "/health"),
        ("X-Rewrite-URL", "/health"),
        ("User-Agent", "kube-probe/1.29"),
        ("User-Agent", "GoogleHC/1.0"),
        ("User-Agent", ""),
    ] {
        let r = get_raw(&srv, "/admin", &[(name, value)]);
        assert_eq!(r.status, 302, "{name}: {value}: {r:?}");
    }
    assert_eq!(app.served(), 0);
}

#[test]
fn bad_public_entries_are_refused_at_start() {
    let tmp = TempDir::new("proxy-flags");
    let data = tmp.data_dir();
    let dir = data.to_str().unwrap();
    for bad in ["health", "/a/../b", "/%61", "//x", "/.latchkey/login"] {
        let run = cli(
            &[
                "serve",
                "--data-dir",
                dir,
                "--upstream",
                "http://127.0.0.1:9",
                "--public",
                bad,
            ],
            "",
        );
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--public"), "{bad}: {}", run.stderr);
    }
    let run = cli(&["serve", "--data-dir", dir, "--public", "/health"], "");
    assert_eq!(run.code, 2, "--public without --upstream: {}", run.stderr);
    for bad in [
        "127.0.0.1:9",
        "http://127.0.0.1",
        "https://127.0.0.1:9",
        "http://127.0.0.1:9/x",
    ] {
        let run = cli(&["serve", "--data-dir", dir, "--upstream", bad], "");
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
    }
}
