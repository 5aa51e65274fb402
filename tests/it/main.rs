//! The integration tests: one binary, one module per behaviour a maintainer looks for.
//! Most run the real `latchkey` binary on a free loopback port with a temporary data
//! dir (see `tests/common`); the deployment tests put a real nginx, Caddy or Chromium in
//! front of it and print `SKIP:` where those are not installed (and fail where `CI` is set).
//!
//! Run one behaviour with a name filter: `cargo test --test it login::`.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod cli;
mod cookies;
mod csrf;
mod deployment;
mod first_run;
mod forward_auth;
mod fuzz_seeds;
mod http;
mod login;
mod pages;
mod prefix;
mod proxy;
mod proxy_attacks;
mod redirect_payloads;
mod review_attacks;
mod sessions;
mod static_files;
mod store_faults;
mod tokens;
// HTTPS needs the binary built with TLS (the default feature).
#[cfg(feature = "tls")]
mod tls;
