-- Remove a user with their assignment and DIDs (DirectoryStore.deleteUser).
-- KEYS: 1 profile, 2 uver, 3 users, 4 dids, 5 region, 6 prov, 7 regions, 8 pu, 9 ver, 10 tokver
-- ARGV: 1 user id
-- Reply: 1 deleted, 0 no such user
local uid = ARGV[1]
local old = redis.call('HGET', KEYS[1], uid)
if not old then return 0 end
local o = cjson.decode(old)
if type(o.numbers) == 'table' then
  for _, n in ipairs(o.numbers) do
    if redis.call('HGET', KEYS[4], n) == uid then redis.call('HDEL', KEYS[4], n) end
  end
end
local prov = redis.call('HGET', KEYS[6], uid)
if prov then redis.call('ZREM', KEYS[8], prov .. ' ' .. uid) end
local region = redis.call('HGET', KEYS[5], uid)
if region then countRegion(KEYS[7], KEYS[9], region, -1) end
redis.call('HDEL', KEYS[1], uid)
-- the version (KEYS[2]) is kept: a user created again under this id goes on from it, so a click
-- decided on the deleted user's snapshot is refused as stale
redis.call('HDEL', KEYS[5], uid)
redis.call('HDEL', KEYS[6], uid)
redis.call('ZREM', KEYS[3], uid)
-- the user's agent tokens stop working (kept, not removed: a user created again under this id
-- must not revive them)
redis.call('HINCRBY', KEYS[10], uid, 1)
return 1
