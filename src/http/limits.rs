//! Resource limits of the HTTP server: each a named default constant and a field of
//! [`Limits`], so an operator flag can change one without touching the others.
//!
//! Two caps bound the connections held open at once, and both follow from what the
//! process may spend on them:
//! - The global cap in force is [`Limits::max_connections`] lowered to the soft
//!   `RLIMIT_NOFILE` less [`DESCRIPTOR_RESERVE`] ([`connection_cap`]), so idle sockets
//!   can never take the descriptors the once-a-second reload of users and revocations
//!   needs (a reload that cannot open its file keeps the old state).
//! - The per-address cap in force is [`Limits::max_connections_per_ip`], never above
//!   the global one, counted per [`address_key`]: an IPv4 address or an IPv6 /64.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Largest request head (request line plus headers plus the blank line), in bytes.
/// A bigger head is answered with 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most header fields in one request; more is answered with 431.
pub const MAX_HEADERS: usize = 64;
/// Hard ceiling on [`Limits::max_headers`]: the parser's header slots live on the stack.
pub const HEADER_SLOTS: usize = 256;
/// Largest request body, in bytes; a bigger declared `Content-Length` is answered with
/// 413 before any of the body is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Absolute time allowed for one request's head and body together, from its first byte
/// (or from the connection's accept); then 408 and close.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long a keep-alive connection may sit idle between requests before it is closed
/// silently.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Most connections open at once (lowered further by the open-file limit, see
/// [`connection_cap`]). When full, a new connection takes the place of the connection
/// that has sat idle between requests the longest or, with none idle, of the one whose
/// request has been arriving the longest (the slowest to send its head or body); a
/// connection with an answer queued or a request on the worker is never cut. With
/// nothing to give up, the new connection is refused.
pub const MAX_CONNECTIONS: usize = 1024;
/// Most connections from one client address ([`address_key`]). A browser opens at most
/// six connections to one origin over HTTP/1.1, so 32 serves a few browsers behind one
/// NAT, while 4 addresses hold at most 128 of the 1024 connections, and filling the
/// server takes 32 of them. A new connection from an address at its cap takes the
/// place of that address's longest-idle one (a keep-alive between requests); if none of
/// them is idle, it is refused. A reverse proxy carries every client on one address: see
/// [`Limits::shared_loopback`], and raise this cap for a proxy on another host.
pub const MAX_CONNECTIONS_PER_IP: usize = 32;
/// Descriptors the connection cap leaves to everything else, whatever the connection
/// count. The process holds 8 for good (stdin, stdout, stderr, the poll, its waker, the
/// listener, the signal pipe's two ends); the loop opens a few at a time on top: the
/// users or revocations file being reloaded, the revocations being rewritten (their
/// lock file, the temporary file, and the directory for `fsync`), a static file being
/// read, `/dev/urandom` where `getrandom(2)` is missing, and the socket of an accept that
/// finds the server full. That is 15 at most; 32 leaves as many again for what the data
/// directory may grow (a key file reloaded, a users lock).
pub const DESCRIPTOR_RESERVE: usize = 32;
/// TLS handshakes one address ([`address_key`]) may have in progress at once: a
/// browser opens up to six connections to an origin together.
pub const MAX_HANDSHAKES_PER_IP: usize = 8;
/// TLS handshakes in progress at once, from all addresses. When full, the address with
/// the most gives up its oldest to a newcomer with fewer (see `handshakes`).
pub const MAX_HANDSHAKES: usize = 64;
/// TLS handshakes one address may start per second, on average...
pub const HANDSHAKES_PER_SECOND_PER_IP: u32 = 16;
/// ...after a burst of this many (a few browsers behind one NAT opening their
/// connections at once). Beyond the rate a new connection is closed before its
/// handshake.
pub const HANDSHAKE_BURST_PER_IP: u32 = 32;
/// Time allowed for a TLS handshake from the accept; then the connection is closed.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// Offloaded jobs (password hashing) that may wait for the worker; when full, 503.
pub const OFFLOAD_QUEUE: usize = 16;
/// Response bytes a connection may have queued before the server stops answering its
/// pipelined requests until the client reads.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Initial size of a connection's input buffer; it grows only up to the head and body
/// limits and shrinks back when the connection goes idle.
pub const INITIAL_BUFFER_BYTES: usize = 2 * 1024;
/// After an error response that closes the connection, how long unread input is still
/// drained so that the client sees the response rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);
/// On shutdown, how long in-flight requests may take to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest request body streamed to an upstream (a firmware upload), in bytes: a
/// larger `Content-Length` is answered 413 before any of the body is read, and a
/// chunked body that grows past it is cut off. latchkey's own routes keep
/// [`MAX_BODY_BYTES`].
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// How long an exchange with an upstream may go without a byte moving either way:
/// with no response head yet, the client gets 504; after it, both connections close.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// The most bytes buffered in each direction of one proxied exchange (client to
/// upstream, upstream to client); a side whose buffer is full is not read until the
/// other side has taken some of it.
pub const PROXY_BUFFER_BYTES: usize = 32 * 1024;
/// How long a tunnel (an upgraded connection, e.g. a WebSocket) may go without a byte
/// moving either way before both of its connections close.
pub const TUNNEL_IDLE: Duration = Duration::from_secs(3600);
/// Idle keep-alive connections kept to each upstream for the next request (as nginx's
/// `keepalive 32`): enough for the requests a few browsers have in flight, so that a busy
/// page does not open and close a connection per request.
pub const UPSTREAM_POOL: usize = 32;
/// How long an idle upstream connection is kept.
pub const UPSTREAM_POOL_IDLE: Duration = Duration::from_secs(10);

