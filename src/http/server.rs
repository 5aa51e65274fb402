//! The event loop: one thread, one `mio::Poll`, non-blocking sockets.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, ErrorKind, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use super::conn::{Conn, Evictable, Phase};
use super::date::imf_fixdate;
use super::error::HttpError;
use super::handshakes::{Handshakes, Refusal};
use super::limits::{
    Limits, address_key, connection_cap, is_local_proxy_address, open_files_limit,
};
use super::pool::{Pool, Upstream, UpstreamSock};
use super::proxy::{self, Exchange, Forward, Outcome, ProxyError};
use super::request::{
    OnRequest, Parsed, Request, RequestBody, RequestFacts, Version, parse_request_or_stream,
};
use super::response::Response;
use super::transport::Transport;
use super::worker::{JobId, Worker};
use super::{Handler, Reply};

const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
/// Listener `i` has token `FIRST_LISTENER - i`.
const FIRST_LISTENER: usize = usize::MAX - 3;
/// Most listeners (the service has two: its port and `--redirect-http`).
const MAX_LISTENERS: usize = 8;
const TICK: Duration = Duration::from_secs(1);
/// Most bytes taken from a socket in one read.
const SCRATCH_BYTES: usize = 16 * 1024;
/// How long the backlog is left alone after an accept failed for lack of descriptors
/// (or kernel memory) with no connection to give up: the edge-triggered listener will
/// not report the waiting connections again, so the loop retries on its own, but not
/// on every wake-up.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// `EMFILE` and `ENFILE` (the process's or the system's descriptor table is full), as
/// numbered on Linux and the BSDs.
const OUT_OF_DESCRIPTORS: [i32; 2] = [24, 23];

/// A bound, not yet running HTTP server.
///
/// ```no_run
/// use latchkey::http::{Handler, Limits, Reply, Request, Response, Server};
/// struct Hello;
/// impl Handler for Hello {
///     type Done = ();
///     fn handle(&mut self, _req: &Request<'_>) -> Reply<()> {
///         Reply::Respond(Response::text(200, "Hello, world!"))
///     }
///     fn complete(&mut self, _done: ()) -> Response {
///         Response::new(500)
///     }
/// }
/// let server = Server::bind("127.0.0.1:8080".parse().unwrap(), Limits::default())?
///     .handle_signals(true)?;
/// server.run(Hello)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    listeners: Vec<Listener>,
    poll: Poll,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    limits: Limits,
    /// SIGTERM and SIGINT, once [`Server::handle_signals`] installed them.
    signals: Option<signal_hook_mio::v1_0::Signals>,
    upstreams: Vec<Upstream>,
}

