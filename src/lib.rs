//! latchkey: a tiny single-binary HTTP login and token service that guards a
//! device's admin page.
//!
//! Data flows `http` (event loop, limits, request, response) → `web` (routing,
//! authentication, handlers) → response. Underneath sit the security kernel:
//! [`jwt`], [`cookie`], [`password`], [`keys`], [`users`], and the [`cli`] over them.
#![forbid(unsafe_code)]

pub mod atomic_file;
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
pub mod revocation;
pub mod users;
pub mod web;
