//! Fuzz invariants for the plain-HTTP redirect of `--redirect-http`
//! (`web::tls::Https::redirect` and `request_host`): the first byte picks the HTTPS
//! port (443, 8443, 1, 65535) and HTTP/1.1 or 1.0; the rest is the request target, and
//! after the first LF the `Host` value (none without an LF), framed as
//! `GET TARGET HTTP/1.x\r\nHost: VALUE\r\n\r\n`. Inputs the request parser refuses are
//! skipped. The answer, as written on the wire, is either a 400 without `Location` or
//! a 308 whose one `Location` is `https://` plus the Host value's host (port dropped),
//! `:PORT` unless the port is 443, and the target when it starts with a single `/`,
//! else `/` (octets outside visible ASCII percent-encoded); only visible ASCII, a host that `request_host` reads back as itself and
//! that is a DNS name or a bracketed IPv6 address. A Host that is an IP address or an
//! LDH name (with or without a port) always gets its 308.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::http::{Limits, parse_request};
use crate::web::tls::{Https, request_host};

const PORTS: [u16; 4] = [443, 8443, 1, 65535];

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    let (selector, input) = data
        .split_first()
        .map_or((0, data), |(first, rest)| (*first, rest));
    let port = PORTS[usize::from(selector % 4)];
    let minor = if selector & 4 == 0 { b'1' } else { b'0' };
    let (target, host) = match input.iter().position(|&b| b == b'\n') {
        Some(at) => (&input[..at], Some(&input[at + 1..])),
        None => (input, None),
    };
    let mut raw = b"GET ".to_vec();
    raw.extend_from_slice(target);
    raw.extend_from_slice(b" HTTP/1.");
    raw.push(minor);
    raw.extend_from_slice(b"\r\n");
    if let Some(host) = host {
        raw.extend_from_slice(b"Host: ");
        raw.extend_from_slice(host);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    let peer = SocketAddr::from(([192, 0, 2, 1], 4242));
    let _ = parse_request(&raw, peer, &Limits::default(), |req| {
        let https = Https {
            port,
            hsts: false,
            watch: None,
        };
        let response = https.redirect(req);
        let mut wire = Vec::new();
        response.write_to(&mut wire, false, None, "Thu, 01 Jan 2026 00:00:00 GMT");
        let head_end = wire
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head ends with an empty line");
        let head = std::str::from_utf8(&wire[..head_end]).expect("the head is UTF-8");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let locations: Vec<&str> = lines
            .filter_map(|line| line.strip_prefix("Location: "))
            .collect();
        assert!(
            head.split("\r\n").all(|line| !line.contains(['\r', '\n'])),
            "bare CR or LF in the head: {head:?}"
        );

        // The parser hands out at most one Host (RFC 9112 §3.2); the value is read
        // here without the redirect's help.
        assert!(req.headers_all("host").count() <= 1, "two Host headers");
        let value = req
            .header("host")
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(|v| v.trim_matches([' ', '\t']));
        let split = value.map(|value| {
            let end = if value.starts_with('[') {
                value.find(']').map_or(value.len(), |at| at + 1)
            } else {
                value.find(':').unwrap_or(value.len())
            };
            value.split_at(end)
        });

        if status_line.starts_with("HTTP/1.1 400 ") {
            assert!(locations.is_empty(), "a 400 with a Location: {head:?}");
            if let Some((host, rest)) = split {
                assert!(
                    !(plainly_valid_host(host) && plainly_valid_port(rest)),
                    "refused a valid Host {value:?}"
                );
            }
            return;
        }
        assert!(
            status_line.starts_with("HTTP/1.1 308 "),
            "neither 400 nor 308: {status_line:?}"
        );
        let [location] = locations.as_slice() else {
            panic!("a 308 without exactly one Location: {head:?}");
        };
        assert!(location.starts_with("https://"), "not https: {location:?}");
        assert!(
            location.bytes().all(|b| b.is_ascii_graphic()),
            "not visible ASCII: {location:?}"
        );
        let (host, rest) = split.expect("a 308 without a Host");
        assert!(
            rest.is_empty()
                || rest
                    .strip_prefix(':')
                    .is_some_and(|p| p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())),
            "accepted {value:?}, which has more than a port after the host"
        );
        assert_eq!(
            request_host(host),
            Some(host),
            "the host does not read back"
        );
        assert!(host_grammar(host), "accepted host {host:?}");
        let authority = if port == 443 {
            host.to_owned()
        } else {
            format!("{host}:{port}")
        };
        let target = req.target();
        let path = if target.starts_with('/') && !target.starts_with("//") {
            target
                .bytes()
                .map(|b| match b {
                    0x21..=0x7e => char::from(b).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        } else {
            "/".to_owned()
        };
        assert_eq!(
            *location,
            format!("https://{authority}{path}"),
            "wrong Location for Host {value:?}, target {target:?}"
        );
    });
}

/// RFC 3986 §3.2.2 `IP-literal` (IPv6 only) or an RFC 1123 §2.1 name: LDH labels of 1
/// to 63 octets, no hyphen at either end, at most 253 octets (254 with one trailing
/// dot, RFC 1034 §3.1).
fn host_grammar(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|inner| inner.parse::<Ipv6Addr>().is_ok());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A host no redirect may refuse: an IPv4 address, a bracketed IPv6 address, or
/// lowercase letters and digits in 1 to 3 dot-separated labels of at most 20.
fn plainly_valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok();
    }
    let labels: Vec<&str> = host.split('.').collect();
    host.parse::<Ipv4Addr>().is_ok()
        || (labels.len() <= 3
            && labels.iter().all(|label| {
                (1..=20).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            }))
}

/// Nothing, or `:` and a port of one to five digits (RFC 3986 §3.2.3).
fn plainly_valid_port(rest: &str) -> bool {
    rest.is_empty()
        || rest
            .strip_prefix(':')
            .is_some_and(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}
