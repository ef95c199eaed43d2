-- Claim an idempotency key (CallStore.claimIdempotency): set it when free, else return what is there.
-- KEYS: 1 idempotency key
-- ARGV: 1 record JSON, 2 ttl seconds
-- Reply: nil when claimed now, else the stored record JSON
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
