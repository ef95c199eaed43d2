-- Failover (CallStore.reassignCall): move a call no provider has accepted yet to another provider.
-- Only while the call is still "queued", so a call whose agent leg exists is never moved.
-- KEYS: 1 call hash
-- ARGV: 1 providerId, 2 providerKind, 3 failedOverFrom
-- Reply: 1 moved, 0 not queued or no such call
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
local base = cjson.decode(redis.call('HGET', KEYS[1], 'base'))
base.providerId = ARGV[1]
base.providerKind = ARGV[2]
base.failedOverFrom = ARGV[3]
redis.call('HSET', KEYS[1], 'base', cjson.encode(base))
return 1
