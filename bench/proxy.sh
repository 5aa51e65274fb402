#!/usr/bin/env bash
# bench/proxy.sh: latchkey as the reverse proxy (serve --upstream, issue 16) against
# nginx, in one run on one machine, all in front of the same fixed-body upstream (the
# shared harness's mio-hello floor, 13-byte body):
#
#   1. cargo build --release; a data dir with user1/password1 (no calibration).
#   2. rows, wrk -c32 and -c256 (GET / with a session cookie), one after another:
#        latchkey --upstream               (login, auth and proxy in one process)
#        nginx (1 worker) proxy_pass + auth_request to latchkey /verify (the shipped
#          recipe, contrib/nginx/latchkey.conf, without keepalive to either)
#        nginx (1 worker) proxy_pass, no auth at all
#        mio-hello direct (the floor, for context)
#   3. latchkey --upstream footprint: idle VmRSS after one login, VmHWM after the -c256 row.
#   4. bulk: a fresh latchkey --upstream in front of bench/bulk_upstream.py; a 1 GiB
#      download and a 100 MiB upload (Content-Length, then chunked) with curl; VmHWM
#      before and after each (growth must stay under 1 MiB).
#   5. bench/results/proxy.md: one table with the targets.
#
# Knobs: DURATION [10s] WARMUP [2s] THREADS [2] CONNECTIONS_LIST ["32 256"]
#   WRK_TIMEOUT [5s] PORT [18190] (uses PORT..PORT+5) SKIP_BUILD [0]
#   DOWNLOAD_BYTES [1073741824] UPLOAD_BYTES [104857600]
#   SHARED_RUN [../shared/bench/run.sh] (its floor binary is used)
#   RESULTS_MD [bench/results/proxy.md] BENCH_OUT [bench/work/proxy-<stamp>]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
THREADS="${THREADS:-2}"
CONNECTIONS_LIST="${CONNECTIONS_LIST:-32 256}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
PORT="${PORT:-18190}"
SKIP_BUILD="${SKIP_BUILD:-0}"
DOWNLOAD_BYTES="${DOWNLOAD_BYTES:-1073741824}"
UPLOAD_BYTES="${UPLOAD_BYTES:-104857600}"
SHARED_RUN="${SHARED_RUN:-../shared/bench/run.sh}"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH_OUT="${BENCH_OUT:-$BENCH_DIR/work/proxy-$STAMP}"
RESULTS_MD="${RESULTS_MD:-$BENCH_DIR/results/proxy.md}"
HOST=127.0.0.1 # loopback only, by design
UA="peer-bench/1"
BENCH_USER=user1
BENCH_PASS=password1
BIN="$ROOT/target/release/latchkey"
DATA="$BENCH_OUT/data"
SHARED_DIR="$(dirname "$SHARED_RUN")"
REPORT_LUA="$SHARED_DIR/wrk-report.lua"
if [ -n "${BENCH_WORK:-}" ]; then SHARED_WORK=$BENCH_WORK
elif [ -w "$SHARED_DIR" ]; then SHARED_WORK="$SHARED_DIR/work"
else SHARED_WORK="${XDG_CACHE_HOME:-$HOME/.cache}/latchkey-bench"; fi
MIO_BIN="$SHARED_WORK/floor-target/release/mio-hello"

FLOOR_PORT=$PORT            # mio-hello
LK_PORT=$((PORT + 1))       # latchkey --upstream
VERIFY_PORT=$((PORT + 2))   # latchkey for nginx auth_request
NGINX_AUTH_PORT=$((PORT + 3))
NGINX_PLAIN_PORT=$((PORT + 4))
BULK_PORT=$((PORT + 5))

log() { echo "[proxy-bench $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$BENCH_OUT"
for tool in wrk curl python3 awk nginx; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || die "$tool not found"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$MIO_BIN" ] || die "no floor binary at $MIO_BIN (run $SHARED_RUN once to build it)"

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

wait_answer() { # URL PID
    for _ in $(seq 200); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
vm() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"; } # kB
kv() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) print substr($i, n + 1) } }' <<<"$2"; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
rps_of() { calc "$(kv requests "$1") / ($(kv duration_us "$1") / 1e6)" 0; }
p99_of() { calc "$(kv p99_us "$1") / 1000" 2; }
errs_of() { echo "$(kv err_status "$1")/$(( $(kv err_connect "$1") + $(kv err_read "$1") + $(kv err_write "$1") + $(kv err_timeout "$1") ))"; }

