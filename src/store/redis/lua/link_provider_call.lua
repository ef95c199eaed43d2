-- Map a provider's call id to our call so its webhooks find it (CallStore.linkProviderCall).
-- KEYS: 1 mapping string, 2 call hash
-- ARGV: 1 call id, 2 provider call id
redis.call('SET', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'providerCallId', ARGV[2]) end
return 1
