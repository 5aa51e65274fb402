//! Running the service: the app over a loaded store, on the HTTP server, until SIGTERM
//! or SIGINT.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::http::Server;
use crate::store::Store;
use crate::web::app::App;
use crate::web::config::Config;
use crate::web::tls::Https;

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

/// Binds `cfg.listen` and serves the app over `store` until SIGTERM or SIGINT.
pub(crate) fn run(cfg: Config, store: Store) -> Result<(), ServeError> {
    let listen = cfg.listen;
    let upstreams = cfg
        .proxy
        .iter()
        .flat_map(|proxy| &proxy.apps)
        .map(|app| app.target.upstream())
        .collect();
    let mut server = Server::bind(listen, cfg.limits.clone())
        .map_err(|e| ServeError::Listen(listen, e))?
        .upstreams(upstreams);
    let addr = server.local_addr().map_err(ServeError::Run)?;
    let https = match &cfg.tls {
        Some(tls) => {
            let (with_tls, https) = start_tls(server, tls, &store, addr)?;
            server = with_tls;
            Some(https)
        }
        None => None,
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

/// Puts TLS on `server`'s address and opens `--redirect-http`; prints the certificate's
/// fingerprint, so that a person can compare it with what the browser shows on the
/// first visit.
#[cfg(feature = "tls")]
fn start_tls(
    server: Server,
    tls: &crate::web::config::TlsConfig,
    store: &Store,
    addr: SocketAddr,
) -> Result<(Server, Https), ServeError> {
    use crate::http::tls::Certificate;
    use crate::store::certificate::fingerprint;
    use crate::web::config::CertificateSource;
    use crate::web::tls::{CertificateFiles, load};

    let (cert_path, key_path) = match &tls.certificate {
        CertificateSource::SelfSigned { names } => {
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
            (made.cert_path, made.key_path)
        }
        CertificateSource::Files { cert, key } => (cert.clone(), key.clone()),
    };
    let identity = load(&cert_path, &key_path).map_err(ServeError::Certificate)?;
    eprintln!(
        "latchkey: TLS certificate {}, SHA-256 fingerprint {}",
        cert_path.display(),
        fingerprint(identity.leaf())
    );
    let certificate = Certificate::new(identity);
    let config = certificate.server_config().map_err(ServeError::Tls)?;
    let mut server = server.tls(config);
    if let Some(plain) = tls.redirect_http {
        let bound = server
            .also_listen(plain)
            .map_err(|e| ServeError::RedirectListen(plain, e))?;
        eprintln!("latchkey: redirecting http://{bound}/ to HTTPS");
    }
    let watch = match &tls.certificate {
        CertificateSource::Files { .. } => {
            Some(CertificateFiles::new(cert_path, key_path, certificate))
        }
        CertificateSource::SelfSigned { .. } => None,
    };
    let https = Https {
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

#[cfg(not(feature = "tls"))]
fn start_tls(
    _server: Server,
    _tls: &crate::web::config::TlsConfig,
    _store: &Store,
    _addr: SocketAddr,
) -> Result<(Server, Https), ServeError> {
    Err(ServeError::NoTls)
}
