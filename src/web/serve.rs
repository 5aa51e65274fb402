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
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Listen(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            ServeError::Run(e) => write!(f, "server failed: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Listen(_, e) | ServeError::Run(e) => Some(e),
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
    let server = Server::bind(listen, cfg.limits.clone())
        .map_err(|e| ServeError::Listen(listen, e))?
        .upstreams(upstreams);
    let addr = server.local_addr().map_err(ServeError::Run)?;
    // The line starts `latchkey: listening on http://ADDR/`: scripts and tests read
    // the address from it.
    let serving = match &cfg.serve_dir {
        Some(dir) => format!("the files of {}", dir.display()),
        None => "a welcome page".to_owned(),
    };
    eprintln!(
        "latchkey: listening on http://{addr}{}/ (data dir {}; serving {serving} to \
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
    server
        .handle_signals(true)
        .run(App::new(cfg, store))
        .map_err(ServeError::Run)?;
    eprintln!("latchkey: stopped");
    Ok(())
}
