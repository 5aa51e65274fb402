//! latchkey: a tiny single-binary HTTP login and token service that guards a
//! device's admin page.
//!
//! Data flows `http` (event loop, limits, request, response) → `web` (routing,
//! authentication, handlers) → response. Imports point one way: the binary →
//! [`cli`] → [`web`] → {[`http`], the security kernel ([`jwt`], [`cookie`],
//! [`password`], [`keys`]), the [`store`] (the data directory's files)}.
#![forbid(unsafe_code)]

mod b64;
pub mod cli;
pub mod cookie;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod http;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod random;
pub mod ratelimit;
pub mod store;
pub mod web;
