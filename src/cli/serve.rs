//! `latchkey serve`: its flags (each also read from a `LATCHKEY_*` variable), the
//! [`Config`] they make, then the store and the service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::args::{self, Opt, Parsed, UsageError, options_help};
use super::{CliError, DEFAULT_DATA_DIR, announce_calibration, env_var};
use crate::password::{self, Policy};
use crate::store::{DataDir, FIRST_USER, Store};
use crate::web::client_ip::TrustedProxies;
use crate::web::config::{CertificateSource, Config, MAX_CREDENTIAL_TTL, SecureMode, TlsConfig};
use crate::web::proxy::{
    AppRoute, DEFAULT_PREFIX, DEFAULT_USER_HEADER, ProxyConfig, check_public, parse_upstream,
};

/// The options of `latchkey serve`.
pub(crate) const OPTIONS: &[Opt] = &[
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
        "serve this directory's files to logged-in users at / (not one holding the data dir)",
    )
    .env("LATCHKEY_SERVE_DIR"),
    Opt::value(
        "prefix",
        "PATH",
        "mount every latchkey route under PATH, e.g. /latchkey (default /.latchkey with --upstream)",
    )
    .env("LATCHKEY_PREFIX"),
    Opt::value(
        "upstream",
        "[HOST=]URL",
        "stand in front of the app at http://HOST:PORT or unix:/PATH (for requests to HOST; repeatable): forward every request outside the prefix once logged in",
    )
    .env("LATCHKEY_UPSTREAM")
    .repeatable(),
    Opt::value(
        "public",
        "PATH",
        "with --upstream: let PATH through without login (exact, or a prefix ending in /; repeatable)",
    )
    .env("LATCHKEY_PUBLIC")
    .repeatable(),
    Opt::value(
        "user-header",
        "NAME",
        "with --upstream: the header naming the user to the app (default Remote-User)",
    )
    .env("LATCHKEY_USER_HEADER"),
    Opt::value(
        "upstream-timeout",
        "DURATION",
        "with --upstream: how long the app may stay silent before 504 (default 60s)",
    )
    .env("LATCHKEY_UPSTREAM_TIMEOUT"),
    Opt::flag(
        "upstream-cache",
        "with --upstream: keep the app's caching headers (default: every answer no-store)",
    )
    .env("LATCHKEY_UPSTREAM_CACHE"),
    Opt::value(
        "max-upload",
        "SIZE",
        "with --upstream: largest request body to the app, e.g. 64M (default 64M)",
    )
    .env("LATCHKEY_MAX_UPLOAD"),
    Opt::flag(
        "tls",
        "serve HTTPS, with a self-signed certificate made in the data dir on first use (its fingerprint is printed)",
    )
    .env("LATCHKEY_TLS"),
    Opt::value(
        "tls-name",
        "NAME",
        "with --tls: a host name or address the self-signed certificate also covers (repeatable)",
    )
    .env("LATCHKEY_TLS_NAME")
    .repeatable(),
    Opt::value(
        "tls-cert",
        "FILE",
        "serve HTTPS with this PEM certificate chain instead (with --tls-key; reloaded when it changes)",
    )
    .env("LATCHKEY_TLS_CERT"),
    Opt::value("tls-key", "FILE", "the PEM private key of --tls-cert")
        .env("LATCHKEY_TLS_KEY"),
    Opt::value(
        "redirect-http",
        "ADDR",
        "with HTTPS: answer plain HTTP on ADDR, e.g. 0.0.0.0:80, with a redirect to HTTPS",
    )
    .env("LATCHKEY_REDIRECT_HTTP"),
    Opt::flag(
        "hsts",
        "with HTTPS: send Strict-Transport-Security (browsers then refuse plain HTTP and certificate warnings for a year)",
    )
    .env("LATCHKEY_HSTS"),
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

fn bad(option: &str, expected: &'static str) -> UsageError {
    UsageError::BadValue {
        option: format!("--{option}"),
        expected,
    }
}

fn duration(p: &Parsed, name: &str, default: u64) -> Result<u64, UsageError> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => args::duration(
            name,
            v,
            |secs| secs <= MAX_CREDENTIAL_TTL,
            "a duration of at most 31d, such as 300s, 15m, 12h or 30d",
        ),
    }
}

/// A size in bytes: digits with an optional `K`, `M` or `G` (powers of 1024).
fn size(p: &Parsed, name: &str, default: usize) -> Result<usize, UsageError> {
    let Some(v) = p.get(name) else {
        return Ok(default);
    };
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let shift = match unit {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        _ => 64,
    };
    digits
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0 && shift < 64)
        .and_then(|n| n.checked_mul(1usize.checked_shl(shift)?))
        .ok_or_else(|| bad(name, "a size such as 64M, 512K or 1G"))
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

