-- Uninstall-from-old + add-to-new as one step (DirectoryStore.moveUser, rule 4): the user is never
-- on zero or two providers, whatever runs concurrently.
-- KEYS: 1 pmeta, 2 pu, 3 region, 4 prov, 5 profile, 6 uver, 7 tokver
-- ARGV: 1 user id, 2 target provider id
-- Reply: {'ok', profile JSON, version} or {'!', code, ...}
local uid, pid = ARGV[1], ARGV[2]
local region = redis.call('HGET', KEYS[3], uid)
if not region then return {'!', 'user_not_found'} end
local m = meta(redis.call('HGET', KEYS[1], pid))
if not m then return {'!', 'provider_not_found'} end
local prov = redis.call('HGET', KEYS[4], uid)
if prov ~= pid then
  if not serves(m, region) then return {'!', 'region_unavailable', pid, region} end
  if prov then redis.call('ZREM', KEYS[2], prov .. ' ' .. uid) end
  redis.call('HSET', KEYS[4], uid, pid)
  redis.call('ZADD', KEYS[2], 0, pid .. ' ' .. uid)
  -- a moved user's agent tokens stop working
  redis.call('HINCRBY', KEYS[7], uid, 1)
end
return {'ok', redis.call('HGET', KEYS[5], uid), redis.call('HGET', KEYS[6], uid) or '0'}