/// A listening socket, and for a TLS one the configuration its handshakes use.
struct Listener {
    sock: TcpListener,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Listener {
    fn bind(addr: SocketAddr, poll: &Poll, index: usize) -> io::Result<Listener> {
        if index >= MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        let mut sock = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut sock, Token(FIRST_LISTENER - index), Interest::READABLE)?;
        Ok(Listener {
            sock,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// Wraps an accepted socket in this listener's transport.
    fn transport(&self, sock: mio::net::TcpStream) -> Option<Transport> {
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            return Transport::tls(sock, Arc::clone(config)).ok();
        }
        Some(Transport::Plain(sock))
    }
}

/// The poll token of a client connection in `slot`; its upstream's is the next one.
fn client_token(slot: usize) -> Token {
    Token(slot.saturating_mul(2))
}

/// The poll token of the upstream connection of the client connection in `slot`.
fn upstream_token(slot: usize) -> Token {
    Token(slot.saturating_mul(2).saturating_add(1))
}

/// Asks a running [`Server`] to shut down gracefully, from any thread.
#[derive(Clone)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Stops accepting, lets in-flight requests finish (bounded by
    /// `Limits::shutdown_grace`), then makes [`Server::run`] return `Ok`.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // If the loop is already gone there is nobody left to wake.
        let _ = self.waker.wake();
    }
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHandle").finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and prepares the loop.
    pub fn bind(addr: SocketAddr, limits: Limits) -> io::Result<Server> {
        let poll = Poll::new()?;
        let listener = Listener::bind(addr, &poll, 0)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Server {
            listeners: vec![listener],
            poll,
            waker,
            stop: Arc::new(AtomicBool::new(false)),
            limits,
            signals: None,
            upstreams: Vec::new(),
        })
    }

    /// The upstreams a [`Forward`] may name, by their index in `list`. Each proxied
    /// connection then takes two descriptors, so the connection cap is halved.
    pub fn upstreams(mut self, list: Vec<Upstream>) -> Self {
        self.upstreams = list;
        self
    }

    /// Terminates TLS on the address given to [`Server::bind`], with `config`: every
    /// connection there starts with a handshake, bounded per address and in total by
    /// the handshake limits of [`Limits`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        if let Some(first) = self.listeners.first_mut() {
            first.tls = Some(config);
        }
        self
    }

    /// Also listens on `addr` for plain HTTP (requests there are not
    /// [`Request::is_tls`]); returns the address bound.
    pub fn also_listen(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let listener = Listener::bind(addr, &self.poll, self.listeners.len())?;
        let bound = listener.sock.local_addr()?;
        self.listeners.push(listener);
        Ok(bound)
    }

    /// The address actually bound by [`Server::bind`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.listeners.first() {
            Some(listener) => listener.sock.local_addr(),
            None => Err(ErrorKind::NotConnected.into()),
        }
    }

    /// A handle that shuts the running server down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: Arc::clone(&self.stop),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Makes SIGTERM and SIGINT start a graceful shutdown (as
    /// [`ShutdownHandle::shutdown`] does) when `enabled`. The handlers are installed
    /// now, not when [`Server::run`] starts: a signal that arrives in between (right
    /// after a "listening" line a supervisor or test waits for) is kept for the loop
    /// instead of killing the process.
    pub fn handle_signals(mut self, enabled: bool) -> io::Result<Self> {
        if enabled && self.signals.is_none() {
            let mut source = signal_hook_mio::v1_0::Signals::new([
                signal_hook::consts::SIGTERM,
                signal_hook::consts::SIGINT,
            ])?;
            self.poll
                .registry()
                .register(&mut source, SIGNALS, Interest::READABLE)?;
            self.signals = Some(source);
        }
        Ok(self)
    }

    /// Runs the loop until shutdown, answering requests with `handler`.
    pub fn run<H: Handler>(self, handler: H) -> io::Result<()> {
        let Server {
            listeners,
            mut poll,
            waker,
            stop,
            limits,
            signals: mut signal_source,
            upstreams,
        } = self;
        let worker = Worker::spawn(limits.offload_queue, Arc::clone(&waker))?;
        let limits_pool = (limits.upstream_pool, limits.upstream_pool_idle);
        let now = Instant::now();
        // A proxied connection holds the client's socket and the upstream's.
        let per_connection = if upstreams.is_empty() { 1 } else { 2 };
        let max_open = connection_cap(
            limits.max_connections,
            open_files_limit().map(|n| n / per_connection),
        );
        let mut state = Loop {
            listeners,
            handshakes: Handshakes::new(&limits),
            conns: Vec::new(),
            free_slots: Vec::new(),
            open: 0,
            max_open,
            max_per_address: limits.max_connections_per_ip.min(max_open),
            per_address: HashMap::new(),
            timers: BinaryHeap::new(),
            next_generation: 0,
            accept_pending: false,
            accept_resume: now,
            again: Vec::new(),
            ctx: Ctx {
                handler,
                worker,
                now,
                scratch: vec![0; SCRATCH_BYTES],
                draining: false,
                limits,
                registry: poll.registry().try_clone()?,
                pool: Pool::new(upstreams.len(), limits_pool.0, limits_pool.1),
                upstreams,
            },
        };
        let mut events = Events::with_capacity(1024);
        let mut next_tick = now + TICK;
        let mut drain_until: Option<Instant> = None;
        loop {
            let mut wake_at = next_tick;
            if let Some(Reverse((at, _, _))) = state.timers.peek() {
                wake_at = wake_at.min(*at);
            }
            if let Some(until) = drain_until {
                wake_at = wake_at.min(until);
            }
            if state.accept_pending {
                wake_at = wake_at.min(state.accept_resume);
            }
            let timeout = if state.again.is_empty() {
                wake_at.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            if let Err(e) = poll.poll(&mut events, Some(timeout))
                && e.kind() != ErrorKind::Interrupted
            {
                return Err(e);
            }
            state.ctx.now = Instant::now();
            let mut begin_shutdown = false;
            for event in events.iter() {
                match event.token() {
                    Token(token)
                        if token > FIRST_LISTENER - MAX_LISTENERS && token <= FIRST_LISTENER =>
                    {
                        state.accept_all(poll.registry())
                    }
                    WAKER => {
                        if stop.load(Ordering::SeqCst) {
                            // Before collecting results, so that a response finished
                            // together with the shutdown request already says close.
                            begin_shutdown = true;
                            state.ctx.draining = true;
                        }
                        state.collect_results();
                    }
                    SIGNALS => {
                        // Drain every pending signal: the poll is edge-triggered.
                        let received = signal_source.as_mut().map_or(0, |s| s.pending().count());
                        if received > 0 && drain_until.is_some() {
                            // A second SIGTERM/SIGINT while draining: the operator insists.
                            return Ok(());
                        }
                        begin_shutdown |= received > 0;
                    }
                    // Client and upstream events both move the client's connection.
                    Token(token) => state.drive(token / 2),
                }
            }
            // Driven after everything this poll reported, so each ready connection has
            // had its turn first. A slot closed meanwhile (and perhaps reused) is only
            // read until it would block.
            for slot in std::mem::take(&mut state.again) {
                state.drive(slot);
            }
            let now = state.ctx.now;
            if begin_shutdown && drain_until.is_none() {
                drain_until = Some(now + state.ctx.limits.shutdown_grace);
                state.begin_drain(poll.registry());
            }
            state.expire_timers();
            if now >= next_tick {
                next_tick = now + TICK;
                state.ctx.handler.tick(SystemTime::now());
                state.ctx.pool.prune(now);
                state.handshakes.prune(now);
                state.check_tickets();
                state.ctx.now = Instant::now();
            }
            if state.accept_pending && state.ctx.now >= state.accept_resume {
                state.accept_all(poll.registry());
            }
            if let Some(until) = drain_until {
                state.close_idle();
                if state.open == 0 || now >= until {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(feature = "tls")]
fn listener_is_tls(listener: &Listener) -> bool {
    listener.tls.is_some()
}

#[cfg(not(feature = "tls"))]
fn listener_is_tls(_listener: &Listener) -> bool {
    false
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// What the per-connection code needs besides the connection itself.
struct Ctx<H: Handler> {
    handler: H,
    worker: Worker<H::Done>,
    /// The clock of this wake-up of the loop, for deadlines.
    now: Instant,
    /// Where input is read before it is appended to a connection's buffer, or thrown
    /// away while lingering.
    scratch: Vec<u8>,
    /// Shutting down: every response closes its connection.
    draining: bool,
    limits: Limits,
    /// Where upstream sockets are registered.
    registry: mio::Registry,
    /// The upstreams a `Forward` names by index.
    upstreams: Vec<Upstream>,
    /// Idle keep-alive connections to them.
    pool: Pool,
}

struct Loop<H: Handler> {
    /// Emptied when draining.
    listeners: Vec<Listener>,
    /// TLS handshakes in progress and each address's handshake schedule.
    handshakes: Handshakes,
    conns: Vec<Option<Conn>>,
    free_slots: Vec<usize>,
    open: usize,
    /// The connection cap in force (`limits::connection_cap`).
    max_open: usize,
    /// The per-address cap in force, never above `max_open`.
    max_per_address: usize,
    /// Open connections per `limits::address_key`.
    per_address: HashMap<IpAddr, usize>,
    /// Min-heap of (deadline, slot, generation); stale entries are skipped when popped.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    next_generation: u64,
    /// Connections may be waiting in the backlog that no event will report (an accept
    /// failed, e.g. out of descriptors): accept again at `accept_resume`.
    accept_pending: bool,
    accept_resume: Instant,
    /// Connections whose turn ended with their read budget spent (`Turn::Again`).
    again: Vec<usize>,
    ctx: Ctx<H>,
}

/// Bytes one connection may read in one turn of the loop before the other ready
/// connections get theirs: a client that keeps its socket full (pipelining) must not
/// hold the loop, and with edge-triggered polling its socket is not reported again, so
/// the loop comes back to it by itself (`Loop::again`).
const READ_BUDGET: usize = 64 * 1024;

/// How one turn of driving a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// Wait for the socket's next event or a timer.
    Wait,
    /// The read budget is spent with input perhaps still waiting: come back after the
    /// others.
    Again,
    /// Close the connection.
    Close,
}

/// What one step of request processing did.
enum Step {
    /// A request was answered (or failed); try the next one.
    Handled,
    /// More input is needed.
    NeedInput,
    /// Stop processing: a job is on the worker.
    Paused,
}

impl<H: Handler> Loop<H> {
    fn accept_all(&mut self, registry: &mio::Registry) {
        if self.ctx.now < self.accept_resume {
            self.accept_pending = true;
            return;
        }
        self.accept_pending = false;
        for index in 0..self.listeners.len() {
            if !self.accept_from(index, registry) {
                return;
            }
        }
    }

    /// Accepts what listener `index` has waiting; `false` if accepting is to pause
    /// (`accept_pending`).
    fn accept_from(&mut self, index: usize, registry: &mio::Registry) -> bool {
        // A connection was given up for a descriptor since the last accept.
        let mut gave_one_up = false;
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return true;
            };
            let (sock, peer) = match listener.sock.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    // Out of descriptors: give up one connection, as a full server
                    // would, and try again. If that did not help (the limit was lowered
                    // below what is open), there is nothing to give up, or it is another
                    // error, the connections wait in the backlog until `accept_resume`.
                    let out_of_descriptors = e
                        .raw_os_error()
                        .is_some_and(|code| OUT_OF_DESCRIPTORS.contains(&code));
                    if out_of_descriptors && !gave_one_up && self.evict(None, true) {
                        gave_one_up = true;
                        continue;
                    }
                    self.accept_pending = true;
                    self.accept_resume = self.ctx.now + ACCEPT_BACKOFF;
                    return false;
                }
            };
            gave_one_up = false;
            let key = address_key(peer.ip());
            let capped = !(self.ctx.limits.shared_loopback && is_local_proxy_address(peer.ip()));
            let from_address = self.per_address.get(&key).copied().unwrap_or(0);
            // A handshake refused is refused before anyone is evicted for it: else a
            // full server would close another client's connection for a newcomer it
            // then turns away.
            let tls = self.listeners.get(index).is_some_and(listener_is_tls);
            if tls && !self.admit_handshake(key, capped) {
                continue;
            }
            // At its cap an address gives up its own longest-idle connection, as the
            // server does when full: a browser or proxy that opens new connections
            // while old keep-alives sit idle is served, and one that keeps all of its
            // connections busy is refused (dropping the socket refuses it).
            // A full server also gives up the connection slowest to send its request,
            // so half-sent heads cannot hold every slot until their deadline.
            let room =
                !(capped && from_address >= self.max_per_address) || self.evict(Some(key), false);
            if !room || (self.open >= self.max_open && !self.evict(None, true)) {
                if tls {
                    self.handshakes.finished(key);
                }
                continue;
            }
            let Some(transport) = self.listeners.get(index).and_then(|l| l.transport(sock)) else {
                if tls {
                    self.handshakes.finished(key);
                }
                continue;
            };
            let mut sock = transport;
            let _ = sock.tcp().set_nodelay(true);
            let slot = match self.free_slots.pop() {
                Some(slot) => slot,
                None => {
                    self.conns.push(None);
                    self.conns.len() - 1
                }
            };
            if registry
                .register(
                    sock.tcp(),
                    client_token(slot),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                self.free_slots.push(slot);
                if tls {
                    self.handshakes.finished(key);
                }
                continue;
            }
            self.next_generation += 1;
            let mut conn = Conn::new(
                sock,
                peer,
                self.next_generation,
                &self.ctx.limits,
                self.ctx.now,
            );
            conn.handshake_counted = tls;
            if let Some(entry) = self.conns.get_mut(slot) {
                *entry = Some(conn);
            }
            self.open += 1;
            *self.per_address.entry(key).or_insert(0) += 1;
            self.schedule(slot);
        }
    }

    /// Counts a new TLS connection from `key` among the handshakes in progress, or says
    /// it is to be refused (see `handshakes`). When the server is full, the address with
    /// the most handshakes in progress gives up its oldest, if it has more than `key`.
    fn admit_handshake(&mut self, key: IpAddr, capped: bool) -> bool {
        match self.handshakes.admit(key, capped, self.ctx.now) {
            Ok(()) => true,
            Err(Refusal::AddressBusy | Refusal::TooFast) => false,
            Err(Refusal::Full) => {
                let Some(heaviest) = self.handshakes.heaviest_above(key) else {
                    return false;
                };
                let oldest = self
                    .conns
                    .iter()
                    .enumerate()
                    .filter_map(|(slot, conn)| conn.as_ref().map(|conn| (slot, conn)))
                    .filter(|(_, conn)| {
                        conn.handshake_counted && address_key(conn.peer.ip()) == heaviest
                    })
                    .min_by_key(|(_, conn)| conn.request_started)
                    .map(|(slot, _)| slot);
                match oldest {
                    Some(slot) => {
                        self.close(slot);
                        self.handshakes.admit(key, capped, self.ctx.now).is_ok()
                    }
                    None => false,
                }
            }
        }
    }

    /// Closes one connection to make room for a new one: the one that has sat idle
    /// (or lingered) the longest or, if `arriving_too`, with none idle, the one whose
    /// request has been arriving the longest. Only among those of address key `from`
    /// when given. `false` if there was none (see [`Conn::evictable`]).
    fn evict(&mut self, from: Option<IpAddr>, arriving_too: bool) -> bool {
        let victim = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(slot, conn)| conn.as_ref().map(|conn| (slot, conn)))
            .filter(|(_, conn)| from.is_none_or(|key| address_key(conn.peer.ip()) == key))
            .filter_map(|(slot, conn)| conn.evictable().map(|rank| (slot, rank)))
            .filter(|(_, rank)| arriving_too || matches!(rank, Evictable::Idle(_)))
            .min_by_key(|(_, rank)| *rank)
            .map(|(slot, _)| slot);
        match victim {
            Some(slot) => {
                self.close(slot);
                true
            }
            None => false,
        }
    }

    fn close(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.open -= 1;
        self.free_slots.push(slot);
        let key = address_key(conn.peer.ip());
        if conn.handshake_counted {
            self.handshakes.finished(key);
        }
        if let Some(count) = self.per_address.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                self.per_address.remove(&key);
            }
        }
        // Dropping the socket closes it and removes it from the poll.
        drop(conn);
    }

    /// Puts the connection's deadline in the timer heap unless an earlier entry for it
    /// is already there (that entry re-checks and re-arms when it fires).
    fn schedule(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if let Some(deadline) = conn.deadline
            && conn.timer_at.is_none_or(|at| deadline < at)
        {
            conn.timer_at = Some(deadline);
            self.timers.push(Reverse((deadline, slot, conn.generation)));
        }
    }

    fn expire_timers(&mut self) {
        let now = self.ctx.now;
        while let Some(Reverse((at, slot, generation))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if conn.generation != generation {
                continue;
            }
            if conn.timer_at == Some(at) {
                conn.timer_at = None;
            }
            match conn.deadline {
                Some(deadline) if deadline <= now => {}
                _ => {
                    self.schedule(slot);
                    continue;
                }
            }
            // Expired while proxying: 504 if no part of the response has gone out yet.
            if conn.phase == Phase::Proxying {
                if conn.exchange.as_ref().is_some_and(|x| !x.answered) {
                    fail_exchange(conn, &ProxyError::Timeout, &self.ctx);
                    self.drive(slot);
                } else {
                    self.close(slot);
                }
                continue;
            }
            // Expired: a request in progress gets a 408; anything else just closes.
            let answer_timeout = conn.phase == Phase::Open
                && conn.write_waiting_since.is_none()
                && conn.request_started.is_some()
                && !conn.input.is_empty();
            if answer_timeout {
                conn.request_started = None;
                queue_error(conn, &HttpError::Timeout);
                self.drive(slot);
            } else {
                self.close(slot);
            }
        }
    }

    fn collect_results(&mut self) {
        while let Some((JobId { slot, generation }, outcome)) = self.ctx.worker.try_result() {
            let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            let Phase::Offloaded(facts) = conn.phase else {
                continue;
            };
            if conn.generation != generation {
                continue;
            }
            let response = match outcome {
                Some(done) => self.ctx.handler.complete(done),
                None => Response::text(500, "500 Internal Server Error\n\njob failed\n"),
            };
            conn.phase = Phase::Open;
            queue_response(conn, &response, facts, &self.ctx);
            self.drive(slot);
        }
    }

    /// Closes every exchange whose credential the handler no longer allows (a tunnel
    /// after its session was signed out, revoked or expired).
    fn check_tickets(&mut self) {
        for slot in 0..self.conns.len() {
            let refused = self
                .conns
                .get(slot)
                .and_then(Option::as_ref)
                .and_then(|conn| conn.exchange.as_ref())
                .and_then(|exchange| exchange.ticket.as_deref())
                .is_some_and(|ticket| !self.ctx.handler.still_allowed(ticket));
            if refused {
                self.close(slot);
            }
        }
    }

    /// Starts a graceful shutdown: stop accepting; idle connections close now, the rest
    /// after their current response.
    fn begin_drain(&mut self, registry: &mio::Registry) {
        for mut listener in self.listeners.drain(..) {
            let _ = registry.deregister(&mut listener.sock);
        }
        self.ctx.draining = true;
    }

    fn close_idle(&mut self) {
        for slot in 0..self.conns.len() {
            let idle = self
                .conns
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|conn| {
                    conn.is_idle()
                        || matches!(conn.phase, Phase::Lingering { .. })
                        || (conn.phase == Phase::Open
                            && conn.input.is_empty()
                            && conn.output.is_empty())
                });
            if idle {
                self.close(slot);
            }
        }
    }

    /// Moves a connection as far as it goes: answer buffered requests, write, read.
    fn drive(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let turn = drive(conn, slot, &mut self.ctx);
        if turn == Turn::Close {
            self.close(slot);
            return;
        }
        if conn.handshake_counted && !conn.sock.handshaking() {
            // Handshake done: the connection now waits for its first request like a
            // keep-alive between requests.
            conn.handshake_counted = false;
            if conn.input.is_empty() && conn.phase == Phase::Open {
                conn.request_started = None;
                conn.idle_since = self.ctx.now;
            }
            self.handshakes.finished(address_key(conn.peer.ip()));
        }
        conn.refresh_deadline(&self.ctx.limits);
        self.schedule(slot);
        if turn == Turn::Again && !self.again.contains(&slot) {
            self.again.push(slot);
        }
    }
}

