-- Install a provider record (DirectoryStore.createProvider); users are assigned afterwards.
-- KEYS: 1 providers, 2 pmeta, 3 ver
-- ARGV: 1 provider id, 2 provider JSON, 3 routing meta
-- Reply: 1 created, 0 the id exists
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
bump(KEYS[3])
return 1
