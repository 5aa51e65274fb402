#!/usr/bin/env bash
# Cross-builds latchkey for a device target on Debian 12 (bookworm), installing what it
# needs first (idempotent; run as root, or with everything already installed).
#
#   contrib/cross/build.sh TARGET [--install-only | --test [TEST ARGS...]]
#
# TARGET is one of
#   aarch64-unknown-linux-gnu        Raspberry Pi OS 64-bit (bookworm), glibc >= 2.34
#   armv7-unknown-linux-gnueabihf    Raspberry Pi OS 32-bit (bookworm), glibc >= 2.34
#   aarch64-unknown-linux-musl       static: any 64-bit ARM Linux (Pi OS bullseye, OpenWrt)
#   armv7-unknown-linux-musleabihf   static: any ARMv7 hard-float Linux
#   mipsel-unknown-linux-gnu         MT7621-class boards running Debian-style glibc
#   mipsel-unknown-linux-musl        static, for testing under qemu only (see docs/DEVICES.md)
#
# The compiler is Debian's rustc-web/cargo-web (/usr/bin/rustc, /usr/bin/cargo), whose
# sysroot /usr/lib/rustlib gets a prebuilt std for arm64 and armhf from the multiarch
# libstd-rust-web-dev packages. musl and mipsel have no Debian std: this script builds
# std from rust-web-src with -Z build-std (RUSTC_BOOTSTRAP=1 on the stable compiler).
# Output goes under target/cross/ (CROSS_TARGET_DIR overrides) so it never mixes with the
# host's rustup builds; CROSS_FEATURES is passed to cargo's --features, and
# CROSS_NO_DEFAULT_FEATURES=1 adds --no-default-features (the plain-HTTP build, without
# the default feature `tls`). The last line printed is "<path> <size in bytes>" of the
# stripped release binary.
#
# ring (feature `tls`) compiles C and assembly with the target's C compiler. The script
# names it to the cc crate as CC_<target> and AR_<target>: the cross gcc, through the
# same musl-specs wrapper as the link for musl, and the cross ar. cc's own guesses
# (<triple>-gcc, and musl-dev's <triple>-musl-gcc wrapper) find the same compilers on
# Debian today, but its ar guess for musl (<triple>-musl-ar) does not exist, and the
# compiler should be the one the binary is linked with, not whatever PATH offers.
#
# --test runs `cargo test` for TARGET instead (glibc arm64/armhf only, which have a
# prebuilt std), every test binary under qemu-user-static; tests that start the latchkey
# binary themselves need qemu registered with binfmt_misc (see contrib/cross/ci.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"

usage() {
    echo "usage: $0 TARGET [--install-only | --test [TEST ARGS...]]" >&2
    sed -n '8,13p' "$0" | sed 's/^#  */  /' >&2
    exit 2
}
[ $# -ge 1 ] || usage
target="$1"
shift
install_only=false
run_tests=false
case "${1:-}" in
    --install-only) install_only=true ;;
    --test) run_tests=true; shift ;;
    "") ;;
    *) usage ;;
esac

# Per target: Debian architecture, GNU triplet of the cross gcc, libc.
case "$target" in
    aarch64-unknown-linux-gnu)      arch=arm64;  gnu=aarch64-linux-gnu;     libc=gnu ;;
    armv7-unknown-linux-gnueabihf)  arch=armhf;  gnu=arm-linux-gnueabihf;   libc=gnu ;;
    aarch64-unknown-linux-musl)     arch=arm64;  gnu=aarch64-linux-gnu;     libc=musl ;;
    armv7-unknown-linux-musleabihf) arch=armhf;  gnu=arm-linux-gnueabihf;   libc=musl ;;
    mipsel-unknown-linux-gnu)       arch=mipsel; gnu=mipsel-linux-gnu;      libc=gnu ;;
    mipsel-unknown-linux-musl)      arch=mipsel; gnu=mipsel-linux-gnu;      libc=musl ;;
    *) echo "$0: unknown target '$target'" >&2; usage ;;
esac
# Debian ships a std for arm64 and armhf glibc only; everything else builds std itself.
build_std=true
[ "$libc" = gnu ] && [ "$arch" != mipsel ] && build_std=false
if $run_tests && $build_std; then
    echo "$0: --test needs a prebuilt std: aarch64-unknown-linux-gnu or armv7-unknown-linux-gnueabihf" >&2
    exit 2
fi

packages=(rustc-web cargo-web "gcc-$gnu" "libc6-dev-$arch-cross" qemu-user-static binfmt-support)
if $build_std; then
    packages+=(rust-web-src)
else
    packages+=("libstd-rust-web-dev:$arch")
fi
[ "$libc" = musl ] && packages+=("musl-dev:$arch")
# qemu runs dynamically linked arm64/armhf binaries with the multiarch libc.
[ "$libc" = gnu ] && [ "$arch" != mipsel ] && packages+=("libc6:$arch")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "$0: missing Debian packages (run as root to install): ${missing[*]}" >&2
        exit 1
    fi
    echo "cross: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
$install_only && exit 0

