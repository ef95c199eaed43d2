-- Store a new call and index it by time for the org and the user (CallStore.createCall), and by
-- its provider's call id when it already has one (an inbound call).
-- KEYS: 1 call hash, 2 org call index, 3 user call index, 4 provider-call mapping
-- ARGV: 1 sort key "<ms>:<id>", 2 '1' when the call has a user, 3 call id to map KEYS[4] to
--       ('' = none), 4.. field/value pairs
local fv = {}
for i = 4, #ARGV do fv[#fv + 1] = ARGV[i] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fv))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[2] == '1' then redis.call('ZADD', KEYS[3], 0, ARGV[1]) end
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3]) end
return 1