/// The server's limits; [`Limits::default`] holds the constants of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// See [`MAX_HEAD_BYTES`].
    pub max_head_bytes: usize,
    /// See [`MAX_HEADERS`]; values above [`HEADER_SLOTS`] act as [`HEADER_SLOTS`].
    pub max_headers: usize,
    /// See [`MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// See [`REQUEST_DEADLINE`].
    pub request_deadline: Duration,
    /// See [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_CONNECTIONS_PER_IP`].
    pub max_connections_per_ip: usize,
    /// Whether connections from 127.0.0.1 and ::1 are held only to the global cap, not
    /// to `max_connections_per_ip`. A reverse proxy on the same host connects from
    /// there and carries every client, so a per-address cap on it would be a cap on all
    /// of them together; benchmarks connect from there too. No remote peer can have
    /// these addresses (the rest of 127.0.0.0/8 stays capped). Off in
    /// [`Limits::default`]; `latchkey serve` turns it on.
    pub shared_loopback: bool,
    /// See [`OFFLOAD_QUEUE`].
    pub offload_queue: usize,
    /// See [`MAX_OUTPUT_BYTES`].
    pub max_output_bytes: usize,
    /// See [`INITIAL_BUFFER_BYTES`].
    pub initial_buffer_bytes: usize,
    /// See [`LINGER`].
    pub linger: Duration,
    /// See [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
    /// See [`MAX_UPLOAD_BYTES`].
    pub max_upload_bytes: usize,
    /// See [`UPSTREAM_TIMEOUT`].
    pub upstream_timeout: Duration,
    /// See [`PROXY_BUFFER_BYTES`].
    pub proxy_buffer_bytes: usize,
    /// See [`TUNNEL_IDLE`].
    pub tunnel_idle: Duration,
    /// See [`UPSTREAM_POOL`].
    pub upstream_pool: usize,
    /// See [`UPSTREAM_POOL_IDLE`].
    pub upstream_pool_idle: Duration,
    /// See [`MAX_HANDSHAKES_PER_IP`].
    pub max_handshakes_per_ip: usize,
    /// See [`MAX_HANDSHAKES`].
    pub max_handshakes: usize,
    /// See [`HANDSHAKES_PER_SECOND_PER_IP`].
    pub handshakes_per_second_per_ip: u32,
    /// See [`HANDSHAKE_BURST_PER_IP`].
    pub handshake_burst_per_ip: u32,
    /// See [`HANDSHAKE_DEADLINE`].
    pub handshake_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            max_body_bytes: MAX_BODY_BYTES,
            request_deadline: REQUEST_DEADLINE,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
            shared_loopback: false,
            offload_queue: OFFLOAD_QUEUE,
            max_output_bytes: MAX_OUTPUT_BYTES,
            initial_buffer_bytes: INITIAL_BUFFER_BYTES,
            linger: LINGER,
            shutdown_grace: SHUTDOWN_GRACE,
            max_upload_bytes: MAX_UPLOAD_BYTES,
            upstream_timeout: UPSTREAM_TIMEOUT,
            proxy_buffer_bytes: PROXY_BUFFER_BYTES,
            tunnel_idle: TUNNEL_IDLE,
            upstream_pool: UPSTREAM_POOL,
            upstream_pool_idle: UPSTREAM_POOL_IDLE,
            max_handshakes_per_ip: MAX_HANDSHAKES_PER_IP,
            max_handshakes: MAX_HANDSHAKES,
            handshakes_per_second_per_ip: HANDSHAKES_PER_SECOND_PER_IP,
            handshake_burst_per_ip: HANDSHAKE_BURST_PER_IP,
            handshake_deadline: HANDSHAKE_DEADLINE,
        }
    }
}

