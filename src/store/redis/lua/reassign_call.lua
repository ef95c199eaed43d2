-- Failover (CallStore.reassign): a call no provider has accepted yet moves to another provider.
-- KEYS: 1 call
-- ARGV: 1 provider id, 2 provider kind, 3 failed over from
-- Reply: 1 moved, 0 the call has left "queued" (or is gone)
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'providerId', ARGV[1], 'providerKind', ARGV[2], 'failedOverFrom', ARGV[3])
return 1