/// Drives one connection: answers what it has buffered, writes, reads, until the
/// socket would block or its read budget for this turn is spent.
fn drive<H: Handler>(conn: &mut Conn, slot: usize, ctx: &mut Ctx<H>) -> Turn {
    let mut budget = READ_BUDGET;
    loop {
        if let Phase::Lingering { .. } = conn.phase {
            return linger(conn, &mut ctx.scratch, &mut budget);
        }
        if conn.phase == Phase::Proxying {
            let outcome = proxy::drive(
                conn,
                &mut ctx.scratch,
                &ctx.limits,
                ctx.now,
                ctx.draining,
                &mut budget,
            );
            match outcome {
                Outcome::Wait => return Turn::Wait,
                Outcome::Again => return Turn::Again,
                Outcome::Close => return Turn::Close,
                Outcome::Cut => {
                    conn.phase = Phase::Open;
                    conn.close_after_write = true;
                }
                Outcome::Retry => retry_exchange(conn, slot, ctx),
                Outcome::Finished { close, keep } => {
                    if let Some((upstream, mut sock)) = keep
                        && sock.deregister(&ctx.registry).is_ok()
                    {
                        ctx.pool.put(upstream, sock, ctx.now);
                    }
                    conn.phase = Phase::Open;
                    conn.close_after_write |= close;
                    conn.idle_since = ctx.now;
                    conn.request_started = (!conn.input.is_empty()).then_some(ctx.now);
                    conn.input.shrink_to(ctx.limits.initial_buffer_bytes);
                }
                Outcome::Failed(error) => fail_exchange(conn, &error, ctx),
                Outcome::BadBody(error) => {
                    conn.exchange = None;
                    conn.phase = Phase::Open;
                    queue_error(conn, &error);
                }
            }
            continue;
        }
        // Stopped answering because too much output is queued (pipelining client
        // that does not read): answer the rest once it has drained.
        let mut held_by_output = false;
        while conn.phase == Phase::Open && !conn.close_after_write {
            if conn.pending_output() >= ctx.limits.max_output_bytes {
                held_by_output = true;
                break;
            }
            match process_one(conn, slot, ctx) {
                Step::Handled => {}
                Step::NeedInput | Step::Paused => break,
            }
        }
        if conn.flush(ctx.now).is_err() {
            return Turn::Close;
        }
        if conn.pending_output() > 0 {
            return Turn::Wait; // wait for WRITABLE
        }
        if conn.close_after_write {
            conn.sock.shutdown_write();
            conn.phase = Phase::Lingering {
                until: ctx.now + ctx.limits.linger,
            };
            continue;
        }
        if held_by_output || conn.phase == Phase::Proxying {
            continue;
        }
        if conn.phase != Phase::Open {
            return Turn::Wait;
        }
        if budget == 0 {
            return Turn::Again;
        }
        // The buffer holds at most one partial request (complete ones are answered
        // before reading), so it never needs more than that request's head limit or,
        // once the head is parsed, its head plus declared body.
        let cap = conn
            .need_total
            .unwrap_or(ctx.limits.max_head_bytes)
            .min(limits_total(&ctx.limits));
        let room = cap.saturating_sub(conn.input.len());
        if room == 0 {
            // Cannot happen within the limits (a full buffer always parses to an
            // answer); refuse rather than spin.
            queue_error(conn, &HttpError::HeadTooLarge);
            continue;
        }
        let Some(space) = ctx.scratch.get_mut(..room.min(SCRATCH_BYTES)) else {
            return Turn::Close;
        };
        // Edge-triggered polling: read until the socket says WouldBlock.
        match conn.sock.read(space) {
            Ok(0) => {
                // The peer will send no more; answer nothing further.
                return Turn::Close;
            }
            Ok(n) => {
                budget = budget.saturating_sub(n);
                if conn.input.is_empty() && conn.request_started.is_none() {
                    conn.request_started = Some(ctx.now);
                }
                conn.input
                    .extend_from_slice(space.get(..n).unwrap_or_default());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Turn::Wait,
            // TLS records without plaintext (see `transport`) cost the turn's budget.
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                budget = budget.saturating_sub(SCRATCH_BYTES);
            }
            Err(_) => return Turn::Close,
        }
    }
}

