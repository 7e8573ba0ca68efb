-- wrk script for bench/graphql/side_by_side.py: POST one GraphQL document again and again.
-- BENCH_BODY_FILE holds the JSON body; BENCH_AUTHORIZATION, when set, the Authorization
-- header. An answer counts as good when it is a 200 without a top-level "errors" member;
-- the first bad one of each thread is printed (WRK_SAMPLE) for the runner to show.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

-- A body holding __ANY__ gets a different number there on every request (0 to
-- BENCH_ANY_COUNT - 1): the same document with other variables each time.
local any_count = tonumber(os.getenv("BENCH_ANY_COUNT") or "")
if any_count and string.find(wrk.body, "__ANY__", 1, true) then
  local template = wrk.body
  request = function()
    local body = string.gsub(template, "__ANY__", tostring(math.random(0, any_count - 1)))
    return wrk.format(nil, nil, nil, body)
  end
end

function init(args)
  ok = 0
  bad = 0
  sample = ""
end

function response(status, headers, body)
  if status == 200 and not string.find(body, '"errors":', 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
    if sample == "" then
      sample = status .. " " .. string.sub(string.gsub(body, "[\r\n]", " "), 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local total_ok, total_bad = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    if thread:get("sample") ~= "" then
      io.write("WRK_SAMPLE " .. thread:get("sample") .. "\n")
    end
  end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "ok": %d, "bad": %d, "errors": %d, "duration_us": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, total_ok, total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
