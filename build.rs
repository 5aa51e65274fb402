//! Link-time code layout for the `latchkey` binary (issue 6, idle footprint).
//!
//! The kernel maps a file-backed page fault 64 KiB at a time ("fault-around"), so the idle
//! server's resident text is every 64 KiB window that start-up and one login touch. Left to
//! the compiler's order, the ~200 KiB of code they run is spread over the whole ~630 KiB
//! `.text` and all of it ends up resident. `.cargo/link-order.txt` lists those functions
//! (then the request hot path) so the linker packs them at the start of `.text`: about
//! 250 KiB less idle RSS, same instructions. Regenerate it with `bench/link-order.sh`.
//!
//! `.init` sits at the very end of `.text`, so the call glibc makes to it at start faulted
//! in one more window of cold code. Ours is crti/crtn's `_init`, which only calls
//! `__gmon_start__` (gprof) when linked; nothing else is put in `.init` any more
//! (constructors use `.init_array`), so the binary gets no DT_INIT at all: `-init` names
//! a symbol that does not exist, and lld then leaves the entry out.
//!
//! On glibc >= 2.36 (the host's, when it is also the target) relative relocations are
//! packed as DT_RELR (`-z pack-relative-relocs`): `.rela.dyn` shrinks from ~21 KiB to ~3 KiB,
//! so less of the read-only segment is paged in at start (and the binary is ~18 KB smaller).
//! The binary then needs glibc >= 2.36 to load (it needs 2.35 anyway for the static
//! unwinder's `_dl_find_object`, see .cargo/config.toml), which lld records
//! as a `GLIBC_ABI_DT_RELR` version so an older loader refuses it with a clear error.
//!
//! A release build (`panic = "abort"`) also leaves out the unwind tables
//! (`.eh_frame`, its index and `.gcc_except_table`) with `.cargo/discard-unwind-tables.ld`:
//! nothing unwinds, so they only served the backtrace a panic prints under
//! `RUST_BACKTRACE`, which is now empty (the panic message and location still print).
//! They were ~75 KB of the read-only segment, sharing 64 KiB windows with the
//! `.rodata` that start-up reads: ~40 kB less idle RSS. Debuggers and profilers that
//! walk the stack of the stripped binary lose them too.
//!
//! Only rust-lld reads the list (`--symbol-ordering-file`), and only names that still exist
//! count (a stale or foreign-toolchain list is silently ignored). rust-lld is the default
//! linker of x86_64-unknown-linux-gnu from Rust 1.90; any other target, an older rustc or a
//! linker chosen by the user gets no flag at all, so the build never depends on this.
//! `LATCHKEY_NO_LINK_ORDER=1` in the environment drops all these flags (to compare).
#![forbid(unsafe_code)]

use std::env;
use std::path::Path;
use std::process::Command;

const ORDER_FILE: &str = ".cargo/link-order.txt";
const DISCARD_SCRIPT: &str = ".cargo/discard-unwind-tables.ld";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    println!("cargo:rerun-if-changed={DISCARD_SCRIPT}");
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
        println!("cargo:rustc-link-arg-bins=-Wl,-init=latchkey_no_dt_init");
        let script = Path::new(&dir).join(DISCARD_SCRIPT);
        // An unwinding build needs its tables: only the release profile, which is
        // `panic = "abort"` (Cargo.toml), drops them. A build script cannot see the
        // profile's panic strategy (`CARGO_CFG_PANIC` is the target's default), only
        // which profile it inherits from.
        if env::var("PROFILE").as_deref() == Ok("release") && script.is_file() {
            println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
        }
        if host_glibc_at_least(2, 36) {
            println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        }
    }
}

/// Whether the binary will run on this host's glibc and that is at least `major.minor`
/// (`getconf GNU_LIBC_VERSION` prints "glibc 2.36").
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    if env::var("HOST").ok() != env::var("TARGET").ok() {
        return false;
    }
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let (found_major, found_minor) = parse_version(version);
    (found_major, found_minor) >= (major, minor)
}

/// "1.95.0" -> (1, 95); unparsable parts count as 0.
fn parse_version(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
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
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(text.split_whitespace().nth(1).unwrap_or("")) >= (1, 90)
}
