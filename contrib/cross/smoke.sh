#!/usr/bin/env bash
# Smoke test of a built latchkey binary, under qemu-user-static for a foreign
# architecture (or natively for the host's own):
#
#   contrib/cross/smoke.sh BINARY [QEMU_ARCH]
#
# QEMU_ARCH (aarch64, arm, mipsel, …) defaults to the binary's ELF machine. The test adds
# a user, serves on a free loopback port, logs in through the form (CSRF token and
# pre-session cookie included) and through the token API, asks the forward-auth and
# verify endpoints with and without credentials, and stops the service with SIGTERM,
# which must end it cleanly (exit 0). Any failure, or a missing tool, exits non-zero.
#
# Then HTTPS (issue 17), when the binary has the `tls` feature: `serve --tls` on the same
# data dir must create DATA/tls/cert.pem and key.pem on its first run, print a SHA-256
# fingerprint equal to `openssl x509 -fingerprint -sha256` of that file, serve the login
# page to `curl --cacert DATA/tls/cert.pem https://localhost:PORT/login` with Secure
# __Host- cookies, log in through POST /auth over TLS, refuse a client that does not
# trust the certificate, answer plain HTTP on its port with 400, stop on SIGTERM with
# exit 0, and keep the certificate on the next start. SMOKE_TLS=1 requires this part
# (CI: the default build has `tls`), SMOKE_TLS=0 skips it; by default it is skipped when
# `serve --tls` answers that this latchkey was built without tls.
# SMOKE_HANDSHAKES=N also opens N new HTTPS connections, one curl each (a full handshake,
# no resumption), and prints the service's CPU time per handshake: under qemu a relative
# figure between builds on one machine. Timings under emulation say nothing about a
# device's speed.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BINARY [QEMU_ARCH]" >&2; exit 2; }
bin="$(realpath "$1")"
[ -x "$bin" ] || { echo "smoke: $1 is not an executable file" >&2; exit 1; }

for tool in curl file; do
    command -v "$tool" >/dev/null || { echo "smoke: FAIL: '$tool' is not installed" >&2; exit 1; }
done

desc="$(file -b "$bin")"
if [ $# -ge 2 ]; then
    qarch="$2"
else
    case "$desc" in
        *x86-64*)            qarch=x86_64 ;;
        *aarch64*)           qarch=aarch64 ;;
        *"32-bit LSB"*ARM*)  qarch=arm ;;
        *"32-bit LSB"*MIPS*) qarch=mipsel ;;
        *) echo "smoke: cannot tell the architecture of $bin: $desc" >&2; exit 1 ;;
    esac
fi

