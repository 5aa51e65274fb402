//! One client connection: its socket, buffers, where it is in the request cycle, and
//! which deadline applies.

use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::time::Instant;

use super::limits::Limits;
use super::proxy::Exchange;
use super::request::RequestFacts;
use super::transport::Transport;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading requests and answering them.
    Open,
    /// A request's job is on the worker; nothing else is parsed until it returns.
    Offloaded(RequestFacts),
    /// A request is being forwarded to an upstream (`exchange`); nothing else is
    /// parsed until its response is queued.
    Proxying,
    /// The final response is written and the write side shut; unread input is drained
    /// until `until` so the client sees the response rather than a reset.
    Lingering { until: Instant },
}

/// How readily a connection may be closed to make room for a new one; the smaller
/// (earlier variant, then earlier time) goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Evictable {
    /// Between requests, or lingering after its last answer, since this time.
    Idle(Instant),
    /// Its request has been arriving since this time (head or body, nothing answered
    /// yet): the slowest sender goes first.
    Arriving(Instant),
}

pub(crate) struct Conn {
    pub sock: Transport,
    pub peer: SocketAddr,
    pub generation: u64,
    /// Input received and not yet consumed by a request.
    pub input: Vec<u8>,
    /// Bytes of `input` already searched for the end of the head.
    pub scanned: usize,
    /// Head parsed; the request occupies this many bytes once the body is in.
    pub need_total: Option<usize>,
    pub output: Vec<u8>,
    pub written: usize,
    /// Close once `output` is written (error, `Connection: close`, HTTP/1.0, shutdown).
    pub close_after_write: bool,
    pub phase: Phase,
    /// When the current, incomplete request's first byte arrived (or the accept).
    pub request_started: Option<Instant>,
    /// When the connection last became idle between requests.
    pub idle_since: Instant,
    /// When a write first could not complete.
    pub write_waiting_since: Option<Instant>,
    /// The current deadline (see `refresh_deadline`); `None` while offloaded.
    pub deadline: Option<Instant>,
    /// Earliest entry this connection has in the timer heap.
    pub timer_at: Option<Instant>,
    /// The exchange with an upstream while `Proxying`.
    pub exchange: Option<Box<Exchange>>,
    /// Counted among the TLS handshakes in progress (see `handshakes`).
    pub handshake_counted: bool,
}

impl Conn {
    pub(super) fn new(
        sock: Transport,
        peer: SocketAddr,
        generation: u64,
        limits: &Limits,
        now: Instant,
    ) -> Self {
        let mut conn = Conn {
            sock,
            peer,
            generation,
            input: Vec::with_capacity(limits.initial_buffer_bytes),
            scanned: 0,
            need_total: None,
            output: Vec::new(),
            written: 0,
            close_after_write: false,
            phase: Phase::Open,
            request_started: Some(now),
            idle_since: now,
            write_waiting_since: None,
            deadline: None,
            timer_at: None,
            exchange: None,
            handshake_counted: false,
        };
        conn.refresh_deadline(limits);
        conn
    }

    /// Whether it sits between requests with nothing buffered (safe to close at will).
    pub(super) fn is_idle(&self) -> bool {
        self.phase == Phase::Open
            && self.request_started.is_none()
            && self.input.is_empty()
            && self.output.is_empty()
    }

    /// Whether and how readily this connection may be closed for a new one. Never while
    /// an answer is queued or its request is on the worker: that would cut a response.
    /// A proxied request whose body is still arriving, with nothing answered, counts as
    /// arriving (else trickled uploads would hold every slot).
    pub(super) fn evictable(&self) -> Option<Evictable> {
        match self.phase {
            Phase::Lingering { .. } => Some(Evictable::Idle(self.idle_since)),
            Phase::Proxying => self
                .exchange
                .as_ref()
                .and_then(|exchange| exchange.arriving_since())
                .map(Evictable::Arriving),
            Phase::Offloaded(_) => None,
            Phase::Open if !self.output.is_empty() => None,
            Phase::Open => Some(match self.request_started {
                Some(started) => Evictable::Arriving(started),
                None => Evictable::Idle(self.idle_since),
            }),
        }
    }

