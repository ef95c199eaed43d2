-- Leave a user unassigned (DirectoryStore.unassignUser).
-- KEYS: 1 prov, 2 pu, 3 tokver
-- ARGV: 1 provider id, 2 user id
-- Reply: 1 done, 0 the user was not on this provider
if redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1] .. ' ' .. ARGV[2])
-- an unassigned user's agent tokens stop working
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return 1
