-- Shared wrk plumbing: per-thread counters of 200 answers, and a JSON summary at the end.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  other = 0
  sequence = 0
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

-- A unique id per request: the run's id (from the runner), thread id and a sequence number.
run_prefix = os.getenv("BENCH_RUN_ID")
function unique_id()
  sequence = sequence + 1
  return string.format("%s-%04d-%010d", run_prefix, thread_id, sequence)
end

-- Recipients drawn from a pool (BENCH_NUMBERS, default 10,000 people), as a service's
-- customers are: requests spread over many conversations, and numbers recur.
number_pool = tonumber(os.getenv("BENCH_NUMBERS") or "10000")
function unique_number()
  return string.format("+4477009%05d", (thread_id * 7919 + sequence * 31) % number_pool)
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
  end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "ok": %d, "other": %d, "errors": %d, "duration_us": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, total_ok, total_other,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99), latency.max))
end
