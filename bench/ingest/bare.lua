dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function request()
  local body = '{"id":"' .. unique_id() .. '","status":"delivered"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
