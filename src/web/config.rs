//! The service's settings. The command line fills them in (`latchkey serve` flags and
//! `LATCHKEY_*` variables); the web layer only reads them.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::web::client_ip::TrustedProxies;

/// When the session cookie gets the `Secure` attribute (and the `__Host-` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecureMode {
    /// Secure when the request came over HTTPS through a trusted proxy.
    Auto,
    /// Always Secure: latchkey is only ever reached over HTTPS.
    Always,
    /// Never Secure: plain HTTP on a trusted network.
    Never,
}

/// Everything the service needs to know, apart from its data directory (the store).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
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
    /// The application latchkey stands in front of (`--upstream`), if any.
    pub proxy: Option<crate::web::proxy::ProxyConfig>,
    /// HTTPS on `listen` (`--tls`), if on.
    pub tls: Option<TlsConfig>,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertificateSource {
    /// The data dir's own self-signed one, for the host name, `localhost`, the listen
    /// address and these extra names or addresses (`--tls-name`).
    SelfSigned { names: Vec<String> },
    /// PEM files (`--tls-cert`, `--tls-key`), reloaded when they change.
    Files { cert: PathBuf, key: PathBuf },
}

/// HTTPS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsConfig {
    pub certificate: CertificateSource,
    /// Plain HTTP here answers with a redirect to HTTPS (`--redirect-http`).
    pub redirect_http: Option<SocketAddr>,
    /// `Strict-Transport-Security` on HTTPS answers (`--hsts`).
    pub hsts: bool,
}

/// The `Strict-Transport-Security` value of `--hsts` (RFC 6797 §6.1): a year, the
/// host only. `includeSubDomains` could lock people out of other devices on the LAN
/// domain that have no certificate.
pub(crate) const HSTS: &str = "max-age=31536000";

/// Longest lifetime of any session or token, seconds (31 days). Revocations
/// (`token revoke`, `session revoke-all`, `user passwd`, `user del`) are forgotten
/// this long after they are made, so a credential that could outlive them would come
/// back to life.
pub(crate) const MAX_CREDENTIAL_TTL: u64 = 31 * 86_400;

impl Default for Config {
    /// What `latchkey serve` runs with when no flag says otherwise.
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            title: "latchkey".to_owned(),
            serve_dir: None,
            prefix: String::new(),
            session_ttl: 12 * 3600,
            remember_ttl: 30 * 86_400,
            token_ttl: 300,
            refresh_ttl: None,
            cookie_secure: SecureMode::Auto,
            same_site_strict: false,
            trusted_proxies: TrustedProxies::default(),
            allowed_hosts: Vec::new(),
            logins_per_second: 4,
            // A reverse proxy on this host connects from loopback for every client.
            limits: crate::http::Limits {
                shared_loopback: true,
                ..crate::http::Limits::default()
            },
            proxy: None,
            tls: None,
        }
    }
}
