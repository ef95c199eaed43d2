-- Record a call's first CRM log state (RedisStore.initCrmLog) unless it already has one: marks a
-- freshly queued log "pending" without ever overwriting what a worker has written since, and
-- without creating a phantom call.
-- KEYS: 1 call hash
-- ARGV: 1 crmLog JSON
-- Reply: 1 stored, 0 the call already had a crmLog or does not exist
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'crmLog', ARGV[1])
