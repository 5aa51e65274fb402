//! The service's settings, from `latchkey serve` flags and `LATCHKEY_*` variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::cli::args::{self, Opt, Parsed, UsageError};
use crate::web::client_ip::TrustedProxies;

/// When the session cookie gets the `Secure` attribute (and the `__Host-` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureMode {
    /// Secure when the request came over HTTPS through a trusted proxy.
    Auto,
    /// Always Secure: latchkey is only ever reached over HTTPS.
    Always,
    /// Never Secure: plain HTTP on a trusted network.
    Never,
}

/// Everything `serve` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory (keys, users, revocations).
    pub data_dir: PathBuf,
    /// Title of the login page, e.g. "Router admin".
    pub title: String,
    /// Directory of the admin page's static files served to logged-in users.
    pub serve_dir: Option<PathBuf>,
    /// Path prefix of every latchkey route, e.g. "/latchkey"; empty for none.
    pub prefix: String,
    /// Server-side lifetime of a session without remember-me, seconds.
    pub session_ttl: u64,
    /// Lifetime of a remember-me session, seconds.
    pub remember_ttl: u64,
    /// Lifetime of an access token, seconds.
    pub token_ttl: u64,
    /// Lifetime of a refresh token, seconds; `None` turns refresh tokens off.
    pub refresh_ttl: Option<u64>,
    /// When cookies are Secure.
    pub cookie_secure: SecureMode,
    /// SameSite=Strict instead of Lax for the session cookie.
    pub same_site_strict: bool,
    /// Proxies whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Hosts an absolute redirect target may point at.
    pub allowed_hosts: Vec<String>,
    /// Password hashes per second across all clients (the global login budget).
    pub logins_per_second: u32,
    /// HTTP limits.
    pub limits: crate::http::Limits,
}

/// The options of `latchkey serve`.
pub const OPTIONS: &[Opt] = &[
    Opt::value(
        "listen",
        "ADDR",
        "address to listen on (default 127.0.0.1:8080)",
    )
    .env("LATCHKEY_LISTEN"),
    Opt::value(
        "data-dir",
        "DIR",
        "data directory (default ./latchkey-data)",
    )
    .env("LATCHKEY_DATA_DIR"),
    Opt::value(
        "title",
        "TEXT",
        "title of the login page (default \"latchkey\")",
    )
    .env("LATCHKEY_TITLE"),
    Opt::value(
        "serve-dir",
        "DIR",
        "serve this directory's files to logged-in users at /",
    )
    .env("LATCHKEY_SERVE_DIR"),
    Opt::value(
        "prefix",
        "PATH",
        "mount every latchkey route under PATH, e.g. /latchkey",
    )
    .env("LATCHKEY_PREFIX"),
    Opt::value(
        "session-ttl",
        "DURATION",
        "session lifetime without remember-me (default 12h)",
    )
    .env("LATCHKEY_SESSION_TTL"),
    Opt::value(
        "remember-ttl",
        "DURATION",
        "remember-me session lifetime (default 30d)",
    )
    .env("LATCHKEY_REMEMBER_TTL"),
    Opt::value(
        "token-ttl",
        "DURATION",
        "access token lifetime (default 5m, as Flask-JWT)",
    )
    .env("LATCHKEY_TOKEN_TTL"),
    Opt::value(
        "refresh-ttl",
        "DURATION",
        "refresh token lifetime; 0 turns refresh tokens off (default 0)",
    )
    .env("LATCHKEY_REFRESH_TTL"),
    Opt::value(
        "cookie-secure",
        "auto|always|never",
        "Secure cookies (default auto: when HTTPS via a trusted proxy)",
    )
    .env("LATCHKEY_COOKIE_SECURE"),
    Opt::flag(
        "same-site-strict",
        "SameSite=Strict session cookies instead of Lax",
    )
    .env("LATCHKEY_SAME_SITE_STRICT"),
    Opt::value(
        "trusted-proxy",
        "CIDR",
        "believe X-Forwarded-* from these peers (repeatable)",
    )
    .env("LATCHKEY_TRUSTED_PROXY")
    .repeatable(),
    Opt::value(
        "allowed-host",
        "HOST",
        "host an absolute redirect may go to (repeatable)",
    )
    .env("LATCHKEY_ALLOWED_HOST")
    .repeatable(),
    Opt::value(
        "max-logins-per-second",
        "N",
        "password checks per second across all clients (default 4)",
    )
    .env("LATCHKEY_MAX_LOGINS_PER_SECOND"),
    Opt::value(
        "max-connections",
        "N",
        "open connections at most (default 1024, fewer if the open-file limit is lower)",
    )
    .env("LATCHKEY_MAX_CONNECTIONS"),
    Opt::value(
        "max-connections-per-ip",
        "N",
        "open connections per client address (IPv6: per /64) at most; a new one replaces its oldest idle one (default 32; 127.0.0.1 and ::1 are not capped)",
    )
    .env("LATCHKEY_MAX_CONNECTIONS_PER_IP"),
];

