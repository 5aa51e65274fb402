#!/usr/bin/env bash
# bench/tls.sh: latchkey serve --tls (issue 17) against nginx with one worker serving the
# same certificate and key (latchkey's generated DATA/tls/cert.pem, ECDSA P-256) and a
# 13-byte static answer, in one run on one machine:
#
#   1. cargo build --release; a data dir with user1/password1 (no calibration); latchkey
#      --tls creates its certificate; nginx (worker_processes 1) serves the same files.
#   2. handshakes per second: bench/handshakes.py, a new connection and a full handshake
#      (no resumption) for every request, HS_PROCESSES client processes for HS_SECONDS,
#      against each server; with the server's CPU time per handshake (/proc/PID/stat), the
#      number that does not depend on how much of the 2 cores the clients took.
#      Why not the usual tools: wrk keeps its connections; h2load makes one connection per
#      client and never reconnects; openssl s_time -new reconnects but one connection at a
#      time and from one address, and latchkey holds each address to 8 handshakes in
#      progress and a handshake rate (so HS_SOURCES can spread the clients over addresses).
#   3. keep-alive throughput over TLS: wrk -c$CONNECTIONS over https: nginx's static answer,
#      latchkey GET /healthz (its smallest answer), latchkey GET / with a session cookie.
#   4. authenticated GET p99 while another address floods handshakes: wrk -t1
#      -c$PROBE_CONNECTIONS GET / with the cookie from 127.0.0.1, alone and then while
#      bench/handshakes.py runs FLOOD_PROCESSES flat-out handshake loops from FLOOD_SOURCE,
#      at nice FLOOD_NICE: an attacker's own CPU is on another machine, here it shares the
#      two cores, and at equal priority its processes alone would set the probe's p99.
#      latchkey's CPU share during each probe is reported beside it. Target: p99 ≤ 20 ms.
#   5. idle RSS of a fresh latchkey --tls one second after one login over HTTPS (VmRSS),
#      and of the same binary without --tls after one login over HTTP, for scale.
#   6. bench/results/tls.md: one table.
#
# Knobs: DURATION [10s] WARMUP [2s] THREADS [2] CONNECTIONS [32] WRK_TIMEOUT [5s]
#   HS_SECONDS [10] HS_PROCESSES [4] HS_SOURCES [127.0.0.1]
#   FLOOD_SECONDS [10] FLOOD_PROCESSES [4] FLOOD_SOURCE [127.0.0.2] FLOOD_NICE [10]
#   PROBE_CONNECTIONS [4]
#   FLOOD_CPU, SERVER_CPU [unset]: pin the flood, and latchkey with the probe, to these CPUs
#   (taskset -c), e.g. FLOOD_CPU=1 SERVER_CPU=0: the attacker's CPU apart from the
#   server's, as it is on a device, where the attacker is another machine.
#   PORT [18290] (uses PORT..PORT+2) SKIP_BUILD [0]
#   SHARED_RUN [../shared/bench/run.sh] (its wrk report hook is used)
#   RESULTS_MD [bench/results/tls.md] BENCH_OUT [bench/work/tls-<stamp>]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
HS_SECONDS="${HS_SECONDS:-10}"
HS_PROCESSES="${HS_PROCESSES:-4}"
HS_SOURCES="${HS_SOURCES:-127.0.0.1}"
FLOOD_SECONDS="${FLOOD_SECONDS:-10}"
FLOOD_PROCESSES="${FLOOD_PROCESSES:-4}"
FLOOD_SOURCE="${FLOOD_SOURCE:-127.0.0.2}"
FLOOD_NICE="${FLOOD_NICE:-10}"
FLOOD_CPU="${FLOOD_CPU:-}"
SERVER_CPU="${SERVER_CPU:-}"
# Command prefixes pinning to those CPUs (taskset execs the command: $! stays its PID).
SERVER_PIN=(); [ -z "$SERVER_CPU" ] || SERVER_PIN=(taskset -c "$SERVER_CPU")
FLOOD_PIN=(); [ -z "$FLOOD_CPU" ] || FLOOD_PIN=(taskset -c "$FLOOD_CPU")
PROBE_CONNECTIONS="${PROBE_CONNECTIONS:-4}"
PORT="${PORT:-18290}"
SKIP_BUILD="${SKIP_BUILD:-0}"
SHARED_RUN="${SHARED_RUN:-../shared/bench/run.sh}"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH_OUT="${BENCH_OUT:-$BENCH_DIR/work/tls-$STAMP}"
RESULTS_MD="${RESULTS_MD:-$BENCH_DIR/results/tls.md}"
HOST=127.0.0.1 # loopback only, by design
UA="peer-bench/1"
BENCH_USER=user1
BENCH_PASS=password1
BIN="$ROOT/target/release/latchkey"
DATA="$BENCH_OUT/data"
CERT="$DATA/tls/cert.pem"
KEY="$DATA/tls/key.pem"
REPORT_LUA="$(dirname "$SHARED_RUN")/wrk-report.lua"

