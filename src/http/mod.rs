//! Our own single-threaded HTTP/1.1 server on `mio` + `httparse`, built to face a
//! hostile network: every buffer, count and wait is bounded by [`Limits`], request
//! bodies need a `Content-Length` (no chunked, no smuggling shapes), and response
//! headers cannot carry CR/LF.
//!
//! The application implements [`Handler`]; slow work (password hashing) is returned
//! as [`Reply::Offload`] and runs on one worker thread while the loop keeps serving.
//!
//! A request can also be forwarded to an upstream ([`Reply::Forward`]): the server
//! connects to it without blocking, in the same poll as the clients, and streams both
//! bodies through bounded buffers (see `proxy`).
//!
//! Choices a reviewer should know:
//! - Bodies need `Content-Length` unless they are streamed to an upstream
//!   ([`Handler::body_streams`]). `Transfer-Encoding: chunked` is refused with 411
//!   (the client can resend with a length), any other coding with 501, and
//!   `Content-Length` with `Transfer-Encoding`, a repeated `Content-Length` (even with
//!   equal values) or a non-decimal one with 400; these close the connection.
//! - A declared length above the body limit is answered 413 before reading any body;
//!   buffers grow only up to the head limit, then head plus declared body.
//! - HTTP/1.1 needs exactly one `Host`; HTTP/1.0 closes unless it asks for keep-alive.
//! - Timers: one deadline per connection (request, idle, stalled write, or linger after
//!   a closing error), kept in a lazily pruned min-heap; the poll sleeps until the
//!   earliest one or the next one-second tick.
//! - Connections: at most `Limits::max_connections`, lowered so the open-file limit
//!   keeps `limits::DESCRIPTOR_RESERVE` descriptors for the data files, and at most
//!   `Limits::max_connections_per_ip` per IPv4 address or IPv6 /64. A full server (or
//!   an accept out of descriptors) gives up the longest-idle connection, else the one
//!   slowest to send its request, never one with an answer queued or on the worker.
//! - Pipelined requests are answered in order; a connection whose request is on the
//!   worker is not read further until the answer is queued.
//! - After a closing error response the write side is shut and input drained for
//!   `Limits::linger`, so the client reads the response instead of a reset.
//! - Response headers are checked when they are added ([`HeaderError`]): names are
//!   tokens, values hold no CR, LF or other control byte, and the framing headers
//!   (`Date`, `Content-Length`, `Connection`) are the server's alone.

pub mod chunked;
mod conn;
pub mod date;
mod error;
mod handshakes;
mod header;
pub mod limits;
mod pool;
mod proxy;
mod request;
mod response;
mod server;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
pub mod upstream;
mod worker;

pub use error::HttpError;
pub use header::HeaderError;
pub use limits::Limits;
pub use pool::Upstream;
pub use proxy::{Forward, ForwardPolicy, ProxyError};
pub use request::{
    OnRequest, Parsed, Request, RequestBody, RequestFacts, Version, parse_request,
    parse_request_or_stream,
};
pub use response::{Response, reason};
pub use server::{Server, ShutdownHandle};
pub use worker::Job;

/// The application the server calls, on the loop thread.
pub trait Handler {
    /// Result of work offloaded to the worker thread (password hashing).
    type Done: Send + 'static;
    /// Answers a request now, or hands slow work to the worker. Runs on the loop
    /// thread, so it must not block or hash passwords itself.
    fn handle(&mut self, req: &Request<'_>) -> Reply<Self::Done>;
    /// Whether the body of `req` (whose head is complete; its body is not read yet) is
    /// streamed to an upstream rather than buffered. When true and the request has a
    /// body, [`Handler::handle`] is called at once with the head and an empty body, the
    /// body may be chunked or as large as `Limits::max_upload_bytes`, and the answer
    /// should be [`Reply::Forward`]; any other answer is sent and the connection then
    /// closes (its body is never read). The default streams nothing.
    fn body_streams(&self, _req: &Request<'_>) -> bool {
        false
    }
    /// Whether the credential a forwarded exchange runs on ([`Forward::ticket`]) is
    /// still good; asked about once a second, after [`Handler::tick`], for every
    /// exchange under way that has one. `false` closes the exchange's connections.
    fn still_allowed(&mut self, _ticket: &[u8]) -> bool {
        true
    }
    /// Called on the loop thread with the offloaded work's result, for the same request.
    /// Not called if the client has gone away meanwhile (the result is dropped).
    fn complete(&mut self, done: Self::Done) -> Response;
    /// Called about once a second on the loop thread (reload files, prune state).
    fn tick(&mut self, _now: std::time::SystemTime) {}
}

/// A handler's answer to a request.
pub enum Reply<D> {
    /// Send this response.
    Respond(Response),
    /// Run this on the worker thread, then answer with [`Handler::complete`] of its
    /// result. If the worker's queue is full the client gets 503 with `Retry-After: 1`.
    Offload(Job<D>),
    /// Forward the request to an upstream and relay its answer (see [`Forward`]).
    Forward(Forward),
}

impl<D> std::fmt::Debug for Reply<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Respond(response) => f.debug_tuple("Respond").field(response).finish(),
            Reply::Offload(_) => f.write_str("Offload(..)"),
            Reply::Forward(forward) => f.debug_tuple("Forward").field(forward).finish(),
        }
    }
}

impl<D> Reply<D> {
    /// Offloads `job` to the worker thread (boxing it for [`Reply::Offload`]).
    ///
    /// ```
    /// use latchkey::http::Reply;
    /// let reply: Reply<u32> = Reply::offload(|| 6 * 7);
    /// assert!(matches!(reply, Reply::Offload(_)));
    /// ```
    pub fn offload(job: impl FnOnce() -> D + Send + 'static) -> Self {
        Reply::Offload(Box::new(job))
    }
}