wrk_row() { # NAME URL CONNECTIONS [header...] -> BENCH_RESULT line
    local name=$1 url=$2 conns=$3; shift 3
    local cmd=(wrk -t"$THREADS" -c"$conns" --timeout "$WRK_TIMEOUT" --latency -s "$REPORT_LUA" -H "User-Agent: $UA")
    local h; for h in "$@"; do cmd+=(-H "$h"); done
    [ "$WARMUP" = 0 ] || "${cmd[@]}" -d "$WARMUP" "$url" >"$BENCH_OUT/$name.warmup.txt" 2>&1 || true
    "${cmd[@]}" -d "$DURATION" "$url" >"$BENCH_OUT/$name.txt" 2>&1 || true
    grep '^BENCH_RESULT ' "$BENCH_OUT/$name.txt" | tail -1 || true
}

cookie_from() { # LOGIN_URL -> "name=value" of the session cookie
    curl -s -o /dev/null -D - --max-time 10 -A "$UA" \
        --data-urlencode "username=$BENCH_USER" --data-urlencode "password=$BENCH_PASS" "$1" |
        tr -d '\r' | awk 'tolower($1) == "set-cookie:" && /latchkey_session=/ { sub(/^[^:]*:[ \t]*/, ""); split($0, a, ";"); print a[1] }'
}

# ------------------------------------------------------------------ 1. --
if [ "$SKIP_BUILD" != 1 ]; then log "cargo build --release"; cargo build --release --locked --quiet; fi
[ -x "$BIN" ] || die "no $BIN"
rm -rf "$DATA"; mkdir -m 700 "$DATA"
echo 100000 >"$DATA/pbkdf2-iterations"
printf '%s\n' "$BENCH_PASS" | "$BIN" user add "$BENCH_USER" --password-stdin --data-dir "$DATA" 2>/dev/null

"$MIO_BIN" "$HOST:$FLOOR_PORT" >"$BENCH_OUT/mio-hello.log" 2>&1 &
FLOOR_PID=$!; STARTED+=("$FLOOR_PID")
wait_answer "http://$HOST:$FLOOR_PORT/" "$FLOOR_PID" || die "mio-hello did not start"

start_latchkey() { # PORT LOG [flags...] -> sets LK_PID
    local port=$1 logf=$2; shift 2
    "$BIN" serve --listen "$HOST:$port" --data-dir "$DATA" "$@" >"$logf" 2>&1 &
    LK_PID=$!; STARTED+=("$LK_PID")
}

start_latchkey "$LK_PORT" "$BENCH_OUT/latchkey-upstream.log" --upstream "http://$HOST:$FLOOR_PORT"
PROXY_PID=$LK_PID
wait_answer "http://$HOST:$LK_PORT/.latchkey/healthz" "$PROXY_PID" || die "latchkey --upstream did not start"
start_latchkey "$VERIFY_PORT" "$BENCH_OUT/latchkey-verify.log"
VERIFY_PID=$LK_PID
wait_answer "http://$HOST:$VERIFY_PORT/healthz" "$VERIFY_PID" || die "latchkey did not start"

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
    server {
        listen $HOST:$NGINX_AUTH_PORT;
        location = /_latchkey_verify {
            internal;
            proxy_pass http://$HOST:$VERIFY_PORT/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Forwarded-For \$remote_addr;
        }
        location / {
            auth_request /_latchkey_verify;
            auth_request_set \$latchkey_user \$upstream_http_remote_user;
            proxy_pass http://$HOST:$FLOOR_PORT;
            proxy_set_header Remote-User \$latchkey_user;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$remote_addr;
        }
    }
    server {
        listen $HOST:$NGINX_PLAIN_PORT;
        location / {
            proxy_pass http://$HOST:$FLOOR_PORT;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$remote_addr;
        }
    }
}
CONF
"$NGINX" -c "$BENCH_OUT/nginx.conf" -g 'daemon off;' >"$BENCH_OUT/nginx.out" 2>&1 &
NGINX_PID=$!; STARTED+=("$NGINX_PID")
wait_answer "http://$HOST:$NGINX_PLAIN_PORT/" "$NGINX_PID" || die "nginx did not start"