fn limits_total(limits: &Limits) -> usize {
    limits.max_head_bytes.saturating_add(limits.max_body_bytes)
}

/// Reads and discards input until EOF, an error, WouldBlock, or the turn's budget
/// is spent.
fn linger(conn: &mut Conn, scratch: &mut [u8], budget: &mut usize) -> Turn {
    loop {
        if *budget == 0 {
            return Turn::Again;
        }
        match conn.sock.read(scratch) {
            Ok(0) => return Turn::Close,
            Ok(n) => *budget = budget.saturating_sub(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Turn::Wait,
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                *budget = budget.saturating_sub(SCRATCH_BYTES);
            }
            Err(_) => return Turn::Close,
        }
    }
}

/// Whether bytes `from..` of `input` may hold the blank line ending a head (`\n\n` or
/// `\n\r\n`, starting up to three bytes earlier so a split terminator is seen).
fn may_hold_head_end(input: &[u8], from: usize) -> bool {
    let mut rest = input.get(from.saturating_sub(3)..).unwrap_or_default();
    while let Some(at) = rest.iter().position(|&b| b == b'\n') {
        rest = rest.get(at + 1..).unwrap_or_default();
        if rest.first() == Some(&b'\n') || rest.starts_with(b"\r\n") {
            return true;
        }
    }
    false
}

