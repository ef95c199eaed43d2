-- Patch a provider's fields (DirectoryStore.updateProvider); one script so concurrent patches never lose each other.
-- New regions must still serve every user on the provider (DESIGN rule 5 holds for existing
-- assignments too): otherwise nothing is written and the first users left out are named.
-- KEYS: 1 provider hash, 2 provider's users zset, 3 org region hash (user id → region)
-- ARGV: field/value pairs (always at least updatedAt)
-- Reply: {'ok', hgetall...} or {'!', 'provider_not_found'} or {'!', 'region_unavailable', count, userId, region...}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', 'provider_not_found'} end
local allow, deny
for i = 1, #ARGV, 2 do
  if ARGV[i] == 'allow' then allow = ARGV[i + 1] end
  if ARGV[i] == 'deny' then deny = ARGV[i + 1] end
end
if allow ~= nil or deny ~= nil then
  local members = redis.call('ZRANGE', KEYS[2], 0, -1)
  local regions = hmgetMany(KEYS[3], members)
  local out = {}
  local count = 0
  for i = 1, #members do
    local r = regions[i]
    if r and not serves(allow, deny, r) then
      count = count + 1
      if #out < 20 then
        out[#out + 1] = members[i]
        out[#out + 1] = r
      end
    end
  end
  if count > 0 then return append({'!', 'region_unavailable', count}, out) end
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return append({'ok'}, redis.call('HGETALL', KEYS[1]))
