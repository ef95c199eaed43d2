-- Uninstall a provider (DirectoryStore.deleteProvider, rule 6): refused while it has users unless
-- forced; forced, every user is unassigned in the same step.
-- KEYS: 1 provider hash, 2 org provider set, 3 provider user index, 4 org assignment hash
-- ARGV: 1 provider id, 2 '1' to force
-- Reply: {'ok', 1|0} or {'!', 'provider_has_users', count}
local pid, force = ARGV[1], ARGV[2] == '1'
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ok', 0} end
local count = redis.call('ZCARD', KEYS[3])
if count > 0 and not force then return {'!', 'provider_has_users', tostring(count)} end
if count > 0 then
  local members = redis.call('ZRANGE', KEYS[3], 0, -1)
  local provs = hmgetMany(KEYS[4], members)
  local mine = {}
  for i = 1, #members do
    if provs[i] == pid then mine[#mine + 1] = members[i] end
  end
  for i = 1, #mine, 1000 do
    local slice = {}
    for j = i, math.min(i + 999, #mine) do slice[#slice + 1] = mine[j] end
    redis.call('HDEL', KEYS[4], unpack(slice))
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SREM', KEYS[2], pid)
return {'ok', 1}
