//! HTTP/1.1 under hostile clients: the limits (against the library's server and the
//! real binary), request-smuggling shapes, and pipelined answers in order.

mod connections;
mod limits;
mod pipelining;
mod service;
mod smuggling;
// `serve --tls` exists only with the `tls` feature.
#[cfg(feature = "tls")]
mod tls_admission;