/// The connection cap in force: `configured`, lowered so that a soft open-file limit of
/// `nofile` still leaves [`DESCRIPTOR_RESERVE`] descriptors free (at least one
/// connection, though). Without a known limit, `configured`.
pub fn connection_cap(configured: usize, nofile: Option<usize>) -> usize {
    match nofile {
        Some(nofile) => configured.min(nofile.saturating_sub(DESCRIPTOR_RESERVE).max(1)),
        None => configured,
    }
}

/// This process's soft `RLIMIT_NOFILE`, read from `/proc/self/limits` (Linux); `None`
/// where that file is missing or says `unlimited`.
pub fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&text)
}

/// The soft limit of the `Max open files` row of a `/proc/PID/limits` text
/// (proc(5): columns limit name, soft limit, hard limit, units).
fn parse_open_files_limit(text: &str) -> Option<usize> {
    let row = text
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    row.split_whitespace().next()?.parse().ok()
}

/// What a peer is counted under for the per-address cap: an IPv4 address (also one
/// arriving IPv4-mapped on a dual-stack socket), or the /64 network of an IPv6 address,
/// since one host is normally given a whole /64 (RFC 4291 §2.5.1, RFC 7421) and may use
/// any address in it. The login limiter groups peers the same way.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}

/// Whether `ip` is this host's own loopback address, 127.0.0.1 or ::1, where a
/// reverse proxy on the same host connects from (see [`Limits::shared_loopback`]).
pub fn is_local_proxy_address(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4 == Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_files_limit_is_the_soft_column() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63432                63432                processes \n\
                      Max open files            64                   1048576              files     \n\
                      Max locked memory         8388608              8388608              bytes     \n";
        assert_eq!(parse_open_files_limit(limits), Some(64));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_limit(unlimited), None);
        assert_eq!(parse_open_files_limit(""), None);
        // This process has a limit on Linux, and the parser finds it.
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|n| n > 0));
        }
    }

    #[test]
    fn connection_cap_leaves_the_reserve() {
        assert_eq!(connection_cap(1024, Some(1024)), 1024 - DESCRIPTOR_RESERVE);
        assert_eq!(connection_cap(1024, Some(64)), 64 - DESCRIPTOR_RESERVE);
        assert_eq!(connection_cap(100, Some(1_048_576)), 100);
        assert_eq!(connection_cap(1024, Some(10)), 1);
        assert_eq!(connection_cap(1024, None), 1024);
    }

    #[test]
    fn ipv6_peers_are_counted_per_64() {
        let base: u128 = 0x2001_0db8_0000_0001_0000_0000_0000_0000;
        let key = address_key(IpAddr::V6(base.into()));
        // 1,000 addresses of one /64 are one peer to the per-address cap...
        for host in 1..=1000u64 {
            let low = u128::from(host.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let ip = IpAddr::V6((base | low).into());
            assert_eq!(address_key(ip), key, "{ip}");
        }
        // ...and the next /64 is another.
        assert_ne!(address_key(IpAddr::V6((base + (1 << 64)).into())), key);
        // IPv4, plain or mapped, is counted per address.
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        assert_eq!(address_key("::ffff:192.0.2.7".parse().unwrap()), v4);
        assert_ne!(address_key("192.0.2.8".parse().unwrap()), v4);
    }

    #[test]
    fn only_the_hosts_own_loopback_address_is_shared() {
        for shared in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_local_proxy_address(shared.parse().unwrap()), "{shared}");
        }
        for capped in ["127.0.0.2", "10.0.0.1", "::2", "2001:db8::1"] {
            assert!(!is_local_proxy_address(capped.parse().unwrap()), "{capped}");
        }
    }
}
