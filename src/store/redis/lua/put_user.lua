-- Create or replace a user (DirectoryStore.putUser).
-- KEYS: 1 profile, 2 uver, 3 users, 4 dids, 5 region, 6 prov, 7 regions, 8 pmeta, 9 pu, 10 ver
-- ARGV: 1 user id, 2 profile JSON without createdAt/updatedAt (an object with at least one
--       field), 3 region, 4 now, 5 DIDs ("\n"-joined)
-- Reply: {'ok', created 0|1, providerId|'', profile JSON, version} or {'!', code, ...}
local uid, profile, region, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nums = split(ARGV[5])

for _, n in ipairs(nums) do
  local owner = redis.call('HGET', KEYS[4], n)
  if owner and owner ~= uid then return {'!', 'number_taken', n} end
end

local old = redis.call('HGET', KEYS[1], uid)
local oldRegion = redis.call('HGET', KEYS[5], uid)
local created = 0
local prov = false
local createdAt = now
if old then
  prov = redis.call('HGET', KEYS[6], uid)
  if prov then
    local m = meta(redis.call('HGET', KEYS[8], prov))
    if m and not serves(m, region) then return {'!', 'region_unavailable', prov, region} end
  end
  local o = cjson.decode(old)
  createdAt = o.createdAt or now
  if type(o.numbers) == 'table' then
    for _, n in ipairs(o.numbers) do
      if redis.call('HGET', KEYS[4], n) == uid then redis.call('HDEL', KEYS[4], n) end
    end
  end
else
  created = 1
  -- rules 2 and 5: the future-users provider serving the region with the lowest priority, then oldest, then smallest id
  local all = redis.call('HGETALL', KEYS[8])
  local best, bestM
  for i = 1, #all, 2 do
    local pid, m = all[i], meta(all[i + 1])
    if m and m.future and serves(m, region) then
      if not best or m.priority < bestM.priority or (m.priority == bestM.priority and (m.createdAt < bestM.createdAt or (m.createdAt == bestM.createdAt and pid < best))) then
        best, bestM = pid, m
      end
    end
  end
  redis.call('ZADD', KEYS[3], 0, uid)
  if best then
    prov = best
    redis.call('HSET', KEYS[6], uid, best)
    redis.call('ZADD', KEYS[9], 0, best .. ' ' .. uid)
  end
end

if oldRegion ~= region then
  if oldRegion then countRegion(KEYS[7], KEYS[10], oldRegion, -1) end
  countRegion(KEYS[7], KEYS[10], region, 1)
end
redis.call('HSET', KEYS[5], uid, region)
local full = string.sub(profile, 1, -2) .. ',"createdAt":"' .. createdAt .. '","updatedAt":"' .. now .. '"}'
redis.call('HSET', KEYS[1], uid, full)
local v = redis.call('HINCRBY', KEYS[2], uid, 1)
for _, n in ipairs(nums) do redis.call('HSET', KEYS[4], n, uid) end
return {'ok', created, prov or '', full, v}