/// Builds the service's configuration and data directory from parsed `serve` options;
/// what is not given keeps its [`Config::default`].
pub(crate) fn config(p: &Parsed) -> Result<(Config, DataDir), UsageError> {
    let mut cfg = Config::default();
    if let Some(listen) = p.get("listen") {
        cfg.listen = listen
            .parse()
            .map_err(|_| bad("listen", "an address such as 127.0.0.1:8080 or [::]:8080"))?;
    }
    if let Some(title) = p.get("title") {
        if title.is_empty() || title.len() > 100 || title.chars().any(char::is_control) {
            return Err(bad("title", "1 to 100 printable characters"));
        }
        cfg.title = title.to_owned();
    }
    cfg.serve_dir = p.get("serve-dir").map(PathBuf::from);
    let prefix = p.get("prefix").unwrap_or("").trim_end_matches('/');
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
    cfg.prefix = prefix.to_owned();
    proxy_config(p, &mut cfg)?;
    cfg.tls = tls_config(p, cfg.listen)?;
    cfg.session_ttl = duration(p, "session-ttl", cfg.session_ttl)?;
    cfg.remember_ttl = duration(p, "remember-ttl", cfg.remember_ttl)?;
    cfg.token_ttl = duration(p, "token-ttl", cfg.token_ttl)?;
    let refresh = duration(p, "refresh-ttl", cfg.refresh_ttl.unwrap_or(0))?;
    cfg.refresh_ttl = (refresh > 0).then_some(refresh);
    cfg.cookie_secure = match p.get("cookie-secure") {
        None => cfg.cookie_secure,
        Some("auto") => SecureMode::Auto,
        Some("always") => SecureMode::Always,
        Some("never") => SecureMode::Never,
        Some(_) => return Err(bad("cookie-secure", "auto, always or never")),
    };
    cfg.same_site_strict = p.has("same-site-strict");
    cfg.trusted_proxies = TrustedProxies::parse(&p.all("trusted-proxy")).map_err(|_| {
        bad(
            "trusted-proxy",
            "addresses or CIDRs such as 10.0.0.0/8 or ::1",
        )
    })?;
    for h in p.all("allowed-host") {
        let h = h.trim().to_ascii_lowercase();
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        {
            return Err(bad("allowed-host", "a host name such as admin.example"));
        }
        cfg.allowed_hosts.push(h);
    }
    let logins = count(p, "max-logins-per-second", cfg.logins_per_second as usize)?;
    cfg.logins_per_second = u32::try_from(logins)
        .map_err(|_| bad("max-logins-per-second", "a positive whole number"))?;
    cfg.limits.max_connections = count(p, "max-connections", cfg.limits.max_connections)?;
    cfg.limits.max_connections_per_ip = count(
        p,
        "max-connections-per-ip",
        cfg.limits.max_connections_per_ip,
    )?;
    let dir = DataDir::new(p.get("data-dir").unwrap_or(DEFAULT_DATA_DIR));
    Ok((cfg, dir))
}

/// The HTTPS flags: `--tls` or `--tls-cert` with `--tls-key`, then what only makes
/// sense with HTTPS.
fn tls_config(p: &Parsed, listen: std::net::SocketAddr) -> Result<Option<TlsConfig>, UsageError> {
    let certificate = match (p.get("tls-cert"), p.get("tls-key")) {
        (Some(cert), Some(key)) => {
            if !p.all("tls-name").is_empty() {
                return Err(bad("tls-name", "to be left out with --tls-cert"));
            }
            CertificateSource::Files {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            }
        }
        (Some(_), None) => return Err(bad("tls-cert", "to be given with --tls-key")),
        (None, Some(_)) => return Err(bad("tls-key", "to be given with --tls-cert")),
        (None, None) if p.has("tls") => {
            let names: Vec<String> = p.all("tls-name").iter().map(|n| (*n).to_owned()).collect();
            #[cfg(feature = "tls")]
            if !names
                .iter()
                .all(|name| crate::store::certificate::is_certificate_name(name))
            {
                return Err(bad(
                    "tls-name",
                    "a DNS name such as router.lan or an IP address",
                ));
            }
            CertificateSource::SelfSigned { names }
        }
        (None, None) => {
            let with_tls = ["tls-name", "redirect-http", "hsts"];
            if let Some(name) = with_tls.iter().find(|n| p.has(n) || p.get(n).is_some()) {
                return Err(bad(name, "to be given with --tls or --tls-cert"));
            }
            return Ok(None);
        }
    };
    let redirect_http = match p.get("redirect-http") {
        None => None,
        Some(addr) => Some(
            addr.parse()
                .ok()
                .filter(|addr| *addr != listen)
                .ok_or_else(|| {
                    bad(
                        "redirect-http",
                        "an address such as 0.0.0.0:80, other than --listen",
                    )
                })?,
        ),
    };
    Ok(Some(TlsConfig {
        certificate,
        redirect_http,
        hsts: p.has("hsts"),
    }))
}

