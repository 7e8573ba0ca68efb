dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local token = os.getenv("BENCH_TOKEN")
function request()
  local body = '{"id":"' .. unique_id() .. '","reference":"bench","to":"' .. unique_number() .. '",' ..
    '"status":"delivered","notification_type":"sms",' ..
    '"created_at":"2026-11-22T10:00:00.000000Z","completed_at":"2026-11-22T10:00:05.000000Z",' ..
    '"sent_at":"2026-11-22T10:00:01.000000Z"}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
