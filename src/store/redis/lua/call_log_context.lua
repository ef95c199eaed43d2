-- What one call-log job reads, in one round trip (CallStore.callLogContext): the call, the org's
-- CRM config, and the call's user with their assignment.
-- KEYS: 1 call, 2 settings, 3 profile, 4 prov
-- Reply: {call hash, CRM config JSON|false, user profile JSON|false, providerId|false}
local call = redis.call('HGETALL', KEYS[1])
local uid = redis.call('HGET', KEYS[1], 'userId')
local profile, prov = false, false
if uid and uid ~= '' then
  profile = redis.call('HGET', KEYS[3], uid)
  prov = redis.call('HGET', KEYS[4], uid)
end
return {call, redis.call('HGET', KEYS[2], 'crm'), profile, prov}
