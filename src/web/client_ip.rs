//! The client's IP address behind reverse proxies, for rate limiting and logs.
//!
//! `X-Forwarded-For` is only believed when the TCP peer is a configured trusted
//! proxy (`--trusted-proxy`), and then only read from the right: each proxy
//! appends the address it received the request from, so the right-most entries
//! were written by our own proxies and the left-most by whoever sent the request,
//! i.e. possibly the attacker. Taking the left-most entry lets a client pick any
//! address it likes and dodge a per-IP lockout (CVE-2023-27100 and friends).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a `--trusted-proxy` entry was rejected (each variant holds the entry).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum CidrError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    InvalidAddress(String),
    /// The part after `/` is not a decimal number.
    InvalidPrefix(String),
    /// The prefix length exceeds 32 (IPv4) or 128 (IPv6).
    PrefixTooLong(String),
    /// The address has bits set beyond the prefix (`10.0.0.1/8`), likely a typo.
    HostBitsSet(String),
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::InvalidAddress(entry) => write!(f, "invalid address in {entry:?}"),
            CidrError::InvalidPrefix(entry) => write!(f, "invalid prefix length in {entry:?}"),
            CidrError::PrefixTooLong(entry) => write!(f, "prefix length too long in {entry:?}"),
            CidrError::HostBitsSet(entry) => {
                write!(f, "host bits set beyond the prefix in {entry:?}")
            }
        }
    }
}

impl std::error::Error for CidrError {}

/// One network; addresses are stored normalised (IPv4-mapped IPv6 as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    /// Network address bits and prefix length.
    V4(u32, u8),
    /// Network address bits and prefix length.
    V6(u128, u8),
}

/// Mask of the top `prefix` bits of a 32-bit address.
fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// Mask of the top `prefix` bits of a 128-bit address.
fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into IPv4, so
/// a dual-stack socket's view of an IPv4 peer matches IPv4 rules.
pub(crate) fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl Network {
    /// Parses `addr`, `addr/prefix` (IPv4 or IPv6).
    fn parse(entry: &str) -> Result<Self, CidrError> {
        let error = |make: fn(String) -> CidrError| make(entry.to_owned());
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => {
                if prefix.is_empty()
                    || prefix.len() > 3
                    || !prefix.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(error(CidrError::InvalidPrefix));
                }
                let prefix = prefix
                    .parse::<u8>()
                    .map_err(|_| error(CidrError::InvalidPrefix))?;
                (address, Some(prefix))
            }
            None => (entry, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| error(CidrError::InvalidAddress))?;
        let network = match address {
            IpAddr::V4(v4) => {
                let prefix = prefix.unwrap_or(32);
                if prefix > 32 {
                    return Err(error(CidrError::PrefixTooLong));
                }
                Network::V4(u32::from(v4), prefix)
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.unwrap_or(128);
                if prefix > 128 {
                    return Err(error(CidrError::PrefixTooLong));
                }
                match v6.to_ipv4_mapped() {
                    // `::ffff:10.0.0.0/104` is the IPv4 network 10.0.0.0/8.
                    Some(v4) if prefix >= 96 => Network::V4(u32::from(v4), prefix - 96),
                    _ => Network::V6(u128::from(v6), prefix),
                }
            }
        };
        let host_bits_clear = match network {
            Network::V4(bits, prefix) => bits & !mask_v4(prefix) == 0,
            Network::V6(bits, prefix) => bits & !mask_v6(prefix) == 0,
        };
        if !host_bits_clear {
            return Err(error(CidrError::HostBitsSet));
        }
        Ok(network)
    }

    /// Whether the normalised address `ip` is inside this network.
    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Network::V4(bits, prefix), IpAddr::V4(v4)) => u32::from(v4) & mask_v4(prefix) == bits,
            (Network::V6(bits, prefix), IpAddr::V6(v6)) => u128::from(v6) & mask_v6(prefix) == bits,
            _ => false,
        }
    }
}

