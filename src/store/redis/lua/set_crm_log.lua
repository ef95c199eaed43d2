-- Record the CRM log state of a call (CallStore.setCrmLog) without creating a phantom call.
-- KEYS: 1 call hash
-- ARGV: 1 crmLog JSON
-- Reply: 1 stored, 0 no such call
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'crmLog', ARGV[1])
return 1