fn process_one<H: Handler>(conn: &mut Conn, slot: usize, ctx: &mut Ctx<H>) -> Step {
    if conn.input.is_empty() {
        return Step::NeedInput;
    }
    let limits = &ctx.limits;
    let buffered = conn.input.as_slice();
    match conn.need_total {
        Some(total) if buffered.len() < total => return Step::NeedInput,
        Some(_) => {}
        None => {
            // Re-parse only when a head end may have arrived, so a head trickling in
            // byte by byte costs linear, not quadratic, work. The first attempt on a
            // request (`scanned == 0`) just parses.
            if conn.scanned > 0
                && buffered.len() < limits.max_head_bytes
                && !may_hold_head_end(buffered, conn.scanned)
            {
                conn.scanned = buffered.len();
                return Step::NeedInput;
            }
        }
    }
    let parsed = parse_request_or_stream(
        buffered,
        conn.peer,
        limits,
        Dispatch(&mut ctx.handler, conn.sock.is_tls()),
    );
    match parsed {
        Err(error) => {
            queue_error(conn, &error);
            Step::Handled
        }
        Ok(Parsed::NeedMore) => {
            conn.scanned = conn.input.len();
            Step::NeedInput
        }
        Ok(Parsed::NeedBody {
            total_len,
            expect_continue,
        }) => {
            if conn.need_total.is_none() && expect_continue {
                conn.output
                    .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            conn.need_total = Some(total_len);
            Step::NeedInput
        }
        Ok(Parsed::Streaming {
            head_len,
            facts,
            body,
            expect_continue,
            value,
        }) => {
            conn.consume(head_len, limits, ctx.now);
            match value {
                Reply::Forward(forward) => {
                    let waiting = match body {
                        RequestBody::Length(len) => (conn.input.len() as u64) < len,
                        RequestBody::Chunked => true,
                    };
                    if expect_continue && waiting {
                        conn.output
                            .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    start_exchange(conn, slot, forward, Some(body), facts, ctx)
                }
                // Answered without the body, which is never read: close after it.
                Reply::Respond(response) => {
                    queue_response(conn, &response, facts, ctx);
                    conn.close_after_write = true;
                    Step::Handled
                }
                Reply::Offload(_) => {
                    queue_error(conn, &HttpError::Malformed);
                    Step::Handled
                }
            }
        }
        Ok(Parsed::Done {
            consumed,
            body_len,
            facts,
            value,
        }) => {
            conn.consume(consumed, limits, ctx.now);
            match value {
                Reply::Forward(forward) if body_len == 0 => {
                    start_exchange(conn, slot, forward, None, facts, ctx)
                }
                // A buffered body is not forwarded: `body_streams` should have said so.
                Reply::Forward(_) => {
                    let response =
                        Response::text(500, "500 Internal Server Error\n\nbody not streamed\n");
                    queue_response(conn, &response, facts, ctx);
                    Step::Handled
                }
                Reply::Respond(response) => {
                    queue_response(conn, &response, facts, ctx);
                    Step::Handled
                }
                Reply::Offload(job) => {
                    let id = JobId {
                        slot,
                        generation: conn.generation,
                    };
                    match ctx.worker.submit(id, job) {
                        Ok(()) => {
                            conn.phase = Phase::Offloaded(facts);
                            Step::Paused
                        }
                        Err(_job) => {
                            let busy = Response::from_error(&HttpError::Overloaded);
                            queue_response(conn, &busy, facts, ctx);
                            Step::Handled
                        }
                    }
                }
            }
        }
    }
}

/// The server's side of [`parse_request_or_stream`]: the handler says which bodies
/// stream and answers requests.
/// Hands requests to the handler, marked as TLS ones when `1`.
struct Dispatch<'h, H>(&'h mut H, bool);

impl<H: Handler> OnRequest for Dispatch<'_, H> {
    type Value = Reply<H::Done>;
    fn streams(&mut self, req: &Request<'_>) -> bool {
        if self.1 {
            self.0.body_streams(&req.over_tls())
        } else {
            self.0.body_streams(req)
        }
    }
    fn take(self, req: &Request<'_>) -> Reply<H::Done> {
        if self.1 {
            self.0.handle(&req.over_tls())
        } else {
            self.0.handle(req)
        }
    }
}

