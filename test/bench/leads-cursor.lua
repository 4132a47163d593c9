-- wrk script: partners paging through one day of the Leads API by cursor.
--
-- Every connection walks a random day of the DAYS days from START:
--   GET /api/integrations/topkee/leads?limit=100&from_date=<day>&to_date=<next day>
-- then follows the next_cursor of each response (&cursor=<next_cursor>) until
-- it is null, and starts again at the first page of another random day. With
-- ~11,100 leads a day and limit=100, about 1 request in 112 is a first page.
--
--   KEY=benchkey wrk -t2 -c32 -d20s --latency -s test/bench/leads-cursor.lua http://127.0.0.1:18291
--
-- Each wrk thread has its own Lua state, and wrk does not say which connection
-- a response came on, so the walks are not tied to connections: response()
-- queues the cursor it read, together with the walk's day (the date of the
-- page's last created_at: windows are whole UTC days), and request() takes
-- the oldest queued cursor or, when none is queued, starts a new walk. Each
-- cursor read is followed exactly once, so at any moment at most one request
-- per walk is in flight, and a thread has as many walks going as it has
-- connections.
--
-- done() prints the line run-leads.sh parses:
--   RESULT rps=<> p50_ms=<> p99_ms=<> requests=<> errors=<> first_pages=<> cursor_pages=<> walks_done=<> bad=<>

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local start_epoch, days, limit
local pending = {}          -- queue of walks waiting for their next request
local head, tail = 1, 0
first_pages, cursor_pages, walks_done, bad = 0, 0, 0, 0

local function epoch_of(date)
  local y, m, d = date:match("^(%d+)-(%d+)-(%d+)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
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

-- window is the first page's path of the UTC day "YYYY-MM-DD".
local function window(day)
  return "/api/integrations/topkee/leads?limit=" .. limit .. "&from_date=" .. day ..
    "&to_date=" .. os.date("!%Y-%m-%d", epoch_of(day) + 86400)
end

local function new_walk()
  return { path = window(os.date("!%Y-%m-%d", start_epoch + math.random(0, days - 1) * 86400)) }
end

function request()
  local walk
  if head <= tail then
    walk = pending[head]; pending[head] = nil; head = head + 1
  else
    walk = new_walk()
  end
  if walk.cursor then
    cursor_pages = cursor_pages + 1
    return wrk.format("GET", walk.path .. "&cursor=" .. walk.cursor)
  end
  first_pages = first_pages + 1
  return wrk.format("GET", walk.path)
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1; return end
  local i = body:find('"next_cursor":', math.max(1, #body - 400), true)
  if not i then bad = bad + 1; return end
  local cursor = body:match('^"next_cursor":"([^"]+)"', i)
  if not cursor then
    walks_done = walks_done + 1
    return
  end
  -- The last item's created_at (the last "created_at" before next_cursor).
  local day, pos = nil, math.max(1, i - 2000)
  while true do
    local s, e, d = body:find('"created_at":"(%d%d%d%d%-%d%d%-%d%d)T', pos)
    if not s or s > i then break end
    day, pos = d, e + 1
  end
  if not day then bad = bad + 1; return end
  tail = tail + 1; pending[tail] = { path = window(day), cursor = cursor }
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errs = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  local fp, cp, wd, b = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    fp = fp + t:get("first_pages"); cp = cp + t:get("cursor_pages"); wd = wd + t:get("walks_done"); b = b + t:get("bad")
  end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d first_pages=%d cursor_pages=%d walks_done=%d bad=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, errs, fp, cp, wd, b))
end
