//! Running the service: the app over a loaded store, on the HTTP server, until SIGTERM
//! or SIGINT.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::http::Server;
use crate::store::Store;
use crate::web::app::App;
use crate::web::config::Config;

/// Why the service could not start or stopped with a failure.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum ServeError {
    /// The listening socket could not be opened.
    Listen(SocketAddr, io::Error),
    /// The event loop failed.
    Run(io::Error),
    /// `--redirect-http`'s socket could not be opened.
    #[cfg(feature = "tls")]
    RedirectListen(SocketAddr, io::Error),
    /// HTTPS was asked for, and this binary was built without the `tls` feature.
    #[cfg(not(feature = "tls"))]
    NoTls,
    /// The data dir's self-signed certificate could not be made or read.
    #[cfg(feature = "tls")]
    SelfSigned(crate::store::StoreError),
    /// The certificate and key could not be loaded.
    #[cfg(feature = "tls")]
    Certificate(crate::web::tls::LoadError),
    /// rustls refused the configuration.
    #[cfg(feature = "tls")]
    Tls(crate::http::tls::TlsError),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Listen(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            ServeError::Run(e) => write!(f, "server failed: {e}"),
            #[cfg(feature = "tls")]
            ServeError::RedirectListen(addr, e) => {
                write!(f, "cannot listen on {addr} for --redirect-http: {e}")
            }
            #[cfg(not(feature = "tls"))]
            ServeError::NoTls => f.write_str("this latchkey was built without tls"),
            #[cfg(feature = "tls")]
            ServeError::SelfSigned(e) => write!(f, "self-signed certificate: {e}"),
            #[cfg(feature = "tls")]
            ServeError::Certificate(e) => write!(f, "tls certificate: {e}"),
            #[cfg(feature = "tls")]
            ServeError::Tls(e) => write!(f, "tls: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Listen(_, e) | ServeError::Run(e) => Some(e),
            #[cfg(feature = "tls")]
            ServeError::RedirectListen(_, e) => Some(e),
            #[cfg(not(feature = "tls"))]
            ServeError::NoTls => None,
            #[cfg(feature = "tls")]
            ServeError::SelfSigned(e) => Some(e),
            #[cfg(feature = "tls")]
            ServeError::Certificate(e) => Some(e),
            #[cfg(feature = "tls")]
            ServeError::Tls(e) => Some(e),
        }
    }
}

/// The service's sockets, and its certificate when it comes from files: everything
/// that can fail because of a flag, done before the data directory is touched, so a
/// mistake there leaves nothing behind (no first-run data dir, no admin password
/// printed for a service that never ran).
pub(crate) struct Prepared {
    server: Server,
    addr: SocketAddr,
    /// `--tls-cert`/`--tls-key`, read and checked.
    #[cfg(feature = "tls")]
    files: Option<crate::http::tls::Identity>,
    /// Where `--redirect-http` is bound.
    #[cfg(feature = "tls")]
    redirect: Option<SocketAddr>,
}

/// Binds `cfg.listen` (and `--redirect-http`) and loads the certificate files.
pub(crate) fn prepare(cfg: &Config) -> Result<Prepared, ServeError> {
    let listen = cfg.listen;
    let upstreams = cfg
        .proxy
        .iter()
        .flat_map(|proxy| &proxy.apps)
        .map(|app| app.target.upstream())
        .collect();
    let server = Server::bind(listen, cfg.limits.clone())
        .map_err(|e| ServeError::Listen(listen, e))?
        .upstreams(upstreams);
    let addr = server.local_addr().map_err(ServeError::Run)?;
    #[cfg(not(feature = "tls"))]
    if cfg.tls.is_some() {
        return Err(ServeError::NoTls);
    }
    #[cfg(feature = "tls")]
    let (server, files, redirect) = prepare_tls(server, cfg)?;
    Ok(Prepared {
        server,
        addr,
        #[cfg(feature = "tls")]
        files,
        #[cfg(feature = "tls")]
        redirect,
    })
}

/// [`prepare`]'s part for HTTPS: the certificate files and `--redirect-http`.
#[cfg(feature = "tls")]
fn prepare_tls(
    mut server: Server,
    cfg: &Config,
) -> Result<
    (
        Server,
        Option<crate::http::tls::Identity>,
        Option<SocketAddr>,
    ),
    ServeError,
> {
    let Some(tls) = &cfg.tls else {
        return Ok((server, None, None));
    };
    let files = match &tls.certificate {
        crate::web::config::CertificateSource::Files { cert, key } => {
            Some(crate::web::tls::load(cert, key).map_err(ServeError::Certificate)?)
        }
        crate::web::config::CertificateSource::SelfSigned { .. } => None,
    };
    let redirect = match tls.redirect_http {
        Some(plain) => Some(
            server
                .also_listen(plain)
                .map_err(|e| ServeError::RedirectListen(plain, e))?,
        ),
        None => None,
    };
    Ok((server, files, redirect))
}

