#!/usr/bin/env bash
# CI's device steps (issue 18), run by .ci/run as root on Debian 12:
#   1. aarch64 glibc build + smoke test under qemu-aarch64-static;
#   2. static armv7 musl build + smoke test under qemu-arm-static;
#   3. the amd64 Debian package, installed, removed and purged on this machine;
#   4. with CROSS_FULL=1, the whole `cargo test` for aarch64-unknown-linux-gnu under qemu.
# Each step prints its wall-clock time; a missing tool or failed step fails the run.
# Timings under emulation are not device performance.
set -euo pipefail
cd "$(dirname "$0")/../.."

t0=$(date +%s)
lap() { echo "devices: $1 took $(( $(date +%s) - $2 ))s"; }

step=$(date +%s)
bin="$(bash contrib/cross/build.sh aarch64-unknown-linux-gnu | tail -1 | cut -d' ' -f1)"
lap "aarch64-unknown-linux-gnu build" "$step"
step=$(date +%s)
bash contrib/cross/smoke.sh "$bin"
lap "aarch64-unknown-linux-gnu smoke test" "$step"

step=$(date +%s)
bin="$(bash contrib/cross/build.sh armv7-unknown-linux-musleabihf | tail -1 | cut -d' ' -f1)"
file -b "$bin" | grep -q 'statically linked' || { echo "devices: FAIL: $bin is not static" >&2; exit 1; }
lap "armv7-unknown-linux-musleabihf build" "$step"
step=$(date +%s)
bash contrib/cross/smoke.sh "$bin"
lap "armv7-unknown-linux-musleabihf smoke test" "$step"

step=$(date +%s)
deb="$(bash contrib/debian/build-deb.sh amd64 | tail -1)"
bash contrib/debian/test-deb.sh "$deb"
lap "amd64 package build and dpkg test" "$step"

if [ "${CROSS_FULL:-0}" = 1 ]; then
    step=$(date +%s)
    # Tests start the latchkey binary as a child process: the kernel must hand aarch64
    # executables to qemu (binfmt_misc, registered by qemu-user-static's binfmt-support).
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
        || { echo "devices: FAIL: qemu-aarch64 is not registered with binfmt_misc" >&2; exit 1; }
    bash contrib/cross/build.sh aarch64-unknown-linux-gnu --test
    lap "cargo test --target aarch64-unknown-linux-gnu under qemu" "$step"
fi

lap "all device steps" "$t0"