/// Starts forwarding a request whose head is consumed from `conn.input` (its body,
/// if any, follows there): on an idle pooled connection when the request has no body
/// and an idempotent method, else on a new one, registered in the poll.
fn start_exchange<H: Handler>(
    conn: &mut Conn,
    slot: usize,
    forward: Forward,
    body: Option<RequestBody>,
    facts: RequestFacts,
    ctx: &mut Ctx<H>,
) -> Step {
    let index = forward.upstream();
    let Some(upstream) = ctx.upstreams.get(index) else {
        let response = Response::text(500, "500 Internal Server Error\n\nno such upstream\n");
        queue_response(conn, &response, facts, ctx);
        conn.close_after_write = true;
        return Step::Handled;
    };
    let pooled = if body.is_none() && forward.may_use_pool() {
        ctx.pool.take(index, ctx.now)
    } else {
        None
    };
    let reused = pooled.is_some();
    let sock = match pooled.map_or_else(|| UpstreamSock::connect(upstream), Ok) {
        Ok(sock) => sock,
        Err(e) => {
            let response = forward.into_policy().failed(&ProxyError::Connect(e));
            queue_response(conn, &response, facts, ctx);
            conn.close_after_write = true;
            return Step::Handled;
        }
    };
    let max_upload = ctx.limits.max_upload_bytes as u64;
    let mut exchange = Exchange::start(forward, sock, reused, body, facts, max_upload, ctx.now);
    let registered = exchange
        .socket()
        .register(&ctx.registry, upstream_token(slot));
    conn.exchange = Some(Box::new(exchange));
    conn.phase = Phase::Proxying;
    if let Err(e) = registered {
        fail_exchange(conn, &ProxyError::Connect(e), ctx);
        return Step::Handled;
    }
    Step::Paused
}