rustc=/usr/bin/rustc
cargo=/usr/bin/cargo
"$rustc" --version | grep -q '^rustc 1\.' || { echo "$0: $rustc is not a Rust compiler" >&2; exit 1; }

TRIPLE="$(echo "$target" | tr 'a-z-' 'A-Z_')"
work="$root/target/cross/tools/$target"
mkdir -p "$work"
export RUSTC="$rustc" RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR="${CROSS_TARGET_DIR:-$root/target/cross}"
export "CARGO_TARGET_${TRIPLE}_LINKER=$gnu-gcc"
rustflags=()
cargo_args=(build --locked --release --target "$target")
[ -n "${CROSS_FEATURES:-}" ] && cargo_args+=(--features "$CROSS_FEATURES")
[ "${CROSS_NO_DEFAULT_FEATURES:-0}" = 1 ] && cargo_args+=(--no-default-features)
# The cc crate (ring's build script) reads CC_<target> and AR_<target>, target with '_'.
cc_target="$(echo "$target" | tr - _)"
export "CC_$cc_target=$gnu-gcc" "AR_$cc_target=$gnu-ar"

if $build_std; then
    # The stable compiler accepts -Z flags with RUSTC_BOOTSTRAP=1; build-std finds the
    # sources at $(rustc --print sysroot)/lib/rustlib/src/rust (rust-web-src).
    export RUSTC_BOOTSTRAP=1
    cargo_args+=(-Z "build-std=std,panic_abort")
fi

if [ "$libc" = musl ]; then
    specs="/usr/lib/$(basename "$(dirname "$(dpkg -L "musl-dev:$arch" | grep '/musl-gcc.specs$' | head -1)")")/musl-gcc.specs"
    [ -f "$specs" ] || { echo "$0: musl-gcc.specs of musl-dev:$arch not found" >&2; exit 1; }
    # Link with the cross gcc against Debian's musl (its crt files and libc.a), through
    # the specs file musl-dev ships for that, not the glibc the cross gcc defaults to.
    cat >"$work/cc" <<EOF
#!/bin/sh
exec $gnu-gcc -specs "$specs" "\$@"
EOF
    chmod +x "$work/cc"
    export "CARGO_TARGET_${TRIPLE}_LINKER=$work/cc"
    # ring's C code is compiled against musl's headers too, through the same wrapper.
    export "CC_$cc_target=$work/cc"
    # std's unwind crate links a static libunwind.a when crt-static. gcc's libgcc_eh.a
    # provides the _Unwind_* API; it calls glibc's _dl_find_object, which musl lacks, so
    # a stub that answers "not found" (-1) is added. With panic = "abort" nothing unwinds.
    if [ ! -f "$work/libunwind.a" ]; then
        tmp="$(mktemp -d)"
        printf 'int _dl_find_object(void *pc, void *result) { (void)pc; (void)result; return -1; }\n' >"$tmp/dlfo.c"
        "$gnu-gcc" -O2 -fPIC -c "$tmp/dlfo.c" -o "$tmp/dlfo.o"
        cp "/usr/lib/gcc-cross/$gnu/$(ls "/usr/lib/gcc-cross/$gnu" | sort -V | tail -1)/libgcc_eh.a" "$tmp/libunwind.a"
        "$gnu-ar" rcs "$tmp/libunwind.a" "$tmp/dlfo.o"
        mv "$tmp/libunwind.a" "$work/libunwind.a"
        rm -rf "$tmp"
    fi
    rustflags+=(-C target-feature=+crt-static -C link-self-contained=no -L "native=$work")
    if [ "$arch" = mipsel ]; then
        # Rust's mipsel musl target is soft-float, Debian's musl hard-float: the result
        # links and runs under qemu, but it is a test build, not one for a router.
        rustflags+=(-C "link-arg=-Wl,--no-warn-mismatch")
    fi
fi
if [ ${#rustflags[@]} -gt 0 ]; then
    export "CARGO_TARGET_${TRIPLE}_RUSTFLAGS=${rustflags[*]}"
fi

echo "cross: $("$rustc" --version), $("$gnu-gcc" --version | head -1)" >&2
start=$(date +%s)
if $run_tests; then
    qemu="/usr/bin/qemu-$(case "$arch" in arm64) echo aarch64 ;; armhf) echo arm ;; esac)-static"
    # No -L: the multiarch libc6:<arch> provides the loader at its usual path.
    export "CARGO_TARGET_${TRIPLE}_RUNNER=$qemu"
    "$cargo" test --locked --target "$target" "$@"
    echo "cross: tested $target in $(( $(date +%s) - start ))s" >&2
    exit 0
fi
"$cargo" "${cargo_args[@]}" >&2
bin="$CARGO_TARGET_DIR/$target/release/latchkey"
# The release profile strips; strip again in case a profile change ever stops doing so.
"$gnu-strip" "$bin"
echo "cross: built $target in $(( $(date +%s) - start ))s: $(file -b "$bin" | cut -d, -f1-2)" >&2
echo "$bin $(stat -c %s "$bin")"
