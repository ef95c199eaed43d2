-- Take a user off a provider, leaving them unassigned (DirectoryStore.unassignUser, rule 6).
-- KEYS: 1 org assignment hash, 2 provider user index
-- ARGV: 1 provider id, 2 user id
-- Reply: 1 when the user was on that provider, else 0
if redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
