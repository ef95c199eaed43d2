-- Create or replace a user (DirectoryStore.putUser).
-- KEYS: 1 user hash, 2 org user index, 3 org DID hash, 4 org provider set, 5 org region hash, 6 org assignment hash
-- ARGV: 1 org key prefix, 2 user id, 3 profile JSON, 4 region, 5 now, 6 DIDs ("\n"-joined)
-- Reply: {'ok', created 0|1, providerId|'', hgetall...} or {'!', code, ...}
local P, uid, profile, region, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local nums = split(ARGV[6])

for _, n in ipairs(nums) do
  local owner = redis.call('HGET', KEYS[3], n)
  if owner and owner ~= uid then return {'!', 'number_taken', n} end
end

local created = 0
local prov = false
if redis.call('HEXISTS', KEYS[5], uid) == 1 then
  prov = redis.call('HGET', KEYS[6], uid)
  if prov then
    local a = redis.call('HMGET', P .. 'p:' .. prov, 'allow', 'deny')
    if not serves(a[1], a[2], region) then return {'!', 'region_unavailable', prov, region} end
  end
  for _, n in ipairs(split(redis.call('HGET', KEYS[1], 'nums'))) do
    if redis.call('HGET', KEYS[3], n) == uid then redis.call('HDEL', KEYS[3], n) end
  end
  redis.call('HSET', KEYS[1], 'profile', profile, 'region', region, 'nums', ARGV[6], 'updatedAt', now)
else
  created = 1
  -- rules 2 and 5: the future-users provider serving the region with the lowest priority, then oldest, then smallest id
  local best, bestPrio, bestCreated
  for _, pid in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    local f = redis.call('HMGET', P .. 'p:' .. pid, 'future', 'allow', 'deny', 'priority', 'createdAt')
    if f[1] == '1' and serves(f[2], f[3], region) then
      local prio = tonumber(f[4]) or 0
      local c = f[5] or ''
      if not best or prio < bestPrio or (prio == bestPrio and (c < bestCreated or (c == bestCreated and pid < best))) then
        best, bestPrio, bestCreated = pid, prio, c
      end
    end
  end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'profile', profile, 'region', region, 'nums', ARGV[6], 'createdAt', now, 'updatedAt', now)
  redis.call('ZADD', KEYS[2], 0, uid)
  if best then
    prov = best
    redis.call('HSET', KEYS[6], uid, best)
    redis.call('ZADD', P .. 'pu:' .. best, 0, uid)
  end
end
redis.call('HSET', KEYS[5], uid, region)

for _, n in ipairs(nums) do redis.call('HSET', KEYS[3], n, uid) end
return append({'ok', created, prov or ''}, redis.call('HGETALL', KEYS[1]))
