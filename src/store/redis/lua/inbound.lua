-- An inbound call to a DID (CallStore.inbound): the DID's user, only if they are on this
-- provider; the call created ringing, linked to the provider's call id and listed; the screen
-- pop (call.incoming) published, all at one instant.
-- KEYS: 1 dids, 2 prov, 3 profile, 4 call, 5 calls, 6 ucalls, 7 pc, 8 livecalls, 9 events channel
-- ARGV: 1 now, 2 DID, 3 provider id, 4 call id, 5 sort key, 6 provider link field, then the
--       call's field/value pairs
-- Reply: {'none'} or {'ok', profile JSON, call hash...}
local uid = redis.call('HGET', KEYS[1], ARGV[2])
if not uid or redis.call('HGET', KEYS[2], uid) ~= ARGV[3] then return {'none'} end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'userId'
fields[#fields + 1] = uid
store_call(KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], fields, ARGV[5], uid, ARGV[6], ARGV[4], tonumber(ARGV[1]))
local h = redis.call('HGETALL', KEYS[4])
publish_call(KEYS[9], 'call.incoming', h)
return append({'ok', redis.call('HGET', KEYS[3], uid)}, h)
