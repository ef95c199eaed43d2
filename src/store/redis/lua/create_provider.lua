-- Install a provider record (DirectoryStore.createProvider); assignment is done by assign_users / install_all.
-- KEYS: 1 provider hash, 2 org provider set
-- ARGV: 1 provider id, 2.. field/value pairs
-- Reply: {'ok', hgetall...} or {'!', 'provider_exists'}
if redis.call('EXISTS', KEYS[1]) == 1 then return {'!', 'provider_exists'} end
local fv = {}
for i = 2, #ARGV do fv[#fv + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fv))
redis.call('SADD', KEYS[2], ARGV[1])
return append({'ok'}, redis.call('HGETALL', KEYS[1]))