/// Sends the exchange's request again on a new connection: its pooled one was closed
/// by the upstream before any of the answer arrived.
fn retry_exchange<H: Handler>(conn: &mut Conn, slot: usize, ctx: &mut Ctx<H>) {
    let Some(exchange) = conn.exchange.as_mut() else {
        return;
    };
    let Some(upstream) = ctx.upstreams.get(exchange.upstream()) else {
        fail_exchange(conn, &ProxyError::Closed, ctx);
        return;
    };
    let started = UpstreamSock::connect(upstream).and_then(|sock| {
        if !exchange.restart(sock) {
            return Err(ErrorKind::ConnectionAborted.into());
        }
        exchange
            .socket()
            .register(&ctx.registry, upstream_token(slot))
    });
    if let Err(e) = started {
        fail_exchange(conn, &ProxyError::Connect(e), ctx);
    }
}

/// Ends the exchange of `conn` with the policy's answer to `error`, then closes.
fn fail_exchange<H: Handler>(conn: &mut Conn, error: &ProxyError, ctx: &Ctx<H>) {
    conn.phase = Phase::Open;
    let Some(mut exchange) = conn.exchange.take() else {
        queue_error(conn, &HttpError::Malformed);
        return;
    };
    let response = exchange.policy.failed(error);
    queue_response(conn, &response, exchange.facts, ctx);
    conn.close_after_write = true;
}

