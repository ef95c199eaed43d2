-- Store a new call and index it by time for the org and the user (CallStore.createCall), and by
-- its provider's call id when it already has one (an inbound call). With an admission (KEYS
-- beyond the fourth), the call is created only when its limits have room, and takes them.
-- KEYS: 1 call hash, 2 org call index, 3 user call index, 4 provider-call mapping,
--       5.. the admission's keys (take_limits in lib.lua)
-- ARGV: 1 sort key "<ms>:<id>", 2 '1' when the call has a user, 3 call id to map KEYS[4] to
--       ('' = none), 4 number F of field/value arguments, 5 .. 4+F field/value pairs,
--       then the admission's arguments
-- Reply: {1} created, or {0, index of the refusing limit, retryAfterMs} and nothing written
local nfv = tonumber(ARGV[4])
if #KEYS > 4 then
  local refused = take_limits(4, 4 + nfv)
  if refused then return {0, refused[1], refused[2]} end
end
local fv = {}
for i = 5, 4 + nfv do fv[#fv + 1] = ARGV[i] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fv))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[2] == '1' then redis.call('ZADD', KEYS[3], 0, ARGV[1]) end
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3]) end
return {1}
