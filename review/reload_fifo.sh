#!/bin/sh
# Reproducer: a --tls-cert/--tls-key file replaced by a FIFO (or a symlink to /dev/zero,
# or a huge file) while serving. Before the fix, the FIFO hung the event loop for good
# (open(2) of a FIFO blocks until a writer comes) and /dev/zero was read until memory
# ran out. Expected: "not reloaded" logged, the old certificate kept, the loop serving.
# Usage: reload_fifo.sh PORT (31000-39999)
set -u
PORT=${1:-31460}
BIN=$(dirname "$0")/../target/debug/latchkey
W=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/key.pem" \
  -out "$W/cert.pem" -days 30 -subj /CN=localhost 2>/dev/null
"$BIN" serve --data-dir "$W/data" --listen 127.0.0.1:$PORT --tls-cert "$W/cert.pem" \
  --tls-key "$W/key.pem" >"$W/log" 2>&1 &
PID=$!
sleep 2
probe() { curl -sk -o /dev/null -w "%{http_code} %{time_total}s\n" --max-time 3 https://127.0.0.1:$PORT/healthz || echo "no answer in 3 s"; }
probe
mv "$W/key.pem" "$W/key.real"; mkfifo "$W/key.pem"; sleep 2.5
echo "key.pem is a FIFO:"; probe
rm "$W/key.pem"; ln -s /dev/zero "$W/key.pem"; sleep 2.5
echo "key.pem -> /dev/zero:"; probe; grep VmRSS /proc/$PID/status
rm "$W/key.pem"; cp "$W/key.real" "$W/key.pem"; sleep 2.5
echo "key.pem back:"; probe
grep "reloaded\|not reloaded" "$W/log"
kill $PID; rm -rf "$W"
