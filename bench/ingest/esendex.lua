dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function request()
  local id = unique_id()
  local body = "<InboundMessage><Id>" .. id .. "</Id><MessageId>m-" .. id .. "</MessageId>" ..
    "<AccountId>EX0000000</AccountId><MessageText>Bench message</MessageText>" ..
    "<From>" .. unique_number() .. "</From><To>447700900999</To></InboundMessage>"
  return wrk.format("POST", nil, {["Content-Type"] = "application/xml"}, body)
end
