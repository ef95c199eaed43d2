-- Uninstall-from-old + add-to-new as one step (DirectoryStore.moveUser, rule 4): the user is never
-- on zero or two providers, whatever runs concurrently.
-- KEYS: 1 user hash, 2 target provider hash, 3 target provider user index, 4 org region hash, 5 org assignment hash
-- ARGV: 1 org key prefix, 2 user id, 3 target provider id
-- Reply: {'ok', providerId, hgetall...} or {'!', code, ...}
local P, uid, pid = ARGV[1], ARGV[2], ARGV[3]
local region = redis.call('HGET', KEYS[4], uid)
if not region then return {'!', 'user_not_found'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'!', 'provider_not_found'} end
local prov = redis.call('HGET', KEYS[5], uid)
if prov ~= pid then
  local a = redis.call('HMGET', KEYS[2], 'allow', 'deny')
  if not serves(a[1], a[2], region) then return {'!', 'region_unavailable', pid, region} end
  if prov then redis.call('ZREM', P .. 'pu:' .. prov, uid) end
  redis.call('HSET', KEYS[5], uid, pid)
  redis.call('ZADD', KEYS[3], 0, uid)
end
return append({'ok', pid}, redis.call('HGETALL', KEYS[1]))
