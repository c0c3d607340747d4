-- wrk script for `scripts/bench ingest`: each request posts the next pre-signed WAHA webhook
-- from the file named by VENTROS_BENCH_BODIES (lines "HMAC<TAB>body"), so every request is a new
-- message. Threads take interleaved lines; latency percentiles are printed as JSON at the end.
local bodies = {}
local path = os.getenv("VENTROS_BENCH_BODIES")
local target = os.getenv("VENTROS_BENCH_PATH")
for line in io.lines(path) do
  local tab = line:find("\t", 1, true)
  bodies[#bodies + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
end

local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  -- A thread's init may run before the next thread exists: the count comes from the caller.
  nthreads = tonumber(os.getenv("VENTROS_BENCH_THREADS") or "2")
  next_index = id + 1
  non200 = 0
  exhausted = 0
end

function request()
  local b = bodies[next_index]
  if b == nil then
    -- Out of fresh webhooks: start over (these count as duplicates).
    exhausted = 1
    next_index = id + 1
    b = bodies[next_index]
  end
  next_index = next_index + nthreads
  return wrk.format("POST", target,
    { ["Content-Type"] = "application/json", ["X-Webhook-Hmac"] = b[1] }, b[2])
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local errors = 0
  local exhausted = 0
  for _, t in ipairs(threads) do
    errors = errors + (t:get("non200") or 0)
    exhausted = exhausted + (t:get("exhausted") or 0)
  end
  if exhausted > 0 then
    io.stderr:write("ingest.lua: ran out of distinct webhooks; give more with --count\n")
  end
  local label = os.getenv("VENTROS_BENCH_LABEL") or "sqlite"
  local secs = summary.duration / 1e6
  io.write(string.format('{"bench":"ingest","metric":"%s_webhooks_acked_per_second","value":%.2f,"unit":"msg/s"}\n',
    label, summary.requests / secs))
  io.write(string.format('{"bench":"ingest","metric":"%s_p50_latency_ms","value":%.2f,"unit":"ms"}\n',
    label, latency:percentile(50) / 1000))
  io.write(string.format('{"bench":"ingest","metric":"%s_p99_latency_ms","value":%.2f,"unit":"ms"}\n',
    label, latency:percentile(99) / 1000))
  io.write(string.format('{"bench":"ingest","metric":"%s_non_200","value":%d,"unit":"count"}\n',
    label, errors + summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
  io.write(string.format('{"bench":"ingest","metric":"%s_requests","value":%d,"unit":"count"}\n',
    label, summary.requests))
end