    /// Bytes queued but not yet written.
    pub(super) fn pending_output(&self) -> usize {
        let records = usize::from(self.sock.has_pending_records());
        self.output.len().saturating_sub(self.written) + records
    }

    /// Recomputes `deadline` from the state: lingering, offloaded (none), proxying (see
    /// [`Exchange::deadline`]), a stalled write, a request in progress, or idle
    /// keep-alive.
    pub(super) fn refresh_deadline(&mut self, limits: &Limits) {
        self.deadline = match self.phase {
            Phase::Lingering { until } => Some(until),
            Phase::Offloaded(_) => None,
            Phase::Proxying => self
                .exchange
                .as_ref()
                .map(|exchange| exchange.deadline(limits)),
            Phase::Open => Some(if let Some(since) = self.write_waiting_since {
                since + limits.request_deadline
            } else if let Some(started) = self.request_started
                && self.sock.handshaking()
            {
                started + limits.handshake_deadline.min(limits.request_deadline)
            } else if let Some(started) = self.request_started {
                started + limits.request_deadline
            } else {
                self.idle_since + limits.idle_timeout
            }),
        };
    }

    /// Drops `consumed` bytes of input (one request), keeping what follows (pipelining).
    pub(super) fn consume(&mut self, consumed: usize, limits: &Limits, now: Instant) {
        self.input.drain(..consumed.min(self.input.len()));
        self.scanned = 0;
        self.need_total = None;
        if self.input.is_empty() {
            self.request_started = None;
            self.idle_since = now;
            // Give back what a large request made the buffer grow to.
            self.input.shrink_to(limits.initial_buffer_bytes);
        } else {
            self.request_started = Some(now);
        }
    }

    /// Writes as much queued output as the socket takes. `Err` means the connection is
    /// broken.
    pub(super) fn flush(&mut self, now: Instant) -> io::Result<()> {
        while let Some(rest) = self
            .output
            .get(self.written..)
            .filter(|rest| !rest.is_empty())
        {
            match self.sock.write(rest) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.write_waiting_since.get_or_insert(now);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // TLS records still queued (the last of the output, or handshake messages).
        match self.sock.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.write_waiting_since.get_or_insert(now);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        self.written = 0;
        self.write_waiting_since = None;
        if self.output.capacity() > 16 * 1024 {
            self.output = Vec::new();
        } else {
            self.output.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::Version;
    use std::time::Duration;

    fn conn(limits: &Limits, now: Instant) -> Conn {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let peer = client.local_addr().unwrap();
        let sock = Transport::Plain(mio::net::TcpStream::from_std(client));
        Conn::new(sock, peer, 1, limits, now)
    }

    #[test]
    fn idle_goes_before_arriving_and_answers_are_never_cut() {
        let limits = Limits::default();
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        // Accepted, nothing sent yet: its head has been arriving since the accept.
        let mut c = conn(&limits, t0);
        assert_eq!(c.evictable(), Some(Evictable::Arriving(t0)));
        // Between requests: idle since its last answer.
        c.consume(0, &limits, later);
        assert_eq!(c.evictable(), Some(Evictable::Idle(later)));
        // Any idle connection goes before any arriving one, then the oldest first.
        assert!(Evictable::Idle(later) < Evictable::Arriving(t0));
        assert!(Evictable::Arriving(t0) < Evictable::Arriving(later));
        // An answer queued, or a request on the worker: never.
        c.output.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        assert_eq!(c.evictable(), None);
        c.output.clear();
        c.phase = Phase::Offloaded(RequestFacts {
            keep_alive: true,
            head_only: false,
            version: Version::Http11,
        });
        assert_eq!(c.evictable(), None);
        // Lingering after a final answer counts as idle.
        c.phase = Phase::Lingering { until: later };
        assert_eq!(c.evictable(), Some(Evictable::Idle(later)));
    }
}
