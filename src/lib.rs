//! latchkey: a tiny single-binary HTTP login and token service that guards a
//! device's admin page.
//!
//! Imports point one way: the binary → `cli` → `web` → {[`http`], the security
//! kernel ([`jwt`], [`cookie`], [`password`], [`keys`]), `store` (the data
//! directory's files)}. Public are only what the binary ([`main`]), the example
//! (`http`) and the benches (the kernel) use; the fuzz targets and integration tests
//! reach the rest through the hidden `internal` module.

mod b64;
mod cli;
pub mod cookie;
pub mod http;
#[doc(hidden)]
pub mod internal;
pub mod jwt;
pub mod keys;
pub mod password;
mod random;
mod ratelimit;
mod store;
mod web;

pub use cli::main;
