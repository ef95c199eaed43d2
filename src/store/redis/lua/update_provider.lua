-- Replace a provider's record (DirectoryStore.updateProvider) when it is still exactly the one the
-- patch was made on: concurrent patches never lose each other, the loser re-reads and retries.
-- New regions must still serve every user on the provider (DESIGN rule 5 holds for existing
-- assignments too): otherwise nothing is written and the first users left out are named.
-- KEYS: 1 providers, 2 pmeta, 3 pu, 4 region, 5 ver
-- ARGV: 1 provider id, 2 the record as read, 3 new JSON, 4 new meta, 5 '1' to check regions,
--       6 range min, 7 range max of the provider's users in pu
-- Reply: {'ok'} | {'!', 'provider_not_found'} | {'!', 'conflict'} | {'!', 'region_unavailable', count, userId, region...}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {'!', 'provider_not_found'} end
if cur ~= ARGV[2] then return {'!', 'conflict'} end
if ARGV[5] == '1' then
  local m = meta(ARGV[4])
  local members = redis.call('ZRANGEBYLEX', KEYS[3], ARGV[6], ARGV[7])
  local strip = string.len(ARGV[1]) + 1
  local out, count = {}, 0
  for i = 1, #members do
    local uid = string.sub(members[i], strip + 1)
    local r = redis.call('HGET', KEYS[4], uid)
    if r and not serves(m, r) then
      count = count + 1
      if #out < 20 then
        out[#out + 1] = uid
        out[#out + 1] = r
      end
    end
  end
  if count > 0 then return append({'!', 'region_unavailable', count}, out) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
bump(KEYS[5])
return {'ok'}
