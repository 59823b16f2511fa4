-- Replays pre-signed webhook events with wrk, one event per request, optionally at a fixed rate.
--
-- Environment (read by every Lua state wrk creates):
--   BENCH_EVENTS  file of events, one per line: "<X-ZEvent-Signature>\t<JSON body>"
--   BENCH_RATE    events per second for this wrk instance, spread over its threads (0: flat out)
--   BENCH_WRAP    "1" to start the file again when it runs out (the bare app); otherwise the
--                 last event is repeated and counted as "reused" (the service answers a duplicate)
--
-- A fixed rate works like wrk2's: every request has a slot on a schedule (start + k / rate);
-- a free connection waits for the next slot, or sends at once when the schedule is behind.
-- wrk asks each thread for one request before the run starts and never sends it: the file's
-- first event per thread is skipped (harmless: every event still has its own msg_id).
-- done() prints one JSON line (prefix "BENCH_JSON ") with counts and latency quantiles.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local rate = tonumber(os.getenv("BENCH_RATE") or "0") or 0
local wrap = os.getenv("BENCH_WRAP") == "1"
local threads = {}
local requests = {}
local index = 0
local interval = nil
local next_at = nil
reused = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Each thread takes every n-th line, so threads never send the same event.
  local count = tonumber(os.getenv("BENCH_THREADS") or "1")
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_EVENTS")) do
    if line_no % count == thread_index then
      local tab = line:find("\t", 1, true)
      local headers = {
        ["Content-Type"] = "application/json",
        ["X-ZEvent-Signature"] = line:sub(1, tab - 1),
      }
      table.insert(requests, wrk.format("POST", "/zalo/webhook", headers, line:sub(tab + 1)))
    end
    line_no = line_no + 1
  end
  if rate > 0 then
    interval = 1000.0 * count / rate
  end
end

function request()
  index = index + 1
  if index > #requests then
    if wrap then
      index = 1
    else
      index = #requests
      reused = reused + 1
    end
  end
  return requests[index]
end

if rate > 0 then
  function delay()
    local now = now_ms()
    if next_at == nil then
      next_at = now
    end
    local wait = next_at - now
    next_at = next_at + interval
    if wait < 0 then
      return 0
    end
    return wait
  end
end

function done(summary, latency, _requests)
  local total_reused = 0
  for _, thread in ipairs(threads) do
    total_reused = total_reused + (thread:get("reused") or 0)
  end
  local quantiles = {}
  for i = 1, 1000 do
    quantiles[i] = string.format("%d", latency:percentile(i / 10))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "status_errors": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"reused": %d, "max_us": %d, "quantiles_us": [%s]}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, total_reused, latency.max, table.concat(quantiles, ",")))
end
