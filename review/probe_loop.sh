#!/bin/sh
# Times an HTTPS GET from 127.0.0.3 to port $1: the loop's responsiveness.
curl -sk -o /dev/null -w '%{http_code} %{time_total}s\n' --max-time ${2:-5} https://127.0.0.1:$1/healthz --interface 127.0.0.3 || echo "no answer within ${2:-5}s"
