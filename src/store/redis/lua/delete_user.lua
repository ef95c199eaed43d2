-- Remove a user, their assignment and their DIDs (DirectoryStore.deleteUser).
-- KEYS: 1 user hash, 2 org user index, 3 org DID hash, 4 org region hash, 5 org assignment hash
-- ARGV: 1 org key prefix, 2 user id
-- Reply: 1 removed, 0 none
local P, uid = ARGV[1], ARGV[2]
if redis.call('HEXISTS', KEYS[4], uid) == 0 then return 0 end
local prov = redis.call('HGET', KEYS[5], uid)
if prov then redis.call('ZREM', P .. 'pu:' .. prov, uid) end
for _, n in ipairs(split(redis.call('HGET', KEYS[1], 'nums'))) do
  if redis.call('HGET', KEYS[3], n) == uid then redis.call('HDEL', KEYS[3], n) end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], uid)
redis.call('HDEL', KEYS[4], uid)
redis.call('HDEL', KEYS[5], uid)
return 1