run=()
if [ "$qarch" != "$(uname -m)" ]; then
    qemu="$(command -v "qemu-$qarch-static" || true)"
    [ -n "$qemu" ] || { echo "smoke: FAIL: qemu-$qarch-static is not installed (Debian package qemu-user-static)" >&2; exit 1; }
    run=("$qemu")
    # A dynamic binary needs its loader. With the multiarch libc6:<arch> installed it is
    # at its usual path, and qemu must not be given -L then (mixing that libc with the
    # cross libc's loader hangs thread creation); otherwise use the cross libc (mipsel).
    interp="$(echo "$desc" | sed -n 's/.*interpreter \([^,]*\),.*/\1/p')"
    if [ -n "$interp" ] && [ ! -e "$interp" ]; then
        found=""
        for dir in /usr/*-linux-gnu*; do
            [ -e "$dir$interp" ] && { found="$dir"; break; }
        done
        [ -n "$found" ] || { echo "smoke: FAIL: no loader $interp for $bin (install libc6:<arch> or the cross libc)" >&2; exit 1; }
        run+=(-L "$found")
    fi
fi
run+=("$bin")

work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() { # NAME COMMAND... : records a pass or a failure
    local name="$1"; shift
    if "$@"; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "FAIL - $name"
    fi
}
has() { grep -qiE "$2" "$1"; }
status_is() { [ "$(head -1 "$1" | cut -d' ' -f2)" = "$2" ]; }

data="$work/data"
user=smoke
password='a long smoke-test passphrase'

echo "smoke: $qarch: $("${run[@]}" --version 2>&1 | head -1 || true) on ${run[*]}"
echo "$password" | "${run[@]}" user add "$user" --password-stdin --data-dir "$data" 2>"$work/add.err" \
    || { cat "$work/add.err" >&2; echo "smoke: FAIL: user add" >&2; exit 1; }
check "user add creates the user" sh -c "\"\$@\" user list --data-dir '$data' 2>/dev/null | grep -qx '$user'" _ "${run[@]}"

"${run[@]}" serve --listen 127.0.0.1:0 --data-dir "$data" --title "Smoke test" 2>"$work/serve.err" &
pid=$!
base=""
for _ in $(seq 1 600); do
    base="$(sed -n 's|.*listening on \(http://[^/ ]*\)/.*|\1|p' "$work/serve.err" | head -1)"
    [ -n "$base" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.err" >&2; echo "smoke: FAIL: serve exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$base" ] || { cat "$work/serve.err" >&2; echo "smoke: FAIL: serve did not listen within 60s" >&2; exit 1; }
echo "smoke: serving on $base"

c=(curl -sS --max-time 60 -D -)
check "healthz answers ok" sh -c "\"\$@\" '$base/healthz' | grep -q '^ok'" _ "${c[@]}"

# Anonymous requests: a browser is sent to the login form, an API client gets 401.
"${c[@]}" -o /dev/null -H 'Accept: text/html' "$base/forward-auth" >"$work/fa-anon" || true
check "forward-auth sends an anonymous browser to the login form (302)" \
    sh -c "head -1 '$work/fa-anon' | grep -q ' 302' && grep -qi '^location: .*login' '$work/fa-anon'"
"${c[@]}" -o /dev/null -H 'Accept: application/json' "$base/forward-auth" >"$work/fa-api" || true
check "forward-auth answers an anonymous API client 401" status_is "$work/fa-api" 401
"${c[@]}" -o /dev/null "$base/verify" >"$work/verify-anon" || true
check "verify answers 401 without a session" status_is "$work/verify-anon" 401

# Form login: the form carries a CSRF token bound to the pre-session cookie.
jar="$work/cookies"
curl -sS --max-time 60 -c "$jar" -b "$jar" "$base/login?next=/" >"$work/login.html"
csrf="$(sed -n 's/.*name="csrf"[^>]*value="\([^"]*\)".*/\1/p' "$work/login.html" | head -1)"
[ -n "$csrf" ] || csrf="$(sed -n 's/.*value="\([^"]*\)"[^>]*name="csrf".*/\1/p' "$work/login.html" | head -1)"
check "login form has a CSRF token" test -n "$csrf"
curl -sS --max-time 60 -D - -o /dev/null -c "$jar" -b "$jar" -H 'Accept: text/html' \
    --data-urlencode "username=$user" --data-urlencode "password=wrong password" \
    --data-urlencode "csrf=$csrf" --data-urlencode "next=/" "$base/login" >"$work/login-bad" || true
check "a wrong password is refused (401)" status_is "$work/login-bad" 401
curl -sS --max-time 60 -D - -o /dev/null -c "$jar" -b "$jar" -H 'Accept: text/html' \
    --data-urlencode "username=$user" --data-urlencode "password=$password" \
    --data-urlencode "csrf=$csrf" --data-urlencode "next=/" "$base/login" >"$work/login-ok" || true
check "form login succeeds (303 to next)" status_is "$work/login-ok" 303
check "form login sets the session cookie" has "$work/login-ok" '^set-cookie: latchkey_session='
curl -sS --max-time 60 -b "$jar" "$base/" >"$work/welcome" || true
check "the session opens the protected page" has "$work/welcome" "welcome, $user"
curl -sS --max-time 60 -D - -o /dev/null -b "$jar" "$base/forward-auth" >"$work/fa-session" || true
check "forward-auth accepts the session (200)" status_is "$work/fa-session" 200
check "forward-auth names the user in Remote-User" has "$work/fa-session" "^remote-user: $user"
curl -sS --max-time 60 -D - -o /dev/null -b "$jar" "$base/verify" >"$work/verify-session" || true
check "verify accepts the session (200)" status_is "$work/verify-session" 200

# Token API (Flask-JWT style).
curl -sS --max-time 60 -H 'Content-Type: application/json' \
    -d "{\"username\":\"$user\",\"password\":\"$password\"}" "$base/auth" >"$work/auth.json" || true
token="$(sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p' "$work/auth.json")"
check "POST /auth returns an access token" test -n "$token"
curl -sS --max-time 60 -H "Authorization: JWT $token" "$base/protected" >"$work/protected" || true
check "the token opens /protected" has "$work/protected" "$user"
curl -sS --max-time 60 -D - -o /dev/null -H "Authorization: Bearer $token" "$base/forward-auth" >"$work/fa-token" || true
check "forward-auth accepts the bearer token (200)" status_is "$work/fa-token" 200
curl -sS --max-time 60 -D - -o /dev/null -H "Authorization: Bearer ${token}x" -H 'Accept: application/json' \
    "$base/forward-auth" >"$work/fa-badtoken" || true
check "forward-auth refuses a tampered token (401)" status_is "$work/fa-badtoken" 401

stop_service() { # SIGTERM to $pid, then waits up to 30 s; sets $code to its exit code or "timeout"
    code=0
    kill -TERM "$pid"
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        code=timeout
    else
        wait "$pid" || code=$?
    fi
    pid=""
}

# SIGTERM ends the service cleanly.
stop_service
check "SIGTERM stops the service with exit 0 (got $code)" test "$code" = 0
check "the service logs that it stopped" has "$work/serve.err" '^latchkey: stopped'
check "the log has the failed login" has "$work/serve.err" "login failed .*user=$user"

# HTTPS: `serve --tls` with a self-signed certificate made on first use (issue 17).
tls="${SMOKE_TLS:-auto}"
if [ "$tls" != 0 ]; then
    tlsdir="$data/tls"
    check "no certificate before the first --tls run" test ! -e "$tlsdir/cert.pem"
    "${run[@]}" serve --tls --listen 127.0.0.1:0 --data-dir "$data" --title "Smoke test" 2>"$work/tls.err" &
    pid=$!
    tbase=""
    # The first run generates a P-256 key and signs the certificate: allow for emulation.
    for _ in $(seq 1 1200); do
        tbase="$(sed -n 's|.*listening on \(https://[^/ ]*\)/.*|\1|p' "$work/tls.err" | head -1)"
        [ -n "$tbase" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" || true
            pid=""
            # --help lists --tls either way; only the start tells a plain build apart.
            if [ "$tls" = auto ] && grep -q 'built without tls' "$work/tls.err"; then
                tls=0
                echo "smoke: this latchkey was built without the tls feature: HTTPS not tested"
                break
            fi
            cat "$work/tls.err" >&2; echo "smoke: FAIL: serve --tls exited" >&2; exit 1
        fi
        sleep 0.1
    done
fi
if [ "$tls" != 0 ]; then
    [ -n "$tbase" ] || { cat "$work/tls.err" >&2; echo "smoke: FAIL: serve --tls did not listen within 120s" >&2; exit 1; }
    command -v openssl >/dev/null || { echo "smoke: FAIL: 'openssl' is not installed (needed for the TLS checks)" >&2; exit 1; }
    tport="${tbase##*:}"
    echo "smoke: serving HTTPS on $tbase"
    check "the first --tls run creates DATA/tls/cert.pem and key.pem" \
        test -s "$tlsdir/cert.pem" -a -s "$tlsdir/key.pem"
    check "DATA/tls/key.pem is private (0600)" test "$(stat -c %a "$tlsdir/key.pem")" = 600
    check "DATA/tls is private (0700)" test "$(stat -c %a "$tlsdir")" = 700
    printed="$(sed -n 's/.*TLS certificate .*SHA-256 fingerprint \([0-9A-F:]*\).*/\1/p' "$work/tls.err" | head -1)"
    actual="$(openssl x509 -noout -fingerprint -sha256 -in "$tlsdir/cert.pem" | sed 's/^.*Fingerprint=//')"
    echo "smoke: fingerprint printed: ${printed:-none}"
    check "the printed fingerprint is openssl's SHA-256 fingerprint of cert.pem" \
        test -n "$printed" -a "$printed" = "$actual"
    check "the certificate names localhost (subjectAltName)" \
        sh -c "openssl x509 -noout -ext subjectAltName -in '$tlsdir/cert.pem' | grep -q 'DNS:localhost'"

    # curl resolves localhost to the listening IPv4 address only, and must verify the
    # chain and the name against the generated certificate (no -k anywhere).
    tc=(curl -sS --max-time 120 --cacert "$tlsdir/cert.pem" --resolve "localhost:$tport:127.0.0.1")
    turl="https://localhost:$tport"
    tjar="$work/tls-cookies"
    "${tc[@]}" -D "$work/tls-login.h" -c "$tjar" "$turl/login?next=/" >"$work/tls-login.html" || true
    check "curl --cacert cert.pem gets the login page over HTTPS (200)" status_is "$work/tls-login.h" 200
    check "the HTTPS login page has the form and its CSRF token" has "$work/tls-login.html" 'name="csrf"'
    check "cookies over HTTPS are Secure, with the __Host- prefix" \
        has "$work/tls-login.h" '^set-cookie: __Host-[^=]*=.*; *secure'
    check "no cookie over HTTPS lacks the prefix" \
        sh -c "! grep -i '^set-cookie:' '$work/tls-login.h' | grep -qiv '^set-cookie: __Host-'"
    "${tc[@]}" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$user\",\"password\":\"$password\"}" "$turl/auth" >"$work/tls-auth.json" || true
    ttoken="$(sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p' "$work/tls-auth.json")"
    check "POST /auth over HTTPS returns an access token" test -n "$ttoken"
    "${tc[@]}" -D - -o /dev/null -H "Authorization: Bearer $ttoken" "$turl/forward-auth" >"$work/tls-fa" || true
    check "forward-auth over HTTPS accepts the token (200)" status_is "$work/tls-fa" 200
    check "a client without the certificate refuses the connection" \
        sh -c "! curl -sS --max-time 120 -o /dev/null --resolve 'localhost:$tport:127.0.0.1' '$turl/healthz' 2>/dev/null"
    curl -sS --max-time 60 -D - "http://127.0.0.1:$tport/healthz" >"$work/tls-plain" 2>/dev/null || true
    check "plain HTTP on the HTTPS port is told to use https:// (400), not served" \
        sh -c "head -1 '$work/tls-plain' | grep -q ' 400' && grep -q 'https://' '$work/tls-plain' && ! grep -q '^ok' '$work/tls-plain'"

    if [ "${SMOKE_HANDSHAKES:-0}" -gt 0 ]; then
        # The service's own CPU time (utime + stime of its process, qemu's when emulated)
        # per handshake; the wall-clock rate is mostly curl starting up.
        cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
        n="$SMOKE_HANDSHAKES"
        ok=0
        c0="$(cpu)"
        t0="$(date +%s.%N)"
        # Each from its own loopback address (127.0.0.10-249): the per-address handshake
        # rate (16/s after a burst of 32) would otherwise set the pace, not the handshakes.
        for i in $(seq 1 "$n"); do
            "${tc[@]}" --interface "127.0.0.$((10 + i % 240))" -o /dev/null "$turl/healthz" 2>/dev/null \
                && ok=$((ok + 1))
        done
        t1="$(date +%s.%N)"
        c1="$(cpu)"
        awk -v n="$n" -v ok="$ok" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v q="$qarch" 'BEGIN {
            printf "smoke: %d of %d HTTPS requests, each a new TLS connection: %.1f ms of service CPU each, %.1f/s wall clock (%s%s)\n",
                ok, n, 1000 * c / hz / n, n / (t1 - t0), q, (q == "x86_64" ? ", native" : ", under qemu: not device performance") }'
    fi

    stop_service
    check "SIGTERM stops the HTTPS service with exit 0 (got $code)" test "$code" = 0
    first_fp="$printed"
    # A second start keeps the certificate (a person checked its fingerprint once).
    "${run[@]}" serve --tls --listen 127.0.0.1:0 --data-dir "$data" 2>"$work/tls2.err" &
    pid=$!
    for _ in $(seq 1 1200); do
        grep -q 'listening on https://' "$work/tls2.err" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    printed2="$(sed -n 's/.*TLS certificate .*SHA-256 fingerprint \([0-9A-F:]*\).*/\1/p' "$work/tls2.err" | head -1)"
    check "a second --tls start reuses the certificate (same fingerprint)" test -n "$printed2" -a "$printed2" = "$first_fp"
    # A request answered also means the event loop runs, with its SIGTERM handler.
    tport2="$(sed -n 's|.*listening on https://[^/ ]*:\([0-9]*\)/.*|\1|p' "$work/tls2.err" | head -1)"
    check "the second start serves HTTPS with it" sh -c "curl -sS --max-time 120 --cacert '$tlsdir/cert.pem' \
        --resolve 'localhost:$tport2:127.0.0.1' 'https://localhost:$tport2/healthz' | grep -q '^ok'"
    stop_service
    check "SIGTERM stops the second HTTPS service with exit 0 (got $code)" test "$code" = 0
fi

echo "smoke: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    echo "--- service log" >&2
    cat "$work/serve.err" >&2
    for f in "$work/tls.err" "$work/tls2.err"; do
        [ -f "$f" ] && { echo "--- $(basename "$f")" >&2; cat "$f" >&2; }
    done
    exit 1
fi
