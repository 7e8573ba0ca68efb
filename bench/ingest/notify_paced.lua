dofile(os.getenv("BENCH_LUA_DIR") .. "/notify.lua")
-- Paced: each connection waits a random time between requests (exponential, mean
-- BENCH_DELAY_MS, so all together send at a fixed average rate),
-- so requests arrive as from independent senders instead of in step with the answers.
local mean = tonumber(os.getenv("BENCH_DELAY_MS"))
local seeded = false
function delay()
  if not seeded then
    math.randomseed(os.time() * 1000 + thread_id)
    seeded = true
  end
  return math.floor(-mean * math.log(1 - math.random()) + 0.5)
end
