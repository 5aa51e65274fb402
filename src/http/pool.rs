//! Upstream addresses (TCP or a Unix socket), their sockets, and the small pool of idle
//! keep-alive connections to each.
//!
//! A connection goes back to the pool only after an exchange that left it clean: a
//! request without a body, fully written; a response from an HTTP/1.1 upstream
//! delimited by its length or its last chunk (never by close), without
//! `Connection: close`, and with no byte after it. Taken from the pool, it is checked
//! first (a non-blocking read must find nothing: an upstream that closed it shows an
//! end of stream), and a request it then fails before any byte of the answer came is
//! sent once more on a new connection: an upstream may close an idle connection just
//! as a request goes out (RFC 9112 §9.3.1). Only requests without a body are sent on
//! pooled connections, so a retry never needs a body that was already streamed.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

/// Where an upstream listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix domain socket.
    Unix(PathBuf),
}

/// A connection to an upstream.
#[derive(Debug)]
pub(crate) enum UpstreamSock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl UpstreamSock {
    /// Starts a non-blocking connect to `upstream`.
    pub(crate) fn connect(upstream: &Upstream) -> io::Result<UpstreamSock> {
        match upstream {
            Upstream::Tcp(addr) => {
                let sock = TcpStream::connect(*addr)?;
                let _ = sock.set_nodelay(true);
                Ok(UpstreamSock::Tcp(sock))
            }
            Upstream::Unix(path) => UnixStream::connect(path).map(UpstreamSock::Unix),
        }
    }

    /// Whether a non-blocking connect has completed (mio's recipe: `take_error`, then
    /// `peer_addr`, which says `NotConnected` while it is under way).
    pub(crate) fn connect_status(&self) -> io::Result<bool> {
        let (error, peer) = match self {
            UpstreamSock::Tcp(sock) => (sock.take_error()?, sock.peer_addr().map(|_| ())),
            UpstreamSock::Unix(sock) => (sock.take_error()?, sock.peer_addr().map(|_| ())),
        };
        if let Some(error) = error {
            return Err(error);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self {
            UpstreamSock::Tcp(sock) => registry.register(sock, token, interest),
            UpstreamSock::Unix(sock) => registry.register(sock, token, interest),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            UpstreamSock::Tcp(sock) => registry.deregister(sock),
            UpstreamSock::Unix(sock) => registry.deregister(sock),
        }
    }

    /// Whether an idle connection still looks usable: nothing to read, no end of
    /// stream, no error.
    fn is_quiet(&mut self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.read(&mut probe), Err(e) if e.kind() == ErrorKind::WouldBlock)
    }
}

impl Read for UpstreamSock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            UpstreamSock::Tcp(sock) => sock.read(buf),
            UpstreamSock::Unix(sock) => sock.read(buf),
        }
    }
}

impl Write for UpstreamSock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            UpstreamSock::Tcp(sock) => sock.write(buf),
            UpstreamSock::Unix(sock) => sock.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Idle keep-alive connections, per upstream (by index).
pub(crate) struct Pool {
    idle: Vec<Vec<(UpstreamSock, Instant)>>,
    per_upstream: usize,
    max_idle: Duration,
}

impl Pool {
    /// A pool of at most `per_upstream` idle connections to each of `upstreams`
    /// upstreams, each kept at most `max_idle`.
    pub(crate) fn new(upstreams: usize, per_upstream: usize, max_idle: Duration) -> Pool {
        Pool {
            idle: (0..upstreams).map(|_| Vec::new()).collect(),
            per_upstream,
            max_idle,
        }
    }

    /// An idle connection to `upstream` that still looks usable, newest first.
    pub(crate) fn take(&mut self, upstream: usize, now: Instant) -> Option<UpstreamSock> {
        let max_idle = self.max_idle;
        let idle = self.idle.get_mut(upstream)?;
        while let Some((mut sock, since)) = idle.pop() {
            if now.saturating_duration_since(since) < max_idle && sock.is_quiet() {
                return Some(sock);
            }
        }
        None
    }

    /// Keeps `sock` (already deregistered) for the next request to `upstream`; the
    /// oldest idle one goes when the pool is full.
    pub(crate) fn put(&mut self, upstream: usize, sock: UpstreamSock, now: Instant) {
        let per_upstream = self.per_upstream;
        let Some(idle) = self.idle.get_mut(upstream) else {
            return;
        };
        if per_upstream == 0 {
            return;
        }
        if idle.len() >= per_upstream {
            idle.remove(0);
        }
        idle.push((sock, now));
    }

    /// Closes the connections idle for longer than allowed.
    pub(crate) fn prune(&mut self, now: Instant) {
        let max_idle = self.max_idle;
        for idle in &mut self.idle {
            idle.retain(|(_, since)| now.saturating_duration_since(*since) < max_idle);
        }
    }
}
