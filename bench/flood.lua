-- wrk script for the login flood: every request is a form POST to /login for
-- FLOOD_USER (default user1) with a wrong password, sent as fast as wrk can.
-- FLOOD_XFF=1 adds a random X-Forwarded-For from 198.18.0.0/15 (the range set
-- aside for benchmarks; it is only a header, no packet goes there), so that a
-- server run with --trusted-proxy 127.0.0.1 sees a new client address on
-- almost every request and only its global budget can push back.
-- done() prints one FLOOD_RESULT line with the answers counted per status.
local user = os.getenv("FLOOD_USER") or "user1"
local xff = os.getenv("FLOOD_XFF") == "1"
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  n = 0
  math.randomseed(os.time() * 100 + tid)
end

function request()
  n = n + 1
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  if xff then
    headers["X-Forwarded-For"] = string.format("198.%d.%d.%d",
      18 + math.random(0, 1), math.random(0, 255), math.random(1, 254))
  end
  return wrk.format("POST", "/login", headers,
    "username=" .. user .. "&password=wrong-" .. tid .. "-" .. n)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("counts")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format("s%d=%d", status, count))
  end
  table.sort(parts)
  local e = summary.errors
  io.write(string.format(
    "FLOOD_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d %s\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, " ")))
end