fn queue_response<H: Handler>(
    conn: &mut Conn,
    response: &Response,
    facts: RequestFacts,
    ctx: &Ctx<H>,
) {
    let close = !facts.keep_alive || ctx.draining;
    // HTTP/1.1 stays open unless told otherwise; HTTP/1.0 only when it asked and is
    // told so (RFC 9112 §9.3).
    let connection = if close {
        Some("close")
    } else if facts.version == Version::Http10 {
        Some("keep-alive")
    } else {
        None
    };
    response.write_to(&mut conn.output, facts.head_only, connection, &date_now());
    conn.close_after_write |= close;
}

fn queue_error(conn: &mut Conn, error: &HttpError) {
    Response::from_error(error).write_to(&mut conn.output, false, Some("close"), &date_now());
    conn.close_after_write = true;
}

/// The `Date` header value of a response sent now.
fn date_now() -> String {
    imf_fixdate(unix_secs(SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::may_hold_head_end;

    #[test]
    fn head_end_is_found_even_when_split_across_reads() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        // Every point a previous read may have stopped at still sees the terminator.
        for from in 0..=head.len() {
            assert!(may_hold_head_end(head, from), "from {from}");
        }
        assert!(may_hold_head_end(b"GET / HTTP/1.0\n\n", 15));
        assert!(!may_hold_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 0));
        assert!(!may_hold_head_end(b"GET / HTTP/1.1\r\nX: \n\r", 0));
    }
}