LK_PORT=$PORT
NGINX_PORT=$((PORT + 1))
IDLE_PORT=$((PORT + 2))

log() { echo "[tls-bench $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$BENCH_OUT"
for tool in wrk curl python3 awk openssl; do
    command -v "$tool" >/dev/null 2>&1 || {
        [ "$tool" = wrk ] && [ "$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null 2>&1
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install -y $tool)"
    }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found (apt-get install -y nginx)"
[ -f "$REPORT_LUA" ] || die "no wrk report hook at $REPORT_LUA (set SHARED_RUN)"

STARTED=()
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() { local p; for p in "${STARTED[@]}"; do [ -n "$p" ] && stop_pid "$p"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_answer() { # URL PID: until URL answers over HTTPS (the certificate may not exist yet)
    for _ in $(seq 200); do
        [ -f "$CERT" ] && curl -s -o /dev/null --max-time 1 --cacert "$CERT" "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
vm() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"; } # kB
ticks() { awk '{ sub(/^.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; } # utime+stime
kv() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) print substr($i, n + 1) } }' <<<"$2"; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
rps_of() { calc "$(kv requests "$1") / ($(kv duration_us "$1") / 1e6)" 0; }
p99_of() { calc "$(kv p99_us "$1") / 1000" 2; }
p50_of() { calc "$(kv p50_us "$1") / 1000" 2; }
errs_of() { echo "$(kv err_status "$1")/$(( $(kv err_connect "$1") + $(kv err_read "$1") + $(kv err_write "$1") + $(kv err_timeout "$1") ))"; }

wrk_row() { # NAME URL CONNECTIONS THREADS SECONDS [header...] -> BENCH_RESULT line
    local name=$1 url=$2 conns=$3 threads=$4 dur=$5; shift 5
    local cmd=(wrk -t"$threads" -c"$conns" --timeout "$WRK_TIMEOUT" --latency -s "$REPORT_LUA" -H "User-Agent: $UA")
    local h; for h in "$@"; do cmd+=(-H "$h"); done
    [ -z "${WRK_CPU:-}" ] || cmd=(taskset -c "$WRK_CPU" "${cmd[@]}")
    [ "$WARMUP" = 0 ] || "${cmd[@]}" -d "$WARMUP" "$url" >"$BENCH_OUT/$name.warmup.txt" 2>&1 || true
    "${cmd[@]}" -d "$dur" "$url" >"$BENCH_OUT/$name.txt" 2>&1 || true
    grep '^BENCH_RESULT ' "$BENCH_OUT/$name.txt" | tail -1 || true
}

cookie_from() { # PORT -> "name=value" of the session cookie, from a form login over HTTPS
    curl -s -o /dev/null -D - --max-time 10 -A "$UA" --cacert "$CERT" \
        --data-urlencode "username=$BENCH_USER" --data-urlencode "password=$BENCH_PASS" "https://$HOST:$1/login" |
        tr -d '\r' | awk 'tolower($1) == "set-cookie:" && /latchkey_session=/ { sub(/^[^:]*:[ \t]*/, ""); split($0, a, ";"); print a[1] }'
}

served_fingerprint() { # PORT
    openssl s_client -connect "$HOST:$1" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}

handshakes() { # NAME PORT PATH PID SOURCES PROCESSES SECONDS -> "HANDSHAKE_RESULT … cpu_us=N"
    local name=$1 port=$2 path=$3 pid=$4 t0 t1 line answered
    t0=$(ticks "$pid")
    python3 "$BENCH_DIR/handshakes.py" "$HOST" "$port" "$7" "$6" "$5" "$path" >"$BENCH_OUT/$name.txt" 2>&1 || true
    t1=$(ticks "$pid")
    line=$(grep '^HANDSHAKE_RESULT ' "$BENCH_OUT/$name.txt" | tail -1 || true)
    [ -n "$line" ] || { echo ""; return; }
    answered=$(kv "done" "$line")
    # clock ticks are 1/100 s (USER_HZ)
    echo "$line cpu_us=$(calc "($t1 - $t0) * 10000 / ($answered > 0 ? $answered : 1)" 0)"
}

# ------------------------------------------------------------------ 1. --
if [ "$SKIP_BUILD" != 1 ]; then log "cargo build --release"; cargo build --release --locked --quiet; fi
[ -x "$BIN" ] || die "no $BIN"
rm -rf "$DATA"; mkdir -m 700 "$DATA"
echo 100000 >"$DATA/pbkdf2-iterations"
printf '%s\n' "$BENCH_PASS" | "$BIN" user add "$BENCH_USER" --password-stdin --allow-weak-password --data-dir "$DATA" 2>/dev/null

"${SERVER_PIN[@]}" "$BIN" serve --tls --listen "$HOST:$LK_PORT" --data-dir "$DATA" >"$BENCH_OUT/latchkey.log" 2>&1 &
LK_PID=$!; STARTED+=("$LK_PID")
wait_answer "https://$HOST:$LK_PORT/healthz" "$LK_PID" || { cat "$BENCH_OUT/latchkey.log" >&2; die "latchkey --tls did not start"; }

cat >"$BENCH_OUT/nginx.conf" <<CONF
worker_processes 1;
pid $BENCH_OUT/nginx.pid;
error_log $BENCH_OUT/nginx-error.log;
events { worker_connections 2048; }
http {
    access_log off;
    client_body_temp_path $BENCH_OUT/nginx-body;
    proxy_temp_path $BENCH_OUT/nginx-proxy;
    fastcgi_temp_path $BENCH_OUT/nginx-fastcgi;
    uwsgi_temp_path $BENCH_OUT/nginx-uwsgi;
    scgi_temp_path $BENCH_OUT/nginx-scgi;
    keepalive_requests 1000000;
    server {
        listen $HOST:$NGINX_PORT ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "Hello, world!"; }
    }
}
CONF
"$NGINX" -c "$BENCH_OUT/nginx.conf" -g 'daemon off;' >"$BENCH_OUT/nginx.out" 2>&1 &
NGINX_PID=$!; STARTED+=("$NGINX_PID")
wait_answer "https://$HOST:$NGINX_PORT/" "$NGINX_PID" || { cat "$BENCH_OUT/nginx-error.log" >&2; die "nginx did not start"; }
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
[ -n "$NGINX_WORKER" ] || die "no nginx worker"

