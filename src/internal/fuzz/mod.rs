//! Invariant checks shared by the fuzz targets under `fuzz/` and by the seed replay
//! test (`tests/it/fuzz_seeds.rs`), so `cargo test` checks every committed seed and saved
//! crash input exactly as the fuzzer would. Each `check` panics on a broken invariant.

#[cfg(feature = "tls")]
pub mod certificate_der;
pub mod chunked_body;
pub mod cookie_header;
pub mod cookie_value;
pub mod form_decode;
pub mod http_head;
#[cfg(feature = "tls")]
pub mod https_redirect;
pub mod jwt_verify;
pub mod password_hash;
pub mod proxy_path;
pub mod redirect;
pub mod upstream_response;
pub mod users_file;

/// One fuzz target's invariant check.
pub type Check = fn(&[u8]);

/// Every fuzz target by name, with its check; the seed replay test walks this table.
pub const TARGETS: &[(&str, Check)] = &[
    ("jwt_verify", jwt_verify::check),
    ("cookie_value", cookie_value::check),
    ("cookie_header", cookie_header::check),
    ("password_hash", password_hash::check),
    ("users_file", users_file::check),
    ("http_head", http_head::check),
    ("form_decode", form_decode::check),
    ("redirect", redirect::check),
    ("upstream_response", upstream_response::check),
    ("chunked_body", chunked_body::check),
    ("proxy_path", proxy_path::check),
    #[cfg(feature = "tls")]
    ("https_redirect", https_redirect::check),
    #[cfg(feature = "tls")]
    ("certificate_der", certificate_der::check),
];
