-- Failover (CallStore.reassign): a call no provider has accepted yet moves to another provider,
-- and shows that provider's caller id: its pool number for the destination (sticky per provider,
-- as the click chose it) or its configured one ('' none: the field goes, the provider's default).
-- KEYS: 1 call, 2 cid
-- ARGV: 1 provider id, 2 provider kind, 3 failed over from, 4 now, 5 caller id, 6 pool
--       (",n1,n2,", '' = no pool), 7 destination, 8 stickiness (ms)
-- Reply: {1, caller id ('' = none)} moved, {0} the call has left "queued" (or is gone)
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return {0} end
local callerId = sticky_caller_id(KEYS[2], ARGV[1], ARGV[7], ARGV[5], ARGV[6], tonumber(ARGV[4]), tonumber(ARGV[8]))
redis.call('HSET', KEYS[1], 'providerId', ARGV[1], 'providerKind', ARGV[2], 'failedOverFrom', ARGV[3])
if callerId ~= '' then redis.call('HSET', KEYS[1], 'callerId', callerId) else redis.call('HDEL', KEYS[1], 'callerId') end
return {1, callerId}
