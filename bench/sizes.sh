#!/usr/bin/env bash
# Stripped size of the release binary for x86_64 and every device target, with and
# without the default feature `tls`, against its budget:
#
#   bench/sizes.sh [TARGET...]        # default: x86_64-unknown-linux-gnu and the six device targets
#
# Each target is built twice, one build at a time (cross builds of std are slow):
#   plain  cargo build --release --no-default-features   (HTTP only)
#   tls    cargo build --release                          (default features: rustls + ring)
# Device targets are built by contrib/cross/build.sh (CROSS_NO_DEFAULT_FEATURES=1 for
# plain); x86_64 by the same Debian compiler (/usr/bin/cargo, installed by build.sh), so
# every row comes from one rustc. Both variants share the target directory target/cross/
# (std and the dependencies are built once; the default `tls` build is made last, so
# target/cross/<target>/release/latchkey is the default binary afterwards), and each
# binary is kept as target/sizes/<target>/<variant>/latchkey.
#
# Budgets: x86_64 (issue 17), aarch64 and armv7 (issue 18) <= 1 MiB without TLS and
# <= 2 MiB with it; mipsel <= 1.25 MiB without TLS, none with it. The table goes to stdout
# and to bench/results/sizes.md (RESULTS_MD overrides); the exit status is 1 when a build
# failed or a size is over budget. Build times are wall clock on this machine, with
# whatever else it was running; they are for planning CI, not for comparing compilers.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
out="${RESULTS_MD:-$root/bench/results/sizes.md}"
host=x86_64-unknown-linux-gnu

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(
    "$host"
    aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
    aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf
    mipsel-unknown-linux-gnu mipsel-unknown-linux-musl
)
variants=(plain tls)

KiB=1024
budget() { # TARGET VARIANT -> bytes, or empty when there is none
    case "$1:$2" in
        x86_64-*:plain|aarch64-*:plain|armv7-*:plain) echo $((1024 * KiB)) ;;
        x86_64-*:tls|aarch64-*:tls|armv7-*:tls)       echo $((2048 * KiB)) ;;
        mipsel-*:plain)                               echo $((1280 * KiB)) ;;
        *) echo "" ;;
    esac
}

# x86_64 with Debian's compiler, like the cross builds; prints "<path> <size>" last.
build_host() { # VARIANT
    [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] \
        || { echo "sizes: /usr/bin/cargo is missing: run contrib/cross/build.sh once (it installs cargo-web)" >&2; return 1; }
    local args=(build --locked --release --target "$host")
    [ "$1" = plain ] && args+=(--no-default-features)
    RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_DIR="$root/target/cross" \
        /usr/bin/cargo "${args[@]}" >&2
    local bin="$root/target/cross/$host/release/latchkey"
    strip "$bin"
    echo "$bin $(stat -c %s "$bin")"
}

rows=()
status=0
for t in "${targets[@]}"; do
    for variant in "${variants[@]}"; do
        log="$(mktemp)"
        start=$(date +%s)
        if [ "$t" = "$host" ]; then
            build_host "$variant" >"$log" 2>&1 && ok=true || ok=false
        elif [ "$variant" = plain ]; then
            env CROSS_NO_DEFAULT_FEATURES=1 bash contrib/cross/build.sh "$t" >"$log" 2>&1 && ok=true || ok=false
        else
            bash contrib/cross/build.sh "$t" >"$log" 2>&1 && ok=true || ok=false
        fi
        secs=$(( $(date +%s) - start ))
        if ! $ok; then
            tail -20 "$log" >&2
            rows+=("| $t | $variant | build failed | | | FAIL | ${secs} s |")
            status=1; rm -f "$log"; continue
        fi
        size="$(tail -1 "$log" | cut -d' ' -f2)"
        bin="$(tail -1 "$log" | cut -d' ' -f1)"
        rm -f "$log"
        mkdir -p "$root/target/sizes/$t/$variant"
        cp "$bin" "$root/target/sizes/$t/$variant/latchkey"
        link="$(file -b "$bin" | grep -oE 'statically linked|dynamically linked|static-pie linked' | head -1)"
        b="$(budget "$t" "$variant")"
        if [ -z "$b" ]; then
            verdict="no budget"; budget_col="—"
        else
            budget_col="$(awk -v b="$b" 'BEGIN { printf "%.2f MiB", b / 1048576 }')"
            if [ "$size" -le "$b" ]; then
                verdict="PASS ($(awk -v s="$size" -v b="$b" 'BEGIN { printf "%.0f", 100 * s / b }') %)"
            else
                verdict="FAIL ($(awk -v s="$size" -v b="$b" 'BEGIN { printf "%.0f", 100 * s / b }') %)"
                status=1
            fi
        fi
        mib="$(awk -v s="$size" 'BEGIN { printf "%.2f MiB", s / 1048576 }')"
        rows+=("| $t | $variant | $size B ($mib) | $link | $budget_col | $verdict | ${secs} s |")
        echo "sizes: $t ($variant): $size B, built in ${secs} s" >&2
    done
done

{
    echo "# Stripped release binary sizes, with and without TLS"
    echo
    echo "\`bench/sizes.sh\` on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with uncommitted changes to src/ or Cargo.*)'),"
    echo "$(/usr/bin/rustc --version 2>/dev/null || echo 'rustc ?'), release profile of Cargo.toml, built on"
    echo "$(uname -m) ($(nproc) cores, shared with other builds). Per target:"
    echo
    echo "- plain: \`CROSS_NO_DEFAULT_FEATURES=1 contrib/cross/build.sh TARGET\`, i.e. \`cargo build --release --no-default-features\`;"
    echo "- tls: \`contrib/cross/build.sh TARGET\` (the default features, rustls + ring);"
    echo "- x86_64: \`/usr/bin/cargo build --release --target x86_64-unknown-linux-gnu [--no-default-features]\`, then \`strip\`."
    echo
    echo "| target | features | stripped size | linking | budget | verdict (share of budget) | build (wall clock) |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Budgets: x86_64, aarch64 and armv7 ≤ 1 MiB without TLS and ≤ 2 MiB with it (issues 17"
    echo "and 18); mipsel ≤ 1.25 MiB without TLS, no budget with it."
    echo "Build times include building std from source for the musl and mipsel targets when"
    echo "cargo has not built it before; whatever an earlier run built (std, dependencies, the"
    echo "other variant) is reused and not counted, so compare them only between fresh runs."
} >"$out"
cat "$out"
exit $status
