-- wrk script: the Leads API's first page of a random day.
--
--   GET /api/integrations/topkee/leads?limit=100&from_date=<day>&to_date=<next day>
--
-- The day is drawn per request from the DAYS days starting at START (the
-- window leads-seed.sql fills: 90 days from 2026-01-01). The service's key
-- comes from the environment (KEY), as do START, DAYS and LIMIT.
--
--   KEY=benchkey wrk -t2 -c32 -d20s --latency -s test/bench/leads-page.lua http://127.0.0.1:18291
--
-- done() prints the line run-leads.sh parses:
--   RESULT rps=<requests/s> p50_ms=<> p99_ms=<> requests=<> errors=<non-2xx + socket errors>

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local start_epoch, days, limit

local function epoch_of(date) -- "YYYY-MM-DD" at 00:00 UTC, in seconds
  local y, m, d = date:match("^(%d+)-(%d+)-(%d+)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  -- days from civil (Howard Hinnant), no dependence on the local time zone
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return (era * 146097 + doe - 719468) * 86400
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919 + math.floor(os.clock() * 1e6))
  start_epoch = epoch_of(os.getenv("START") or "2026-01-01")
  days = tonumber(os.getenv("DAYS") or "90")
  limit = os.getenv("LIMIT") or "100"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "benchkey")
end

function request()
  local d = math.random(0, days - 1)
  local from = os.date("!%Y-%m-%d", start_epoch + d * 86400)
  local to = os.date("!%Y-%m-%d", start_epoch + (d + 1) * 86400)
  return wrk.format("GET", "/api/integrations/topkee/leads?limit=" .. limit .. "&from_date=" .. from .. "&to_date=" .. to)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errs = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, errs))
end
