//! Header hygiene of proxied requests and responses: which of the client's fields
//! reach the upstream, which the upstream's reach the client, and what latchkey adds.
//!
//! Field names are compared as CGI-style applications (WSGI, PHP, Rack) read them:
//! case-insensitively and with `_` and `-` the same, since `Remote_User: root` lands in
//! the same `HTTP_REMOTE_USER` variable as `Remote-User: root`.

use std::net::IpAddr;

use crate::http::Request;
use crate::http::upstream::{HOP_BY_HOP, list_items};

/// Besides the hop-by-hop and framing fields (`http::upstream::HOP_BY_HOP`, RFC 9110
/// §7.6.1), the fields meant for this proxy alone: `Expect` is answered here, `Proxy-*`
/// credentials are not the application's, and `Host` is set by the server.
const FOR_THIS_PROXY: [&str; 4] = [
    "expect",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
];

/// Fields an application may take as the logged-in user's identity: a client's are
/// always removed, and latchkey sets its own user header.
const IDENTITY: [&str; 5] = [
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-auth-user",
];

/// Prefixes of identity fields and of the fields that travel with them, which an
/// application set up for that scheme believes: Authelia's `Remote-User`, `-Groups`,
/// `-Email`, `-Name`; Kubernetes' `X-Remote-User`, `-Group`, `-Extra-*`; Grafana's
/// and Gitea's `X-WebAuth-*`; oauth2-proxy's `X-Auth-Request-*`.
const IDENTITY_PREFIXES: [&str; 4] = ["remote-", "x-remote-", "x-webauth-", "x-auth-request-"];

/// Fields that say where a request came from or what it asked for, which
/// applications and frameworks act on (Symfony and IIS route by `X-Original-URL` and
/// `X-Rewrite-URL`): a client's are removed, and latchkey sets `X-Forwarded-For`,
/// `-Proto`, `-Host` and `X-Real-IP` itself. Every client `X-Forwarded-*` goes too
/// ([`FORWARDING_PREFIX`]): `-Port`, `-Prefix`, `-Uri`, oauth2-proxy's
/// `-Access-Token` and whatever else an application reads.
const FORWARDING: [&str; 8] = [
    "forwarded",
    "x-original-url",
    "x-original-uri",
    "x-original-host",
    "x-original-method",
    "x-rewrite-url",
    "x-real-ip",
    "x-client-ip",
];

/// The prefix of the `X-Forwarded-*` fields, all removed from the client's request.
const FORWARDING_PREFIX: &str = "x-forwarded-";

