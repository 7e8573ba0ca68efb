dofile(os.getenv("BENCH_LUA_DIR") .. "/notify.lua")
-- Each connection waits this long between requests, so all together send at a fixed rate.
local pause = tonumber(os.getenv("BENCH_DELAY_MS"))
function delay()
  return pause
end
