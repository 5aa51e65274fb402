//! Resource limits of the HTTP server: each a named default constant and a field of
//! [`Limits`], so an operator flag can change one without touching the others.

use std::time::Duration;

/// Largest request head (request line plus headers plus the blank line), in bytes.
/// A bigger head is answered with 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most header fields in one request; more is answered with 431.
pub const MAX_HEADERS: usize = 64;
/// Hard ceiling on [`Limits::max_headers`]: the parser's header slots live on the stack.
pub const HEADER_SLOTS: usize = 256;
/// Largest request body, in bytes; a bigger declared `Content-Length` is answered with
/// 413 before any of the body is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Absolute time allowed for one request's head and body together, from its first byte
/// (or from the connection's accept); then 408 and close.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long a keep-alive connection may sit idle between requests before it is closed
/// silently.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Most connections open at once. When full, the oldest idle keep-alive connection is
/// closed to make room, else the new connection is refused.
pub const MAX_CONNECTIONS: usize = 1024;
/// Most connections from one client IP. Generous, because a reverse proxy is one IP and
/// benchmarks open hundreds of connections from 127.0.0.1. A new connection from an
/// address at its cap takes the place of that address's longest-idle one (a keep-alive
/// between requests); if none of them is idle, it is refused.
pub const MAX_CONNECTIONS_PER_IP: usize = 256;
/// Offloaded jobs (password hashing) that may wait for the worker; when full, 503.
pub const OFFLOAD_QUEUE: usize = 16;
/// Response bytes a connection may have queued before the server stops answering its
/// pipelined requests until the client reads.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Initial size of a connection's input buffer; it grows only up to the head and body
/// limits and shrinks back when the connection goes idle.
pub const INITIAL_BUFFER_BYTES: usize = 2 * 1024;
/// After an error response that closes the connection, how long unread input is still
/// drained so that the client sees the response rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);
/// On shutdown, how long in-flight requests may take to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The server's limits; [`Limits::default`] holds the constants of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// See [`MAX_HEAD_BYTES`].
    pub max_head_bytes: usize,
    /// See [`MAX_HEADERS`]; values above [`HEADER_SLOTS`] act as [`HEADER_SLOTS`].
    pub max_headers: usize,
    /// See [`MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// See [`REQUEST_DEADLINE`].
    pub request_deadline: Duration,
    /// See [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_CONNECTIONS_PER_IP`].
    pub max_connections_per_ip: usize,
    /// See [`OFFLOAD_QUEUE`].
    pub offload_queue: usize,
    /// See [`MAX_OUTPUT_BYTES`].
    pub max_output_bytes: usize,
    /// See [`INITIAL_BUFFER_BYTES`].
    pub initial_buffer_bytes: usize,
    /// See [`LINGER`].
    pub linger: Duration,
    /// See [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            max_body_bytes: MAX_BODY_BYTES,
            request_deadline: REQUEST_DEADLINE,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
            offload_queue: OFFLOAD_QUEUE,
            max_output_bytes: MAX_OUTPUT_BYTES,
            initial_buffer_bytes: INITIAL_BUFFER_BYTES,
            linger: LINGER,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}