/// The set of reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TrustedProxies {
    networks: Vec<Network>,
}

impl TrustedProxies {
    /// Parses CIDR entries such as `10.0.0.0/8`, `::1/128`, or a bare address
    /// (a /32 or /128). An empty list trusts nobody.
    pub(crate) fn parse(entries: &[impl AsRef<str>]) -> Result<Self, CidrError> {
        let networks = entries
            .iter()
            .map(|entry| Network::parse(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies { networks })
    }

    /// Whether `ip` (IPv4-mapped IPv6 counts as IPv4) is a trusted proxy.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = normalize(ip);
        self.networks.iter().any(|network| network.contains(ip))
    }

    #[cfg(test)]
    /// Whether no proxy is trusted.
    pub(crate) fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

/// Parses one `X-Forwarded-For` entry: an IPv4 or IPv6 address, optionally as
/// `[v6]`, `[v6]:port` or `v4:port` (some proxies append the client's port).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(bracketed) = entry.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return address.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (address, port) = entry.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    address.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Whether `text` is a decimal TCP port.
fn is_port(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 5
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u16>().is_ok()
}

/// The address to attribute a request to.
///
/// If the TCP `peer` is not a trusted proxy, it is the client, whatever the
/// headers say. Otherwise the comma-separated entries of all `X-Forwarded-For`
/// header lines (in order, as received) are walked from the right, skipping
/// trusted proxies; the first untrusted address is the client. The left-most
/// entry is never taken just for being left-most.
///
/// When an entry is malformed (garbage, `unknown`, empty) the walk stops and the
/// last trusted hop seen is returned: everything left of a malformed entry was
/// written by someone we cannot vouch for, and the trusted hop is the closest
/// address we know is real. (That lumps such clients together under the proxy's
/// address, which errs on the side of rate limiting them.) Likewise, when every
/// entry is trusted, the left-most trusted one is returned. The result is
/// normalised (IPv4-mapped IPv6 becomes IPv4).
pub(crate) fn client_ip(
    peer: IpAddr,
    x_forwarded_for: &[&str],
    trusted: &TrustedProxies,
) -> IpAddr {
    let mut last_trusted = normalize(peer);
    if !trusted.contains(last_trusted) {
        return last_trusted;
    }
    let entries = x_forwarded_for
        .iter()
        .rev()
        .flat_map(|line| line.rsplit(','))
        .map(str::trim);
    for entry in entries {
        let Some(hop) = parse_forwarded_entry(entry).map(normalize) else {
            return last_trusted;
        };
        if !trusted.contains(hop) {
            return hop;
        }
        last_trusted = hop;
    }
    last_trusted
}

/// Whether the request reached the proxy over HTTPS, per `X-Forwarded-Proto`.
///
/// The header is believed only when the TCP `peer` is a trusted proxy; then the
/// right-most value (across all header lines), set by the proxy nearest to us,
/// must be `https` (case-insensitive). No header, or an untrusted peer, is `false`.
pub(crate) fn forwarded_proto_is_https(
    peer: IpAddr,
    x_forwarded_proto: &[&str],
    trusted: &TrustedProxies,
) -> bool {
    trusted.contains(peer)
        && x_forwarded_proto
            .last()
            .and_then(|line| line.rsplit(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/8", "192.168.1.1", "fd00::/8", "::1/128"]).unwrap()
    }

    #[test]
    fn parses_cidrs_and_bare_addresses() {
        let trusted = proxies();
        assert!(trusted.contains(ip("10.255.255.255")));
        assert!(trusted.contains(ip("192.168.1.1")));
        assert!(!trusted.contains(ip("192.168.1.2")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(!trusted.contains(ip("fe80::1")));
        assert!(trusted.contains(ip("::1")));
        assert!(!trusted.contains(ip("::2")));
        assert!(!trusted.contains(ip("127.0.0.1")));
    }

    #[test]
    fn zero_prefix_trusts_everything_of_that_family() {
        let trusted = TrustedProxies::parse(&["0.0.0.0/0"]).unwrap();
        assert!(trusted.contains(ip("8.8.8.8")));
        assert!(!trusted.contains(ip("2001:db8::1")));
    }

    #[test]
    fn empty_list_trusts_nobody() {
        let trusted = TrustedProxies::parse(&[] as &[&str]).unwrap();
        assert!(trusted.is_empty());
        assert!(!trusted.contains(ip("127.0.0.1")));
    }

    #[test]
    fn mapped_addresses_match_ipv4_rules_both_ways() {
        let trusted = TrustedProxies::parse(&["::ffff:10.0.0.0/104"]).unwrap();
        assert!(trusted.contains(ip("10.9.9.9")));
        assert!(proxies().contains(ip("::ffff:10.1.1.1")));
    }

    #[test]
    fn rejects_invalid_entries_precisely() {
        type MakeError = fn(String) -> CidrError;
        let cases: &[(&str, MakeError)] = &[
            ("", CidrError::InvalidAddress),
            ("10.0.0", CidrError::InvalidAddress),
            ("example.com", CidrError::InvalidAddress),
            ("10.0.0.0/", CidrError::InvalidPrefix),
            ("10.0.0.0/-1", CidrError::InvalidPrefix),
            ("10.0.0.0/+8", CidrError::InvalidPrefix),
            ("10.0.0.0/8/8", CidrError::InvalidPrefix),
            ("10.0.0.0/0008", CidrError::InvalidPrefix),
            ("10.0.0.0/256", CidrError::InvalidPrefix),
            ("10.0.0.0/33", CidrError::PrefixTooLong),
            ("::/129", CidrError::PrefixTooLong),
            ("10.0.0.1/8", CidrError::HostBitsSet),
            ("fd00::1/8", CidrError::HostBitsSet),
        ];
        for (entry, make) in cases {
            assert_eq!(
                TrustedProxies::parse(&[*entry]),
                Err(make(entry.to_string())),
                "{entry:?}"
            );
        }
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_headers() {
        let peer = ip("203.0.113.9");
        assert_eq!(client_ip(peer, &["1.2.3.4"], &proxies()), peer);
        assert_eq!(client_ip(peer, &[], &proxies()), peer);
    }

    #[test]
    fn trusted_peer_without_header_is_the_client() {
        assert_eq!(client_ip(ip("10.0.0.1"), &[], &proxies()), ip("10.0.0.1"));
    }

    #[test]
    fn spoofed_left_most_entries_are_ignored() {
        let got = client_ip(
            ip("10.0.0.1"),
            &["6.6.6.6, 7.7.7.7, 203.0.113.5, 10.0.0.3"],
            &proxies(),
        );
        assert_eq!(got, ip("203.0.113.5"));
    }

    #[test]
    fn walks_across_header_lines_from_the_last() {
        let got = client_ip(
            ip("10.0.0.1"),
            &["6.6.6.6", "203.0.113.5,10.0.0.3", "192.168.1.1"],
            &proxies(),
        );
        assert_eq!(got, ip("203.0.113.5"));
    }

    #[test]
    fn all_trusted_chain_returns_left_most_trusted_hop() {
        let got = client_ip(ip("10.0.0.1"), &["10.0.0.9, 10.0.0.8"], &proxies());
        assert_eq!(got, ip("10.0.0.9"));
    }

    #[test]
    fn malformed_entry_stops_at_last_trusted_hop() {
        let got = client_ip(ip("10.0.0.1"), &["6.6.6.6, unknown, 10.0.0.7"], &proxies());
        assert_eq!(got, ip("10.0.0.7"));
        let got = client_ip(ip("10.0.0.1"), &["6.6.6.6,,"], &proxies());
        assert_eq!(got, ip("10.0.0.1"));
        let got = client_ip(ip("10.0.0.1"), &[""], &proxies());
        assert_eq!(got, ip("10.0.0.1"));
    }

    #[test]
    fn accepts_ports_brackets_and_normalises_mapped() {
        let peer = ip("10.0.0.1");
        assert_eq!(
            client_ip(peer, &["203.0.113.5:4711"], &proxies()),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(peer, &["[2001:db8::5]:4711"], &proxies()),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(peer, &["[2001:db8::5]"], &proxies()),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(peer, &[" 2001:db8::5 "], &proxies()),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(peer, &["::ffff:203.0.113.5"], &proxies()),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &["203.0.113.5"], &proxies()),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(ip("::ffff:8.8.8.8"), &[], &proxies()),
            ip("8.8.8.8")
        );
    }

    #[test]
    fn rejects_malformed_ports_and_brackets() {
        let peer = ip("10.0.0.1");
        for entry in [
            "1.2.3.4:",
            "1.2.3.4:99999",
            "1.2.3.4:x",
            "[1.2.3.4]",
            "[::1",
            "[::1]x",
            "2001:db8::5:80x",
        ] {
            assert_eq!(client_ip(peer, &[entry], &proxies()), peer, "{entry:?}");
        }
    }

    #[test]
    fn forwarded_proto_only_from_trusted_peers() {
        let trusted = proxies();
        assert!(forwarded_proto_is_https(
            ip("10.0.0.1"),
            &["https"],
            &trusted
        ));
        assert!(forwarded_proto_is_https(
            ip("10.0.0.1"),
            &["HTTPS"],
            &trusted
        ));
        assert!(forwarded_proto_is_https(
            ip("::ffff:10.0.0.1"),
            &["http, https"],
            &trusted
        ));
        assert!(!forwarded_proto_is_https(
            ip("10.0.0.1"),
            &["https, http"],
            &trusted
        ));
        assert!(!forwarded_proto_is_https(
            ip("10.0.0.1"),
            &["https", "http"],
            &trusted
        ));
        assert!(!forwarded_proto_is_https(ip("10.0.0.1"), &[], &trusted));
        assert!(!forwarded_proto_is_https(
            ip("10.0.0.1"),
            &["httpsx"],
            &trusted
        ));
        assert!(!forwarded_proto_is_https(
            ip("203.0.113.1"),
            &["https"],
            &trusted
        ));
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn parse_example() {
        use crate::web::client_ip::{CidrError, TrustedProxies};
        let trusted = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
        assert!(trusted.contains("10.1.2.3".parse().unwrap()));
        assert!(trusted.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!trusted.contains("11.0.0.1".parse().unwrap()));
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/33"]),
            Err(CidrError::PrefixTooLong("10.0.0.0/33".into()))
        );
    }

    #[test]
    fn client_ip_example() {
        use crate::web::client_ip::{TrustedProxies, client_ip};
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let proxy = "10.0.0.2".parse().unwrap();
        // The client spoofed "1.1.1.1"; our proxy appended the real address 203.0.113.7.
        let ip = client_ip(proxy, &["1.1.1.1, 203.0.113.7"], &trusted);
        assert_eq!(ip, "203.0.113.7".parse::<std::net::IpAddr>().unwrap());
        // An untrusted peer's headers are ignored.
        let direct = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(direct, &["1.1.1.1"], &trusted), direct);
    }

    #[test]
    fn forwarded_proto_is_https_example() {
        use crate::web::client_ip::{TrustedProxies, forwarded_proto_is_https};
        let trusted = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        assert!(forwarded_proto_is_https(
            "127.0.0.1".parse().unwrap(),
            &["https"],
            &trusted
        ));
        assert!(!forwarded_proto_is_https(
            "192.0.2.1".parse().unwrap(),
            &["https"],
            &trusted
        ));
    }
}
