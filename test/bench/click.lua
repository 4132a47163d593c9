-- wrk script: POST one widget click per request, each from a fresh device id,
-- with a desktop browser User-Agent (so the click counts as a person's and
-- emits a widget.click event, which is what fills the outbox and River).
--
--   wrk -t2 -c32 -d20s --latency -s test/bench/click.lua http://127.0.0.1:18181/api/widget/click
--
-- done() prints one machine-readable line that run-clicks.sh parses:
--   RESULT rps=<requests/s> p50_ms=<> p99_ms=<> requests=<> errors=<non-2xx + socket errors>

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  -- A different sequence per thread and per run.
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919 + math.floor(os.clock() * 1e6))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
end

local hex = "0123456789abcdef"

local function device_id()
  local t = {}
  for i = 1, 16 do
    local n = math.random(1, 16)
    t[i] = hex:sub(n, n)
  end
  return "wrk-" .. (tid or 0) .. "-" .. table.concat(t)
end

function request()
  local body = '{"click_url":"https://example.com/landing?utm_source=google&gclid=AbCd123","device_id":"' .. device_id() .. '"}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errs = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, errs))
end
