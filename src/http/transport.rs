//! A client connection's byte stream: the TCP socket itself, or TLS over it.
//!
//! The rest of the server reads and writes plaintext through [`Read`] and [`Write`] with
//! the non-blocking conventions of the socket (`WouldBlock` means "wait for the next
//! event"), so request parsing, answers, proxying and lingering are the same code with
//! and without TLS.
//!
//! The TLS side follows the shape of rustls's `tlsserver-mio` example: ciphertext moves
//! between the socket and the `rustls::ServerConnection` (`read_tls`/`write_tls`), and
//! plaintext between the connection and the server's buffers (`reader`/`writer`).

#[cfg(feature = "tls")]
use std::io::ErrorKind;
use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

/// A client connection's stream.
pub(crate) enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

#[cfg(feature = "tls")]
pub(crate) struct TlsStream {
    sock: TcpStream,
    session: rustls::ServerConnection,
    /// Whether the first bytes have been looked at (see [`TlsStream::refuse_plain_http`]).
    first_checked: bool,
}

/// Most `read_tls` calls in one [`Read::read`] that yield no plaintext (handshake
/// messages, empty records) before it returns `Interrupted`: the callers charge that
/// to the connection's read budget for the turn, so a client sending an endless stream
/// of such records cannot hold the loop.
#[cfg(feature = "tls")]
const RECORD_READS_PER_CALL: usize = 4;

/// What a client that speaks plain HTTP to the TLS port is told before it is closed
/// (as nginx answers `400 The plain HTTP request was sent to HTTPS port`): a person who
/// typed `http://` sees why, instead of an empty reply.
#[cfg(feature = "tls")]
const PLAIN_HTTP_ON_TLS_PORT: &str = "400 Bad Request\n\nThis port speaks HTTPS: use https://\n";

impl Transport {
    /// The TCP socket underneath (for registration with the poll).
    pub(crate) fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(sock) => sock,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => &mut tls.sock,
        }
    }

    /// Starts TLS on an accepted socket.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(
        sock: TcpStream,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> Result<Transport, rustls::Error> {
        Ok(Transport::Tls(Box::new(TlsStream {
            sock,
            session: rustls::ServerConnection::new(config)?,
            first_checked: false,
        })))
    }

    /// Whether TLS is terminated here.
    pub(crate) fn is_tls(&self) -> bool {
        !matches!(self, Transport::Plain(_))
    }

    /// Whether a TLS handshake is still under way (never for plain TCP).
    pub(crate) fn handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.session.is_handshaking(),
        }
    }

    /// Whether TLS records are queued for the socket (written by [`Write::flush`]).
    pub(crate) fn has_pending_records(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.session.wants_write(),
        }
    }

    /// Ends the write side: a TLS `close_notify` (RFC 8446 §6.1) first, written if the
    /// socket takes it now, then the TCP half-close.
    pub(crate) fn shutdown_write(&mut self) {
        match self {
            Transport::Plain(sock) => {
                let _ = sock.shutdown(Shutdown::Write);
            }
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => {
                tls.session.send_close_notify();
                let _ = tls.write_records();
                let _ = tls.sock.shutdown(Shutdown::Write);
            }
        }
    }
}

#[cfg(feature = "tls")]
impl TlsStream {
    /// Writes queued TLS records until done or the socket would block.
    fn write_records(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.sock) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Answers and refuses a connection whose first byte cannot start a TLS handshake
    /// record (content type 22, RFC 8446 §5.1) but can start an HTTP method: someone
    /// typed `http://` for this port. Anything else is left to rustls to refuse.
    fn refuse_plain_http(&mut self) -> io::Result<()> {
        if self.first_checked {
            return Ok(());
        }
        let mut first = [0u8; 1];
        match self.sock.peek(&mut first) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        self.first_checked = true;
        if first[0].is_ascii_uppercase() {
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{PLAIN_HTTP_ON_TLS_PORT}",
                PLAIN_HTTP_ON_TLS_PORT.len()
            );
            let _ = self.sock.write(answer.as_bytes());
            let _ = self.sock.shutdown(Shutdown::Write);
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                "plain http on tls port",
            ));
        }
        Ok(())
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(sock) => sock.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.read(buf),
        }
    }
}

#[cfg(feature = "tls")]
impl Read for TlsStream {
    /// Plaintext already decrypted first; else records from the socket until some
    /// plaintext, `WouldBlock`, end of stream (`Ok(0)`, with or without the peer's
    /// `close_notify`) or an error (a TLS error sends its alert first).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for _ in 0..RECORD_READS_PER_CALL {
            match self.session.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The TCP stream ended without close_notify: as good as an end for
                // HTTP/1.1, whose messages are delimited on their own (RFC 9112 §9.8).
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            self.refuse_plain_http()?;
            match self.session.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            if let Err(error) = self.session.process_new_packets() {
                // rustls has queued the alert that says why; send it if we can.
                let _ = self.write_records();
                return Err(io::Error::new(ErrorKind::InvalidData, error));
            }
            // Handshake replies go out now; what the socket does not take waits for
            // its next writable event (see `flush`).
            match self.write_records() {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Err(ErrorKind::Interrupted.into())
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(sock) => sock.write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => {
                // Take plaintext only once earlier records are out, so at most one
                // buffer's worth of ciphertext waits on a slow reader.
                tls.write_records()?;
                let n = tls.session.writer().write(buf)?;
                if n == 0 && !buf.is_empty() {
                    // rustls's buffer is full (mid-handshake): not a closed stream.
                    return Err(ErrorKind::WouldBlock.into());
                }
                match tls.write_records() {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                Ok(n)
            }
        }
    }

    /// Writes the TLS records still queued; `WouldBlock` if the socket took not all.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.write_records(),
        }
    }
}
