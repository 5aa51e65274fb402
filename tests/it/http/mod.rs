//! HTTP/1.1 under hostile clients: the limits (against the library's server and the
//! real binary), request-smuggling shapes, and pipelined answers in order.

mod connections;
mod limits;
mod pipelining;
mod service;
mod smuggling;
mod tls_admission;
