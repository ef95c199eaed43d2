-- Patch a provider's fields (DirectoryStore.updateProvider); one script so concurrent patches never lose each other.
-- KEYS: 1 provider hash
-- ARGV: field/value pairs (always at least updatedAt)
-- Reply: {'ok', hgetall...} or {'!', 'provider_not_found'}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', 'provider_not_found'} end
redis.call('HSET', KEYS[1], unpack(ARGV))
return append({'ok'}, redis.call('HGETALL', KEYS[1]))
