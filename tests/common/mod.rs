//! The test harness, one for every integration test: a launcher for the real
//! `latchkey` binary ([`Server`], [`cli`]), one HTTP/1.1 client ([`request`], [`Conn`]
//! for pipelined responses, [`Client`] with a cookie jar; each over TLS too, [`Tls`]),
//! one form scraper ([`forms`], [`hidden_input`], [`browser_login`]), and what the
//! deployment tests put around latchkey (an echo upstream that also speaks WebSocket, the
//! walk through a proxy, a real browser, and the replay of `docs/DEPLOY.md` in a scratch
//! root).
//!
//! Each test binary that includes this module uses only part of it.
#![allow(dead_code, unused_imports)]

mod browser;
mod client;
mod forms;
mod process;
mod proxy;
mod recipe;
mod server;
mod tls;
mod websocket;

pub(crate) use browser::*;
pub(crate) use client::*;
pub(crate) use forms::*;
pub(crate) use process::*;
pub(crate) use proxy::*;
pub(crate) use recipe::*;
pub(crate) use server::*;
pub(crate) use tls::*;
pub(crate) use websocket::*;

/// The name the older test files use for [`Response`].
pub(crate) type Resp = Response;

// Kept for tests/hot_path_*.rs, which compare the byte-level cookie walk with it; it
// goes when they do.

/// What `cookie::header::get_unique_in` answered before it walked the line on bytes
/// (main at 7c46436), the model the hot-path tests compare the byte walk with: split at `;`,
/// trim blanks, split at the first `=`, compare the trimmed name, unquote, check.
pub(crate) fn old_cookie_walk<'a>(
    lines: &[&'a str],
    name: &str,
) -> Result<Option<&'a str>, latchkey::cookie::CookieError> {
    let octet = |b: u8| (0x21..=0x7E).contains(&b) && !b"\",;\\".contains(&b);
    let mut found = None;
    for line in lines {
        for segment in line.split(';') {
            let segment = segment.trim_matches([' ', '\t']);
            let Some((raw_name, raw_value)) = segment.split_once('=') else {
                continue;
            };
            if raw_name.trim_end_matches([' ', '\t']) != name {
                continue;
            }
            if raw_name.len() != name.len() {
                return Err(latchkey::cookie::CookieError::MalformedPair);
            }
            let value = raw_value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(raw_value);
            if !value.bytes().all(octet) {
                return Err(latchkey::cookie::CookieError::MalformedPair);
            }
            if found.is_some() {
                return Err(latchkey::cookie::CookieError::DuplicateCookie);
            }
            found = Some(value);
        }
    }
    Ok(found)
}