PROXY_COOKIE=$(cookie_from "http://$HOST:$LK_PORT/.latchkey/login")
VERIFY_COOKIE=$(cookie_from "http://$HOST:$VERIFY_PORT/login")
[ -n "$PROXY_COOKIE" ] && [ -n "$VERIFY_COOKIE" ] || die "login failed"
# Each row must answer the floor's body, logged in, and refuse without a cookie.
check() { # URL COOKIE
    [ "$(curl -s --max-time 5 -H "Cookie: $2" "$1")" = "Hello, world!" ] || die "$1 did not answer the floor's body"
}
check "http://$HOST:$LK_PORT/" "$PROXY_COOKIE"
check "http://$HOST:$NGINX_AUTH_PORT/" "$VERIFY_COOKIE"
check "http://$HOST:$NGINX_PLAIN_PORT/" ""
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$LK_PORT/")" = 302 ] || die "latchkey let an anonymous request through"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$NGINX_AUTH_PORT/")" = 401 ] || die "nginx auth_request let an anonymous request through"
sleep 1
RSS_IDLE=$(vm VmRSS "$PROXY_PID")

# ------------------------------------------------------------------ 2. --
declare -A R
for C in $CONNECTIONS_LIST; do
    log "== -c$C: latchkey --upstream"
    R[lk@$C]=$(wrk_row "latchkey-c$C" "http://$HOST:$LK_PORT/" "$C" "Cookie: $PROXY_COOKIE")
    log "== -c$C: nginx + auth_request"
    R[ngauth@$C]=$(wrk_row "nginx-auth-c$C" "http://$HOST:$NGINX_AUTH_PORT/" "$C" "Cookie: $VERIFY_COOKIE")
    log "== -c$C: nginx, no auth"
    R[ngplain@$C]=$(wrk_row "nginx-plain-c$C" "http://$HOST:$NGINX_PLAIN_PORT/" "$C")
    log "== -c$C: mio-hello direct"
    R[floor@$C]=$(wrk_row "floor-c$C" "http://$HOST:$FLOOR_PORT/" "$C")
done
RSS_PEAK=$(vm VmHWM "$PROXY_PID")
RSS_AFTER=$(vm VmRSS "$PROXY_PID")
stop_pid "$NGINX_PID"; stop_pid "$VERIFY_PID"; stop_pid "$PROXY_PID"

# ------------------------------------------------------------------ 4. --
python3 "$BENCH_DIR/bulk_upstream.py" "$BULK_PORT" >"$BENCH_OUT/bulk.log" 2>&1 &
BULK_PID=$!; STARTED+=("$BULK_PID")
wait_answer "http://$HOST:$BULK_PORT/upload" "$BULK_PID" || die "bulk upstream did not start"
start_latchkey "$LK_PORT" "$BENCH_OUT/latchkey-bulk.log" --upstream "http://$HOST:$BULK_PORT" --max-upload 128M
BULK_LK=$LK_PID
wait_answer "http://$HOST:$LK_PORT/.latchkey/healthz" "$BULK_LK" || die "latchkey (bulk) did not start"
BULK_COOKIE=$(cookie_from "http://$HOST:$LK_PORT/.latchkey/login")
# Warm up every path once with small bodies, so the baseline holds what any request needs.
curl -s -o /dev/null -H "Cookie: $BULK_COOKIE" "http://$HOST:$LK_PORT/download?bytes=1000000"
head -c 1000000 /dev/zero | curl -s -o /dev/null -H "Cookie: $BULK_COOKIE" -H "Content-Type: application/octet-stream" --data-binary @- "http://$HOST:$LK_PORT/upload"
sleep 1
truncate -s "$UPLOAD_BYTES" "$BENCH_OUT/upload.bin"

bulk() { # NAME OUT CURL-ARGS... -> "name hwm_before hwm_after seconds code down up"
    local name=$1 out_file=$2; shift 2
    local before after t0 t1 out
    before=$(vm VmHWM "$BULK_LK")
    t0=$(date +%s.%N)
    out=$(curl -s --max-time 600 -H "Cookie: $BULK_COOKIE" -o "$out_file" "$@" -w '%{http_code} %{size_download} %{size_upload}')
    t1=$(date +%s.%N)
    after=$(vm VmHWM "$BULK_LK")
    echo "$name $before $after $(calc "$t1 - $t0" 1) $out"
}
log "== bulk: ${DOWNLOAD_BYTES} B download, ${UPLOAD_BYTES} B uploads"
B_DOWN=$(bulk download /dev/null "http://$HOST:$LK_PORT/download?bytes=$DOWNLOAD_BYTES")
B_UP=$(bulk upload "$BENCH_OUT/upload.answer" -H "Content-Type: application/octet-stream" --data-binary "@$BENCH_OUT/upload.bin" "http://$HOST:$LK_PORT/upload")
UP_ANSWER=$(cat "$BENCH_OUT/upload.answer")
B_CHUNKED=$(bulk upload-chunked "$BENCH_OUT/upload-chunked.answer" -H "Content-Type: application/octet-stream" -H "Transfer-Encoding: chunked" -T "$BENCH_OUT/upload.bin" "http://$HOST:$LK_PORT/upload")
CHUNKED_ANSWER=$(cat "$BENCH_OUT/upload-chunked.answer")
rm -f "$BENCH_OUT/upload.bin"
stop_pid "$BULK_LK"; stop_pid "$BULK_PID"; stop_pid "$FLOOR_PID"