/// Longest lifetime of any session or token, seconds (31 days). Revocations
/// (`token revoke`, `session revoke-all`, `user passwd`, `user del`) are forgotten
/// this long after they are made, so a credential that could outlive them would come
/// back to life.
pub const MAX_CREDENTIAL_TTL: u64 = 31 * 86_400;

fn bad(option: &str, expected: &'static str) -> UsageError {
    UsageError::BadValue {
        option: format!("--{option}"),
        expected,
    }
}

fn duration(p: &Parsed, name: &str, default: u64) -> Result<u64, UsageError> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => args::parse_duration(v)
            .filter(|&secs| secs <= MAX_CREDENTIAL_TTL)
            .ok_or_else(|| {
                bad(
                    name,
                    "a duration of at most 31d, such as 300s, 15m, 12h or 30d",
                )
            }),
    }
}

fn count(p: &Parsed, name: &str, default: usize) -> Result<usize, UsageError> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| bad(name, "a positive whole number")),
    }
}

impl Config {
    /// Builds the configuration from parsed `serve` options.
    pub fn from_parsed(p: &Parsed) -> Result<Config, UsageError> {
        let listen = p
            .get("listen")
            .unwrap_or("127.0.0.1:8080")
            .parse()
            .map_err(|_| bad("listen", "an address such as 127.0.0.1:8080 or [::]:8080"))?;
        let prefix = p
            .get("prefix")
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        // Every Location latchkey sends starts with the prefix: `//evil.example` would
        // make them all point at another site, and `.`/`..` segments somewhere else.
        if !prefix.is_empty()
            && (!prefix.starts_with('/')
                || !prefix[1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
                || prefix[1..]
                    .split('/')
                    .any(|seg| seg.is_empty() || seg == "." || seg == ".."))
        {
            return Err(bad("prefix", "a path such as /latchkey"));
        }
        let cookie_secure = match p.get("cookie-secure").unwrap_or("auto") {
            "auto" => SecureMode::Auto,
            "always" => SecureMode::Always,
            "never" => SecureMode::Never,
            _ => return Err(bad("cookie-secure", "auto, always or never")),
        };
        let proxies: Vec<&str> = p.all("trusted-proxy");
        let trusted_proxies = TrustedProxies::parse(&proxies).map_err(|_| {
            bad(
                "trusted-proxy",
                "addresses or CIDRs such as 10.0.0.0/8 or ::1",
            )
        })?;
        let mut allowed_hosts = Vec::new();
        for h in p.all("allowed-host") {
            let h = h.trim().to_ascii_lowercase();
            if h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
            {
                return Err(bad("allowed-host", "a host name such as admin.example"));
            }
            allowed_hosts.push(h);
        }
        let refresh = duration(p, "refresh-ttl", 0)?;
        let title = p.get("title").unwrap_or("latchkey").to_owned();
        if title.is_empty() || title.len() > 100 || title.chars().any(char::is_control) {
            return Err(bad("title", "1 to 100 printable characters"));
        }
        let mut limits = crate::http::Limits {
            shared_loopback: true,
            ..crate::http::Limits::default()
        };
        limits.max_connections = count(p, "max-connections", limits.max_connections)?;
        limits.max_connections_per_ip =
            count(p, "max-connections-per-ip", limits.max_connections_per_ip)?;
        Ok(Config {
            listen,
            data_dir: PathBuf::from(p.get("data-dir").unwrap_or(crate::cli::DEFAULT_DATA_DIR)),
            title,
            serve_dir: p.get("serve-dir").map(PathBuf::from),
            prefix,
            session_ttl: duration(p, "session-ttl", 12 * 3600)?,
            remember_ttl: duration(p, "remember-ttl", 30 * 86_400)?,
            token_ttl: duration(p, "token-ttl", 300)?,
            refresh_ttl: (refresh > 0).then_some(refresh),
            cookie_secure,
            same_site_strict: p.has("same-site-strict"),
            logins_per_second: u32::try_from(count(p, "max-logins-per-second", 4)?)
                .map_err(|_| bad("max-logins-per-second", "a positive whole number"))?,
            trusted_proxies,
            allowed_hosts,
            limits,
        })
    }
}