LK_FP=$(served_fingerprint "$LK_PORT"); NG_FP=$(served_fingerprint "$NGINX_PORT")
if [ -z "$LK_FP" ] || [ "$LK_FP" != "$NG_FP" ]; then
    die "the two servers do not serve the same certificate ($LK_FP vs $NG_FP)"
fi
grep -q "$LK_FP" "$BENCH_OUT/latchkey.log" || die "latchkey did not print the fingerprint it serves"
COOKIE=$(cookie_from "$LK_PORT")
[ -n "$COOKIE" ] || die "login over HTTPS failed"
case "$COOKIE" in __Host-latchkey_session=*) ;; *) die "the session cookie over HTTPS is not __Host-: $COOKIE" ;; esac
[ "$(curl -s --cacert "$CERT" -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "https://$HOST:$LK_PORT/")" = 200 ] || die "the cookie does not work"
[ "$(curl -s --cacert "$CERT" "https://$HOST:$NGINX_PORT/")" = "Hello, world!" ] || die "nginx did not answer its body"
PROTO=$(openssl s_client -brief -connect "$HOST:$LK_PORT" </dev/null 2>&1 | awk -F': ' '/^(Protocol version|Ciphersuite|Server Temp Key|Peer Temp Key)/ { printf "%s%s", sep, $2; sep = ", " }')

# ------------------------------------------------------------------ 2. --
log "== handshakes: nginx"
HS_NGINX=$(handshakes hs-nginx "$NGINX_PORT" / "$NGINX_WORKER" "$HS_SOURCES" "$HS_PROCESSES" "$HS_SECONDS")
log "== handshakes: latchkey"
HS_LK=$(handshakes hs-latchkey "$LK_PORT" /healthz "$LK_PID" "$HS_SOURCES" "$HS_PROCESSES" "$HS_SECONDS")
sleep 11 # let latchkey's handshake rate budget for the sources refill before what follows

# ------------------------------------------------------------------ 3. --
log "== keep-alive: nginx"
KA_NGINX=$(wrk_row ka-nginx "https://$HOST:$NGINX_PORT/" "$CONNECTIONS" "$THREADS" "$DURATION")
log "== keep-alive: latchkey /healthz"
KA_LK_HEALTHZ=$(wrk_row ka-latchkey-healthz "https://$HOST:$LK_PORT/healthz" "$CONNECTIONS" "$THREADS" "$DURATION")
log "== keep-alive: latchkey GET / (cookie)"
KA_LK_COOKIE=$(wrk_row ka-latchkey-cookie "https://$HOST:$LK_PORT/" "$CONNECTIONS" "$THREADS" "$DURATION" "Cookie: $COOKIE")

# ------------------------------------------------------------------ 4. --
log "== probe alone"
T0=$(ticks "$LK_PID")
PROBE_ALONE=$(WARMUP=0 WRK_CPU="$SERVER_CPU" wrk_row probe-alone "https://$HOST:$LK_PORT/" "$PROBE_CONNECTIONS" 1 "${FLOOD_SECONDS}s" "Cookie: $COOKIE")
CPU_ALONE=$(( $(ticks "$LK_PID") - T0 ))
log "== probe during a handshake flood from $FLOOD_SOURCE"
"${FLOOD_PIN[@]}" nice -n "$FLOOD_NICE" python3 "$BENCH_DIR/handshakes.py" "$HOST" "$LK_PORT" "$((FLOOD_SECONDS + 2))" "$FLOOD_PROCESSES" "$FLOOD_SOURCE" /healthz \
    >"$BENCH_OUT/flood.txt" 2>&1 &
FLOOD_PID=$!; STARTED+=("$FLOOD_PID")
sleep 1
T0=$(ticks "$LK_PID")
PROBE_FLOOD=$(WARMUP=0 WRK_CPU="$SERVER_CPU" wrk_row probe-flood "https://$HOST:$LK_PORT/" "$PROBE_CONNECTIONS" 1 "${FLOOD_SECONDS}s" "Cookie: $COOKIE")
CPU_FLOOD=$(( $(ticks "$LK_PID") - T0 ))
wait "$FLOOD_PID" || true
FLOOD=$(grep '^HANDSHAKE_RESULT ' "$BENCH_OUT/flood.txt" | tail -1 || true)
RSS_PEAK=$(vm VmHWM "$LK_PID")
stop_pid "$NGINX_PID"; stop_pid "$LK_PID"

# ------------------------------------------------------------------ 5. --
"$BIN" serve --tls --listen "$HOST:$IDLE_PORT" --data-dir "$DATA" >"$BENCH_OUT/latchkey-idle.log" 2>&1 &
IDLE_PID=$!; STARTED+=("$IDLE_PID")
wait_answer "https://$HOST:$IDLE_PORT/healthz" "$IDLE_PID" || die "latchkey --tls (idle) did not start"
sleep 1
RSS_FRESH=$(vm VmRSS "$IDLE_PID")
[ -n "$(cookie_from "$IDLE_PORT")" ] || die "login failed (idle)"
sleep 1
RSS_IDLE=$(vm VmRSS "$IDLE_PID")
stop_pid "$IDLE_PID"
# The same without --tls, for scale (same data dir, same steps, plain HTTP).
"$BIN" serve --listen "$HOST:$IDLE_PORT" --data-dir "$DATA" >"$BENCH_OUT/latchkey-idle-plain.log" 2>&1 &
IDLE_PID=$!; STARTED+=("$IDLE_PID")
for _ in $(seq 200); do curl -s -o /dev/null --max-time 1 "http://$HOST:$IDLE_PORT/healthz" && break; sleep 0.05; done
sleep 1
curl -s -o /dev/null --max-time 10 -A "$UA" --data-urlencode "username=$BENCH_USER" \
    --data-urlencode "password=$BENCH_PASS" "http://$HOST:$IDLE_PORT/login"
sleep 1
RSS_PLAIN=$(vm VmRSS "$IDLE_PID")
stop_pid "$IDLE_PID"

# ------------------------------------------------------------------ 6. --
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
hs_cells() { # HANDSHAKE_RESULT line -> table cells
    [ -n "$1" ] || { echo "(no result) | | | |"; return; }
    echo "$(kv rate "$1") | $(kv cpu_us "$1") | $(kv p50_ms "$1") / $(kv p99_ms "$1") | $(kv "done" "$1")/$(kv failed "$1") |"
}
ka_cells() { # BENCH_RESULT line -> table cells
    [ -n "$1" ] || { echo "(no result) | | | |"; return; }
    echo "$(rps_of "$1") | $(p50_of "$1") | $(p99_of "$1") | $(errs_of "$1") |"
}
{
    echo "# latchkey serve --tls against nginx (bench/tls.sh)"
    echo
    echo "Run $STAMP at $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r);"
    echo "$(nginx -v 2>&1 | sed 's/^nginx version: //') with one worker and $(openssl version | cut -d' ' -f1-2), serving latchkey's own generated certificate and key (ECDSA P-256);"
    echo "negotiated with latchkey: $PROTO. Clients, servers and whatever else runs share the $(nproc) cores;"
    if [ -n "$SERVER_CPU$FLOOD_CPU" ]; then
        pinned="latchkey pinned to CPU ${SERVER_CPU:-any} for the whole run, the flood and the probe as said below, nothing else pinned"
    else
        pinned="nothing pinned"
    fi
    echo "$pinned (load average at the start: $LOAD_AT_START). Raw output: bench/work/$(basename "$BENCH_OUT")."
    echo
    echo "## Full handshakes (bench/handshakes.py: $HS_PROCESSES processes, ${HS_SECONDS} s, from $HS_SOURCES, new connection and one GET per handshake, no resumption)"
    echo
    echo "| server | handshakes/s | server CPU µs per handshake | connect→status p50 / p99 ms | answered/failed |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| nginx, 1 worker, GET / | $(hs_cells "$HS_NGINX")"
    echo "| latchkey --tls, GET /healthz | $(hs_cells "$HS_LK")"
    echo
    echo "## Keep-alive requests over TLS (wrk -t$THREADS -c$CONNECTIONS -d$DURATION after a $WARMUP warm-up)"
    echo
    echo "| row | req/s | p50 ms | p99 ms | non2xx/errors |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| nginx, static 13-byte answer | $(ka_cells "$KA_NGINX")"
    echo "| latchkey GET /healthz | $(ka_cells "$KA_LK_HEALTHZ")"
    echo "| latchkey GET / with the session cookie | $(ka_cells "$KA_LK_COOKIE")"
    echo
    echo "## Authenticated GET while another address floods handshakes"
    echo
    echo "wrk -t1 -c$PROBE_CONNECTIONS -d${FLOOD_SECONDS}s GET / with the session cookie from 127.0.0.1; the flood: bench/handshakes.py,"
    echo "$FLOOD_PROCESSES processes from $FLOOD_SOURCE at nice $FLOOD_NICE${FLOOD_CPU:+ on CPU $FLOOD_CPU (latchkey and the probe on CPU ${SERVER_CPU:-any})}, full handshakes as fast as they go (latchkey CPU: its"
    echo "utime + stime over the probe, in % of one core)."
    echo
    secs=${FLOOD_SECONDS%s}
    echo "| probe | req/s | p50 ms | p99 ms | non2xx/errors | latchkey CPU |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| alone | $(ka_cells "$PROBE_ALONE") $(calc "$CPU_ALONE / $secs" 0) % |"
    echo "| during the flood | $(ka_cells "$PROBE_FLOOD") $(calc "$CPU_FLOOD / $secs" 0) % |"
    echo
    echo "The flood: ${FLOOD:-(no result)}."
    echo
    echo "| target | value | verdict |"
    echo "| --- | --- | --- |"
    if [ -n "$PROBE_FLOOD" ]; then
        clean=$([ "$(errs_of "$PROBE_FLOOD")" = 0/0 ] && echo 1 || echo 0)
        echo "| authenticated GET p99 during the flood ≤ 20 ms, no errors | $(p99_of "$PROBE_FLOOD") ms ($(errs_of "$PROBE_FLOOD") non2xx/errors) | $(verdict "$(kv p99_us "$PROBE_FLOOD") <= 20000 && $clean") |"
    fi
    echo "| idle RSS with TLS on (report) | $RSS_IDLE kB one second after one login over HTTPS (fresh, before it: $RSS_FRESH kB; the same binary without --tls after one login over HTTP: $RSS_PLAIN kB); VmHWM of the benchmarked server: $RSS_PEAK kB | — |"
} >"$RESULTS_MD"
cat "$RESULTS_MD"