# ------------------------------------------------------------------ 5. --
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
{
    echo "# latchkey --upstream against nginx (bench/proxy.sh)"
    echo
    echo "Run $STAMP on $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r);"
    echo "$(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk -t$THREADS -d$DURATION after a $WARMUP warm-up, --timeout $WRK_TIMEOUT, GET / with a session cookie;"
    echo "every row in front of the same upstream, the shared harness's mio-hello (13-byte body); one nginx worker;"
    echo "nothing pinned, the machine shared with other work (load average at the start: $LOAD_AT_START)."
    echo "Raw output: bench/work/$(basename "$BENCH_OUT")."
    echo
    echo "| row | -c | req/s | p50 ms | p99 ms | non2xx/errors |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for C in $CONNECTIONS_LIST; do
        for pair in "lk:latchkey --upstream" "ngauth:nginx proxy_pass + auth_request (latchkey /verify)" "ngplain:nginx proxy_pass, no auth" "floor:mio-hello direct (no proxy)"; do
            k=${pair%%:*}; r=${R[$k@$C]}
            [ -n "$r" ] || { echo "| ${pair#*:} | $C | (no result) | | | |"; continue; }
            echo "| ${pair#*:} | $C | $(rps_of "$r") | $(calc "$(kv p50_us "$r") / 1000" 2) | $(p99_of "$r") | $(errs_of "$r") |"
        done
    done
    echo
    echo "| target | value | verdict |"
    echo "| --- | --- | --- |"
    for C in $CONNECTIONS_LIST; do
        lk=${R[lk@$C]}; ng=${R[ngauth@$C]}; pl=${R[ngplain@$C]}
        [ -n "$lk" ] && [ -n "$ng" ] && [ -n "$pl" ] || continue
        echo "| throughput at -c$C ≥ nginx + auth_request | $(rps_of "$lk") vs $(rps_of "$ng") req/s (×$(calc "$(rps_of "$lk") / $(rps_of "$ng")" 2)) | $(verdict "$(rps_of "$lk") >= $(rps_of "$ng")") |"
        echo "| p99 at -c$C ≤ nginx + auth_request | $(p99_of "$lk") vs $(p99_of "$ng") ms | $(verdict "$(kv p99_us "$lk") <= $(kv p99_us "$ng")") |"
        echo "| ratio to nginx without auth at -c$C (report) | ×$(calc "$(rps_of "$lk") / $(rps_of "$pl")" 2) throughput, p99 $(p99_of "$lk") vs $(p99_of "$pl") ms | — |"
    done
    echo "| idle RSS ≤ 2.5 MiB (after one login) | $RSS_IDLE kB | $(verdict "$RSS_IDLE <= 2560") |"
    echo "| peak RSS at -c256 ≤ 8 MiB | $RSS_PEAK kB VmHWM (VmRSS after: $RSS_AFTER kB) | $(verdict "$RSS_PEAK <= 8192") |"
    for b in "$B_DOWN" "$B_UP" "$B_CHUNKED"; do
        read -r name before after secs code down up <<<"$b"
        growth=$(( after - before ))
        echo "| $name RSS growth < 1 MiB | VmHWM $before → $after kB (+$growth kB); HTTP $code, $down B down, $up B up in $secs s | $(verdict "$growth < 1024 && $code == 200") |"
    done
    echo
    echo "The upstream counted the uploads it received: \`$UP_ANSWER\` (Content-Length), \`$CHUNKED_ANSWER\` (chunked, re-framed)."
} >"$RESULTS_MD"
cat "$RESULTS_MD"