/// Serves the app over `store` on the prepared sockets until SIGTERM or SIGINT.
pub(crate) fn run(prepared: Prepared, cfg: Config, store: Store) -> Result<(), ServeError> {
    let addr = prepared.addr;
    let (server, https) = match &cfg.tls {
        #[cfg(feature = "tls")]
        Some(tls) => {
            let (server, https) = start_tls(prepared, tls, &store)?;
            (server, Some(https))
        }
        _ => (prepared.server, None),
    };
    // Before the "listening" line, which is when supervisors and tests may signal.
    let server = server.handle_signals(true).map_err(ServeError::Run)?;
    let scheme = if https.is_some() { "https" } else { "http" };
    // The line starts `latchkey: listening on http://ADDR/` (or https://): scripts and
    // tests read the address from it.
    let serving = match &cfg.serve_dir {
        Some(dir) => format!("the files of {}", dir.display()),
        None => "a welcome page".to_owned(),
    };
    eprintln!(
        "latchkey: listening on {scheme}://{addr}{}/ (data dir {}; serving {serving} to \
         logged-in users)",
        cfg.prefix,
        store.dir().path().display()
    );
    for app in cfg.proxy.iter().flat_map(|proxy| &proxy.apps) {
        eprintln!(
            "latchkey: proxying {} to {}; latchkey's own pages are under {}/",
            app.host.as_deref().unwrap_or("every other host"),
            app.target,
            cfg.prefix
        );
    }
    let mut app = App::new(cfg, store);
    if let Some(https) = https {
        app = app.with_https(https);
    }
    server.run(app).map_err(ServeError::Run)?;
    eprintln!("latchkey: stopped");
    Ok(())
}

/// Puts TLS on the prepared address, with the certificate files or the data dir's
/// self-signed certificate (made or reissued now); prints the certificate's
/// fingerprint, so that a person can compare it with what the browser shows on the
/// first visit.
#[cfg(feature = "tls")]
fn start_tls(
    prepared: Prepared,
    tls: &crate::web::config::TlsConfig,
    store: &Store,
) -> Result<(Server, crate::web::tls::Https), ServeError> {
    use crate::http::tls::Certificate;
    use crate::store::certificate::fingerprint;
    use crate::web::config::CertificateSource;
    use crate::web::tls::{CertificateFiles, load};

    let Prepared {
        server,
        addr,
        files,
        redirect,
    } = prepared;
    let (identity, cert_path) = match (&tls.certificate, files) {
        (CertificateSource::Files { cert, .. }, Some(identity)) => (identity, cert.clone()),
        (CertificateSource::Files { cert, key }, None) => (
            load(cert, key).map_err(ServeError::Certificate)?,
            cert.clone(),
        ),
        (CertificateSource::SelfSigned { names }, _) => {
            let addrs = if addr.ip().is_unspecified() {
                lan_addresses()
            } else {
                vec![addr.ip()]
            };
            let made = store
                .dir()
                .self_signed_certificate(names, &addrs)
                .map_err(ServeError::SelfSigned)?;
            if let Some(why) = &made.issued {
                eprintln!(
                    "latchkey: made a self-signed TLS certificate ({why}): {}",
                    made.cert_path.display()
                );
            }
            let identity =
                load(&made.cert_path, &made.key_path).map_err(ServeError::Certificate)?;
            (identity, made.cert_path)
        }
    };
    eprintln!(
        "latchkey: TLS certificate {}, SHA-256 fingerprint {}",
        cert_path.display(),
        fingerprint(identity.leaf())
    );
    let certificate = Certificate::new(identity);
    let config = certificate.server_config().map_err(ServeError::Tls)?;
    let server = server.tls(config);
    if let Some(plain) = redirect {
        eprintln!("latchkey: redirecting http://{plain}/ to HTTPS");
    }
    let watch = match &tls.certificate {
        CertificateSource::Files { cert, key } => Some(CertificateFiles::new(
            cert.clone(),
            key.clone(),
            certificate,
        )),
        CertificateSource::SelfSigned { .. } => None,
    };
    let https = crate::web::tls::Https {
        port: addr.port(),
        hsts: tls.hsts,
        watch,
    };
    Ok((server, https))
}

/// The addresses this host reaches the network from, one per family, for a
/// certificate of a service listening on every address (`0.0.0.0`, `::`): the ones a
/// browser on the LAN most likely types. Found by "connecting" a UDP socket to
/// documentation addresses (RFC 5737, RFC 3849), which sends nothing but makes the
/// kernel pick a source address by its routes. None without a route.
#[cfg(feature = "tls")]
fn lan_addresses() -> Vec<std::net::IpAddr> {
    let probes = [("0.0.0.0:0", "192.0.2.1:9"), ("[::]:0", "[2001:db8::1]:9")];
    probes
        .iter()
        .filter_map(|(local, remote)| {
            let sock = std::net::UdpSocket::bind(local).ok()?;
            sock.connect(remote).ok()?;
            let ip = sock.local_addr().ok()?.ip();
            (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
        })
        .collect()
}
