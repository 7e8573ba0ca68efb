dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local batch_size = tonumber(os.getenv("BENCH_BATCH") or "100")
function request()
  local items = {}
  local id = unique_id()
  for i = 1, batch_size do
    items[i] = string.format(
      '{"type":"outgoing sms","id":"%s-%d","recipient":"+4670%07d","sender":"Bench",' ..
      '"status":"DELIVERED","done_unixtime":"1700000000"}', id, i, (sequence * 131 + i) % number_pool)
  end
  local body = '{"batch":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
