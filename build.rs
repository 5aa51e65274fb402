//! Link-time code layout for the `latchkey` binary (issue 6, idle footprint).
//!
//! The kernel maps a file-backed page fault 64 KiB at a time ("fault-around"), so the idle
//! server's resident text is every 64 KiB window that start-up and one login touch. Left to
//! the compiler's order, the ~200 KiB of code they run is spread over the whole ~630 KiB
//! `.text` and all of it ends up resident. `.cargo/link-order.txt` lists those functions
//! (then the request hot path) so the linker packs them at the start of `.text`: about
//! 250 KiB less idle RSS, same instructions. Regenerate it with `bench/link-order.sh`.
//!
//! Only rust-lld reads the list (`--symbol-ordering-file`), and only names that still exist
//! count (a stale or foreign-toolchain list is silently ignored). rust-lld is the default
//! linker of x86_64-unknown-linux-gnu from Rust 1.90; any other target, an older rustc or a
//! linker chosen by the user gets no flag at all, so the build never depends on this.
#![forbid(unsafe_code)]

use std::env;
use std::path::Path;
use std::process::Command;

const ORDER_FILE: &str = ".cargo/link-order.txt";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    println!("cargo:rerun-if-env-changed=LATCHKEY_NO_LINK_ORDER");
    if default_rust_lld() && env::var_os("LATCHKEY_NO_LINK_ORDER").is_none() {
        let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let order = Path::new(&dir).join(ORDER_FILE);
        if order.is_file() {
            println!(
                "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
                order.display()
            );
            println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        }
    }
}

/// Whether the final link will go through rust-lld: the target's default since Rust 1.90,
/// unless a linker (or linker flavour) was configured.
fn default_rust_lld() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    // Set by cargo when `target.<triple>.linker` is configured.
    if env::var_os("RUSTC_LINKER").is_some() {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker") || flags.contains("link-self-contained") {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-V").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&out.stdout);
    let mut parts = version
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    major > 1 || (major == 1 && minor >= 90)
}
