-- A call with no limits to take (CallStore.createCall: trial calls): stored and listed.
-- KEYS: 1 call, 2 calls, 3 ucalls, 4 pc, 5 livecalls
-- ARGV: 1 now, 2 call id, 3 sort key, 4 user id ('' = none), 5 provider link field ('' = none),
--       then the call's field/value pairs
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
store_call(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], fields, ARGV[3], ARGV[4], ARGV[5], ARGV[2], tonumber(ARGV[1]))
return 1