/// `name` lower-cased with `_` read as `-`.
fn canonical(name: &[u8]) -> Vec<u8> {
    name.iter()
        .map(|&b| {
            if b == b'_' {
                b'-'
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Whether a client's field `name` is one an application could take as an identity
/// (`user_header` is the one latchkey sets, canonical).
pub(crate) fn is_identity(name: &str, user_header: &[u8]) -> bool {
    let name = canonical(name.as_bytes());
    name == user_header
        || IDENTITY.iter().any(|id| name == id.as_bytes())
        || IDENTITY_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix.as_bytes()))
}

/// The cookie names latchkey uses, without a `__Host-` or `__Secure-` prefix.
const OWN_COOKIES: [&str; 2] = [
    crate::web::auth::SESSION_COOKIE,
    crate::web::auth::PRESESSION_COOKIE,
];

/// Whether `name` is one of latchkey's cookies, in any case and with or without a
/// `__Host-` or `__Secure-` prefix.
pub(crate) fn is_own_cookie(name: &[u8]) -> bool {
    let lower = name.trim_ascii().to_ascii_lowercase();
    let bare = lower
        .strip_prefix(b"__host-")
        .or_else(|| lower.strip_prefix(b"__secure-"))
        .unwrap_or(&lower);
    OWN_COOKIES.iter().any(|own| bare == own.as_bytes())
}

/// What latchkey adds to a forwarded request.
#[derive(Debug)]
pub(crate) struct Added<'a> {
    /// The user the request was authenticated as (none on a public path).
    pub(crate) user: Option<&'a str>,
    /// The field carrying it, e.g. `Remote-User`.
    pub(crate) user_header: &'a str,
    /// The peer is a trusted proxy: its `X-Forwarded-For` is kept, and its
    /// `X-Forwarded-Host` believed.
    pub(crate) trusted_peer: bool,
    /// The client's address as latchkey resolves it.
    pub(crate) client_ip: IpAddr,
    /// `https` or `http`.
    pub(crate) proto: &'a str,
    /// Drop `Authorization`: it carries a token latchkey signed.
    pub(crate) drop_authorization: bool,
    /// The upstream's authority, the `Host` of a request that came without one.
    pub(crate) upstream_host: &'a str,
}

/// The header fields to send upstream for `req`, in order: the client's own fields
/// that pass, then `Cookie` without latchkey's cookies, then latchkey's.
pub(crate) fn forwarded_headers(req: &Request<'_>, added: &Added<'_>) -> Vec<(String, Vec<u8>)> {
    let user_header = canonical(added.user_header.as_bytes());
    // Fields the client's `Connection` names are hop-by-hop too.
    let named: Vec<Vec<u8>> = req
        .headers_all("connection")
        .flat_map(list_items)
        .map(canonical)
        .collect();
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut cookies: Vec<&[u8]> = Vec::new();
    for (name, value) in req.headers() {
        let key = canonical(name.as_bytes());
        if key == b"cookie" {
            cookies.extend(
                value
                    .split(|&b| b == b';')
                    .map(<[u8]>::trim_ascii)
                    .filter(|pair| !pair.is_empty())
                    .filter(|pair| {
                        let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
                        !is_own_cookie(name)
                    }),
            );
            continue;
        }
        let dropped = HOP_BY_HOP
            .iter()
            .chain(&FOR_THIS_PROXY)
            .any(|n| key == n.as_bytes())
            || FORWARDING.iter().any(|n| key == n.as_bytes())
            || key.starts_with(FORWARDING_PREFIX.as_bytes())
            || is_identity(name, &user_header)
            || named.contains(&key)
            || (added.drop_authorization && key == b"authorization");
        if !dropped {
            out.push((name.to_owned(), value.to_vec()));
        }
    }
    // Host as the client sent it (RFC 9110 §7.2: a proxy keeps it), first.
    let host = req
        .header("host")
        .map_or_else(|| added.upstream_host.as_bytes().to_vec(), <[u8]>::to_vec);
    let forwarded_host = added
        .trusted_peer
        .then(|| req.header("x-forwarded-host"))
        .flatten()
        .map_or_else(|| host.clone(), <[u8]>::to_vec);
    out.insert(0, ("Host".to_owned(), host));
    if !cookies.is_empty() {
        out.push(("Cookie".to_owned(), cookies.join(&b"; "[..])));
    }
    let peer = crate::web::client_ip::normalize(req.peer().ip()).to_string();
    let mut chain: Vec<u8> = Vec::new();
    if added.trusted_peer {
        for line in req.headers_all("x-forwarded-for") {
            for item in list_items(line) {
                chain.extend_from_slice(item);
                chain.extend_from_slice(b", ");
            }
        }
    }
    chain.extend_from_slice(peer.as_bytes());
    out.push(("X-Forwarded-For".to_owned(), chain));
    out.push((
        "X-Forwarded-Proto".to_owned(),
        added.proto.as_bytes().to_vec(),
    ));
    out.push(("X-Forwarded-Host".to_owned(), forwarded_host));
    out.push((
        "X-Real-IP".to_owned(),
        added.client_ip.to_string().into_bytes(),
    ));
    if let Some(user) = added.user {
        out.push((added.user_header.to_owned(), user.as_bytes().to_vec()));
    }
    out
}

/// Whether a `Set-Cookie` value from the upstream sets one of latchkey's cookies, or
/// a cookie without a name: a browser stores `=latchkey_session=x` as a nameless
/// cookie and sends it back as `Cookie: latchkey_session=x` (RFC 6265bis §5.6), so
/// any nameless cookie is dropped.
pub(crate) fn sets_own_cookie(value: &[u8]) -> bool {
    let pair = value.split(|&b| b == b';').next().unwrap_or_default();
    let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
    !pair.contains(&b'=') || name.trim_ascii().is_empty() || is_own_cookie(name)
}

/// `location` with a leading `origin` (`http://host:port` of the upstream, compared
/// case-insensitively) taken off, so the browser resolves it against the address it
/// used; `None` when it does not point at the upstream, or when the path left would
/// name another host: a browser removes TAB, CR and LF from a URL and reads `\` as
/// `/` (WHATWG URL), so `/\evil.example` and `/<TAB>/evil.example` are
/// `//evil.example`, a network-path reference (RFC 3986 §4.2).
pub(crate) fn local_location(location: &[u8], origin: &str) -> Option<Vec<u8>> {
    let head = location.get(..origin.len())?;
    if !head.eq_ignore_ascii_case(origin.as_bytes()) {
        return None;
    }
    let rest = location.get(origin.len()..).unwrap_or_default();
    match rest.first() {
        None => Some(b"/".to_vec()),
        Some(b'/') => {
            let second = rest
                .iter()
                .skip(1)
                .find(|&&b| !matches!(b, b'\t' | b'\r' | b'\n'));
            (!matches!(second, Some(b'/' | b'\\'))).then(|| rest.to_vec())
        }
        Some(b'?' | b'#') => {
            let mut local = b"/".to_vec();
            local.extend_from_slice(rest);
            Some(local)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Limits, Parsed, parse_request};

    fn headers_for(raw: &str, added: &Added<'_>, peer: &str) -> Vec<(String, String)> {
        let parsed = parse_request(
            raw.as_bytes(),
            peer.parse().unwrap(),
            &Limits::default(),
            |req| forwarded_headers(req, added),
        );
        match parsed {
            Ok(Parsed::Done { value, .. }) => value
                .into_iter()
                .map(|(n, v)| (n, String::from_utf8(v).unwrap()))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    fn added(user: Option<&'static str>) -> Added<'static> {
        Added {
            user,
            user_header: "Remote-User",
            trusted_peer: false,
            client_ip: "192.0.2.9".parse().unwrap(),
            proto: "http",
            drop_authorization: false,
            upstream_host: "127.0.0.1:8081",
        }
    }

    #[test]
    fn identity_fields_go_in_every_spelling() {
        let raw = "GET / HTTP/1.1\r\nHost: pi.lan\r\nRemote-User: root\r\nremote_user: root\r\n\
                   REMOTE-USER: root\r\nX-Forwarded-User: root\r\nx_forwarded_user: root\r\n\
                   X-Auth-Request-Email: r@x\r\nX_Auth_Request_User: root\r\nX-Remote-User: root\r\n\
                   Remote-Groups: admins\r\nremote_email: r@x\r\nX-Remote-Extra-Scopes: all\r\n\
                   X-WebAuth-Role: Admin\r\nx_webauth_email: r@x\r\nX-Keep: 1\r\n\r\n";
        let got = headers_for(raw, &added(Some("alice")), "192.0.2.9:5");
        let users: Vec<_> = got
            .iter()
            .filter(|(n, _)| is_identity(n, b"remote-user"))
            .collect();
        assert_eq!(users, [&("Remote-User".to_owned(), "alice".to_owned())]);
        assert!(got.iter().any(|(n, v)| n == "X-Keep" && v == "1"));
        // No user (a public path): no identity field at all.
        let anonymous = headers_for(raw, &added(None), "192.0.2.9:5");
        assert!(
            !anonymous
                .iter()
                .any(|(n, _)| is_identity(n, b"remote-user"))
        );
    }

    #[test]
    fn own_cookies_are_removed_and_the_rest_kept_in_one_line() {
        let raw = "GET / HTTP/1.1\r\nHost: a\r\nCookie: app=1; latchkey_session=s\r\n\
                   cookie: __Host-latchkey_session=t;LATCHKEY_PRE=p; theme=dark\r\n\r\n";
        let got = headers_for(raw, &added(None), "192.0.2.9:5");
        let cookies: Vec<_> = got.iter().filter(|(n, _)| n == "Cookie").collect();
        assert_eq!(
            cookies,
            [&("Cookie".to_owned(), "app=1; theme=dark".to_owned())]
        );
        let only_ours = "GET / HTTP/1.1\r\nHost: a\r\nCookie: latchkey_pre=p\r\n\r\n";
        let got = headers_for(only_ours, &added(None), "192.0.2.9:5");
        assert!(!got.iter().any(|(n, _)| n.eq_ignore_ascii_case("cookie")));
    }

    #[test]
    fn hop_by_hop_and_forged_forwarding_fields_go() {
        let raw = "GET / HTTP/1.1\r\nHost: pi.lan\r\nConnection: keep-alive, X-Secret\r\n\
                   X-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\n\
                   Proxy-Authorization: Basic x\r\nX-Forwarded-For: 1.2.3.4\r\n\
                   X-Forwarded-Uri: /public\r\nX-Original-URL: /public\r\nx_real_ip: 1.2.3.4\r\n\
                   Forwarded: for=1.2.3.4\r\nX-Forwarded-Host: evil\r\n\
                   X-Forwarded-Access-Token: t\r\nx_forwarded_prefix: /admin\r\n\r\n";
        let got = headers_for(raw, &added(None), "192.0.2.9:5");
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Host",
                "X-Forwarded-For",
                "X-Forwarded-Proto",
                "X-Forwarded-Host",
                "X-Real-IP"
            ]
        );
        let value = |name: &str| got.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(value("Host"), "pi.lan");
        assert_eq!(value("X-Forwarded-For"), "192.0.2.9");
        assert_eq!(value("X-Forwarded-Host"), "pi.lan");
    }

    #[test]
    fn a_trusted_proxys_chain_is_kept() {
        let raw = "GET / HTTP/1.1\r\nHost: pi.lan\r\nX-Forwarded-For: 198.51.100.1, 10.0.0.3\r\n\
                   X-Forwarded-Host: admin.example\r\n\r\n";
        let trusted = Added {
            trusted_peer: true,
            ..added(None)
        };
        let got = headers_for(raw, &trusted, "10.0.0.2:5");
        let value = |name: &str| got.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(value("X-Forwarded-For"), "198.51.100.1, 10.0.0.3, 10.0.0.2");
        assert_eq!(value("X-Forwarded-Host"), "admin.example");
        assert_eq!(value("Host"), "pi.lan");
    }

    #[test]
    fn a_request_without_host_gets_the_upstreams() {
        let got = headers_for("GET / HTTP/1.0\r\n\r\n", &added(None), "192.0.2.9:5");
        assert_eq!(got[0], ("Host".to_owned(), "127.0.0.1:8081".to_owned()));
    }

    #[test]
    fn own_cookie_names_in_any_spelling() {
        for name in [
            "latchkey_session",
            "__Host-latchkey_session",
            "__host-LATCHKEY_SESSION",
            "__Secure-latchkey_pre",
            " latchkey_pre ",
        ] {
            assert!(is_own_cookie(name.as_bytes()), "{name}");
        }
        for name in ["latchkey_sessions", "app", "__Host-app", "latchkey"] {
            assert!(!is_own_cookie(name.as_bytes()), "{name}");
        }
        assert!(sets_own_cookie(b"latchkey_session=x; Path=/"));
        assert!(!sets_own_cookie(b"app=latchkey_session"));
        // Nameless: stored by browsers under the value's own `name=`.
        assert!(sets_own_cookie(b"=latchkey_session=x; Path=/"));
        assert!(sets_own_cookie(b" = latchkey_pre=x"));
        assert!(sets_own_cookie(b"latchkey_session"));
        assert!(sets_own_cookie(b"=app=1"));
    }

    #[test]
    fn locations_at_the_upstream_become_local_paths() {
        let origin = "http://127.0.0.1:8081";
        assert_eq!(
            local_location(b"http://127.0.0.1:8081/admin?x", origin),
            Some(b"/admin?x".to_vec())
        );
        assert_eq!(
            local_location(b"HTTP://127.0.0.1:8081", origin),
            Some(b"/".to_vec())
        );
        assert_eq!(local_location(b"http://127.0.0.1:80812/x", origin), None);
        assert_eq!(local_location(b"/already/local", origin), None);
        // Never a path a browser reads as another host.
        for foreign in [
            &b"http://127.0.0.1:8081//evil.example/x"[..],
            b"http://127.0.0.1:8081/\\evil.example/x",
            b"http://127.0.0.1:8081/\t/evil.example/x",
            b"http://127.0.0.1:8081/\r\n\\evil.example/x",
            b"http://127.0.0.1:8081\\\\evil.example/x",
        ] {
            assert_eq!(local_location(foreign, origin), None, "{foreign:?}");
        }
    }
}
