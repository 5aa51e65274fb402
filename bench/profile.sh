#!/usr/bin/env bash
# bench/profile.sh: where the request hot paths spend their instructions.
#
# Builds the release binary with symbols (same profile, strip off, line tables on, in
# target/callgrind so the normal build stays as it is), runs `latchkey serve` under
# valgrind --tool=callgrind with instrumentation off, logs in and gets a token (the
# password hash is not profiled), then for each path turns instrumentation on, sends N
# requests on one keep-alive connection (bench/client.py), dumps, and turns it off:
#   cookie  GET /            with the session cookie
#   bearer  GET /protected   with Authorization: JWT <token>
#   verify  GET /verify      with the session cookie
#   healthz GET /healthz     no credentials: the HTTP layer alone
#   floor   GET /            mio-hello, the shared harness's floor, for scale
# and prints, per path (bench/cgsummary.py), the top functions by self and by inclusive
# instruction count and the allocator calls (malloc/realloc/free...) per request.
# Valgrind's virtual CPU has no SHA extensions, so SHA-256 runs its software backend here:
# its share is several times what it is natively (see bench/README.md).
#
# Knobs: REQUESTS [2000] PORT [18095] TOP [25] PROFILE_OUT [bench/work/profile-<stamp>]
#        PROFILE_MD [bench/results/profile.md] (where the summary is copied)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
cd "$ROOT"
REQUESTS="${REQUESTS:-2000}"
PORT="${PORT:-18095}"
TOP="${TOP:-25}"
HOST=127.0.0.1
OUT="${PROFILE_OUT:-$BENCH_DIR/work/profile-$(date -u +%Y%m%dT%H%M%SZ)}"
UA="peer-bench/1"
mkdir -p "$OUT"
log() { echo "[profile $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }
command -v valgrind >/dev/null || die "valgrind not found (apt-get install -y valgrind)"

log "building release with symbols into target/callgrind"
CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --locked --quiet --target-dir target/callgrind
BIN="$ROOT/target/callgrind/release/latchkey"

DATA="$OUT/data"
rm -rf "$DATA"; mkdir -m 700 "$DATA"
echo 100000 >"$DATA/pbkdf2-iterations"
printf 'password1\n' | "$BIN" user add user1 --password-stdin --allow-weak-password --data-dir "$DATA" 2>/dev/null

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
    "$BIN" serve --listen "$HOST:$PORT" --data-dir "$DATA" >"$OUT/server.log" 2>&1 &
VPID=$!
trap 'kill -TERM $VPID 2>/dev/null || true; wait $VPID 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    curl -s -o /dev/null --max-time 2 "http://$HOST:$PORT/healthz" && break
    kill -0 $VPID 2>/dev/null || die "server under valgrind died (see $OUT/server.log)"
    sleep 0.1
done
cookie=$(curl -s -o /dev/null -D - --max-time 120 -A "$UA" -d username=user1 -d password=password1 \
    "http://$HOST:$PORT/login" | tr -d '\r' |
    awk 'tolower($1) == "set-cookie:" { sub(/^[^:]*:[ \t]*/, ""); split($0, a, ";"); printf "%s", a[1] }')
token=$(curl -s --max-time 120 -A "$UA" -H 'Content-Type: application/json' \
    -d '{"username": "user1", "password": "password1"}' "http://$HOST:$PORT/auth" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
[ -n "$cookie" ] && [ -n "$token" ] || die "login or /auth failed"

# callgrind_control only gets through when the server runs, i.e. when a request wakes
# it: send the command, then one request, then wait for the command to be done.
WAKE=/healthz
ctl() {
    callgrind_control "$@" "$VPID" >/dev/null &
    local c=$!
    sleep 0.3
    python3 "$BENCH_DIR/client.py" 1 "$HOST" "$PORT" "$WAKE" 200
    wait "$c"
}

profile_path() { # NAME PATH HEADER
    local name=$1 path=$2 header=$3
    python3 "$BENCH_DIR/client.py" 50 "$HOST" "$PORT" "$path" 200 "$header" # warm caches
    ctl -z
    ctl -i on
    python3 "$BENCH_DIR/client.py" "$REQUESTS" "$HOST" "$PORT" "$path" 200 "$header"
    ctl -d "$name"
    ctl -i off
    local f
    f=$(ls -t "$OUT"/callgrind.out.* | head -1)
    mv "$f" "$OUT/callgrind.$name.out"
    log "$name: $OUT/callgrind.$name.out"
}
profile_path cookie / "Cookie: $cookie"
profile_path bearer /protected "Authorization: JWT $token"
profile_path verify /verify "Cookie: $cookie"
profile_path healthz /healthz "Accept: */*"
kill -TERM $VPID; wait $VPID 2>/dev/null || true

# The floor, the same way: mio-hello's fixed answer to GET / (built by the shared harness).
FLOOR="${FLOOR_BIN:-${BENCH_WORK:-$HOME/.cache/latchkey-bench}/floor-target/release/mio-hello}"
PATHS="cookie bearer verify healthz"
if [ -x "$FLOOR" ]; then
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
        "$FLOOR" "$HOST:$PORT" >"$OUT/floor.log" 2>&1 &
    VPID=$!
    for _ in $(seq 600); do
        curl -s -o /dev/null --max-time 2 "http://$HOST:$PORT/" && break
        sleep 0.1
    done
    WAKE=/
    profile_path floor / "Accept: */*"
    kill -TERM $VPID; wait $VPID 2>/dev/null || true
    PATHS="$PATHS floor"
else
    log "no mio-hello at $FLOOR (run the shared harness once, or set FLOOR_BIN): floor not profiled"
fi

summarise() { # NAME
    echo "## $1"
    echo
    echo '```'
    python3 "$BENCH_DIR/cgsummary.py" "$OUT/callgrind.$1.out" "$REQUESTS" "$TOP"
    echo '```'
    echo
}
{
    echo "# callgrind profile $(date -u +%Y%m%dT%H%M%SZ), $REQUESTS requests per path, one keep-alive connection"
    echo
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(valgrind --version), $(rustc --version)."
    echo "Valgrind's virtual CPU has no SHA extensions: sha2 runs its software backend here, so"
    echo "compress256's share is several times its native share. Syscalls are not counted."
    echo
    for n in $PATHS; do summarise "$n"; done
} | tee "$OUT/profile.md"
PROFILE_MD="${PROFILE_MD:-$BENCH_DIR/results/profile.md}"
mkdir -p "$(dirname "$PROFILE_MD")"
cp "$OUT/profile.md" "$PROFILE_MD"
log "saved $OUT/profile.md and ${PROFILE_MD#"$ROOT/"}"