/// The `--upstream` flags; in that mode latchkey's routes need a prefix.
fn proxy_config(p: &Parsed, cfg: &mut Config) -> Result<(), UsageError> {
    let only_with_upstream = ["public", "user-header", "upstream-timeout", "max-upload"];
    let upstreams = p.all("upstream");
    if upstreams.is_empty() {
        if let Some(name) = only_with_upstream.iter().find(|name| p.get(name).is_some()) {
            return Err(bad(name, "to be given with --upstream"));
        }
        return Ok(());
    }
    if cfg.serve_dir.is_some() {
        return Err(bad("serve-dir", "to be left out with --upstream"));
    }
    if cfg.prefix.is_empty() {
        cfg.prefix = DEFAULT_PREFIX.to_owned();
    }
    let mut apps: Vec<AppRoute> = Vec::new();
    for value in upstreams {
        let app = parse_upstream(value).map_err(|_| {
            bad(
                "upstream",
                "http://HOST:PORT (resolvable) or unix:/PATH, optionally after NAME=, each name once",
            )
        })?;
        if apps.iter().any(|other| other.host == app.host) {
            return Err(bad(
                "upstream",
                "http://HOST:PORT (resolvable) or unix:/PATH, optionally after NAME=, each name once",
            ));
        }
        apps.push(app);
    }
    let mut public = Vec::new();
    for entry in p.all("public") {
        public.push(check_public(entry, &cfg.prefix).map_err(|_| {
            bad(
                "public",
                "a path such as /favicon.ico or /static/ (normalised, outside the prefix)",
            )
        })?);
    }
    let user_header = p.get("user-header").unwrap_or(DEFAULT_USER_HEADER);
    if user_header.is_empty()
        || !user_header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(bad("user-header", "a header name such as Remote-User"));
    }
    if let Some(timeout) = p.get("upstream-timeout") {
        let secs = args::parse_duration(timeout)
            .filter(|&secs| (1..=86_400).contains(&secs))
            .ok_or_else(|| bad("upstream-timeout", "a duration from 1s to 1d, such as 60s"))?;
        cfg.limits.upstream_timeout = std::time::Duration::from_secs(secs);
    }
    cfg.limits.max_upload_bytes = size(p, "max-upload", cfg.limits.max_upload_bytes)?;
    cfg.proxy = Some(ProxyConfig {
        apps,
        public,
        user_header: user_header.to_owned(),
        cache: p.has("upstream-cache"),
    });
    Ok(())
}

/// Runs `latchkey serve` with its arguments: loads (or, on the first run, creates) the
/// data directory, then serves until SIGTERM or SIGINT. A `--serve-dir` that is not a
/// directory, or is or holds the data directory, is refused before anything is
/// created.
/// Warns, in one line, when one password check at the data dir's stored cost takes more
/// than twice the calibration target on this machine: a data dir calibrated on a faster
/// one (a PC's, copied to a Pi) would make every login take that long. Measured on a
/// thread of its own, so the service answers meanwhile.
fn warn_if_checks_are_slow(policy: Policy, data_dir: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("cost-check".into())
        .spawn(move || {
            let started = Instant::now();
            password::dummy_verify(b"a password of no one", &policy);
            let took = started.elapsed();
            if took > 2 * password::DEFAULT_TARGET {
                eprintln!(
                    "latchkey: one password check takes {} ms here, over twice the {} ms target \
                     (cost {}); logins will be slow: run latchkey calibrate --data-dir {}",
                    took.as_millis(),
                    password::DEFAULT_TARGET.as_millis(),
                    policy.iterations(),
                    data_dir.display()
                );
            }
        });
    if let Err(e) = spawned {
        eprintln!("latchkey: could not check the password cost: {e}");
    }
}

pub(crate) fn command(argv: &[String]) -> Result<ExitCode, CliError> {
    let parsed = args::parse(argv, OPTIONS, env_var)?;
    if parsed.help {
        print!(
            "Usage: latchkey serve [options]\n\n{}",
            options_help(OPTIONS)
        );
        return Ok(ExitCode::SUCCESS);
    }
    parsed.expect_positionals(0, "no arguments")?;
    let (cfg, dir) = config(&parsed)?;
    if let Some(serve_dir) = &cfg.serve_dir {
        match std::fs::metadata(serve_dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(CliError::ServeDirUnusable(
                    serve_dir.clone(),
                    std::io::Error::other("not a directory"),
                ));
            }
            Err(e) => return Err(CliError::ServeDirUnusable(serve_dir.clone(), e)),
        }
        if dir.is_within(serve_dir)? {
            return Err(CliError::ServeDirHoldsData(
                serve_dir.clone(),
                dir.path().to_owned(),
            ));
        }
    }
    // Sockets and certificate files first: a flag's mistake must not leave a data dir.
    let prepared = crate::web::serve::prepare(&cfg)?;
    let (store, created) = Store::open(dir)?;
    if created.dir {
        super::announce_created(store.dir());
    }
    if let Some(cal) = &created.calibration {
        announce_calibration(cal);
    } else {
        warn_if_checks_are_slow(store.policy(), store.dir().path().to_owned());
    }
    if let Some(password) = &created.first_password {
        eprintln!("latchkey: first run: created user '{FIRST_USER}' with password: {password}");
        eprintln!(
            "latchkey: it is shown only this once; change it with: latchkey user passwd {FIRST_USER}"
        );
    }
    crate::web::serve::run(prepared, cfg, store)?;
    Ok(ExitCode::SUCCESS)
}
