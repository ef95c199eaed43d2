-- Uninstall-from-old + add-to-new as one step (DirectoryStore.moveUser, rule 4): the user is never
-- on zero or two providers, whatever runs concurrently.
-- KEYS: 1 user hash, 2 target provider hash, 3 target provider user index
-- ARGV: 1 org key prefix, 2 user id, 3 target provider id
-- Reply: {'ok', hgetall...} or {'!', code, ...}
local P, uid, pid = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', 'user_not_found'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'!', 'provider_not_found'} end
local f = redis.call('HMGET', KEYS[1], 'region', 'prov')
if f[2] ~= pid then
  local a = redis.call('HMGET', KEYS[2], 'allow', 'deny')
  if not serves(a[1], a[2], f[1]) then return {'!', 'region_unavailable', pid, f[1]} end
  if f[2] then redis.call('ZREM', P .. 'pu:' .. f[2], uid) end
  redis.call('HSET', KEYS[1], 'prov', pid)
  redis.call('ZADD', KEYS[3], 0, uid)
end
return append({'ok'}, redis.call('HGETALL', KEYS[1]))
