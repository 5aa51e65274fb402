#!/usr/bin/env bash
# Stripped size of the release binary for every device target, against its budget:
#
#   bench/sizes.sh [TARGET...]        # default: all six device targets
#
# Budgets (issue 18): aarch64 and armv7 <= 1 MiB without TLS and <= 2 MiB with it;
# mipsel <= 1.25 MiB without TLS. Each target is built by contrib/cross/build.sh (one at a
# time: cross builds of std are slow); when Cargo.toml has a `tls` feature, every target
# is built a second time with it, into target/cross-tls/. The table goes to stdout and to
# bench/results/sizes.md (RESULTS_MD overrides); the exit status is 1 when a build failed
# or a size is over budget. Build times are wall clock on this machine, with whatever else
# it was running; they are for planning CI, not for comparing compilers.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
out="${RESULTS_MD:-$root/bench/results/sizes.md}"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(
    aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
    aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf
    mipsel-unknown-linux-gnu mipsel-unknown-linux-musl
)
variants=(plain)
grep -qE '^\s*tls\s*=' <(sed -n '/^\[features\]/,/^\[/p' Cargo.toml) && variants+=(tls)

KiB=1024
budget() { # TARGET VARIANT -> bytes, or empty when there is none
    case "$1:$2" in
        aarch64-*:plain|armv7-*:plain) echo $((1024 * KiB)) ;;
        aarch64-*:tls|armv7-*:tls)     echo $((2048 * KiB)) ;;
        mipsel-*:plain)                echo $((1280 * KiB)) ;;
        *) echo "" ;;
    esac
}

rows=()
status=0
for variant in "${variants[@]}"; do
    for t in "${targets[@]}"; do
        log="$(mktemp)"
        start=$(date +%s)
        if [ "$variant" = tls ]; then
            env CROSS_FEATURES=tls CROSS_TARGET_DIR="$root/target/cross-tls" \
                bash contrib/cross/build.sh "$t" >"$log" 2>&1 && ok=true || ok=false
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
        rows+=("| $t | $variant | $size B | $link | $budget_col | $verdict | ${secs} s |")
        echo "sizes: $t ($variant): $size B, built in ${secs} s" >&2
    done
done

{
    echo "# Stripped release binary sizes per device target"
    echo
    echo "\`bench/sizes.sh\` on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with uncommitted changes to src/ or Cargo.*)'),"
    echo "$(/usr/bin/rustc --version 2>/dev/null || echo 'rustc ?'), release profile of Cargo.toml, built by"
    echo "\`contrib/cross/build.sh\` on $(uname -m) ($(nproc) cores, shared with other builds)."
    echo
    echo "| target | features | stripped size | linking | budget | verdict (share of budget) | build (wall clock) |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    if [ ${#variants[@]} -eq 1 ]; then
        echo "There is no \`tls\` feature yet, so no TLS sizes (budget then: aarch64 and armv7 ≤ 2 MiB)."
    fi
    echo "Budgets: aarch64 and armv7 ≤ 1 MiB without TLS, ≤ 2 MiB with it; mipsel ≤ 1.25 MiB without TLS."
    echo "Build times include building std from source for the musl and mipsel targets when"
    echo "cargo has not built it before; whatever an earlier run built (std, dependencies, the"
    echo "whole binary) is reused and not counted, so compare them only between fresh runs."
} >"$out"
cat "$out"
exit $status
