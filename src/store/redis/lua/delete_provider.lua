-- Uninstall a provider (DirectoryStore.deleteProvider, rule 6): refused while it has users unless
-- forced; forced, every user is unassigned in the same step. Its health goes with it.
-- KEYS: 1 providers, 2 pmeta, 3 pu, 4 prov, 5 health, 6 ver, 7 tokver
-- ARGV: 1 provider id, 2 '1' to force, 3 range min, 4 range max of its users in pu
-- Reply: {'ok', 1|0} or {'!', 'provider_has_users', count}
local pid, force = ARGV[1], ARGV[2] == '1'
if redis.call('HEXISTS', KEYS[1], pid) == 0 then return {'ok', 0} end
local count = redis.call('ZLEXCOUNT', KEYS[3], ARGV[3], ARGV[4])
if count > 0 and not force then return {'!', 'provider_has_users', tostring(count)} end
if count > 0 then
  local members = redis.call('ZRANGEBYLEX', KEYS[3], ARGV[3], ARGV[4])
  local strip = string.len(pid) + 1
  for i = 1, #members do
    local uid = string.sub(members[i], strip + 1)
    if redis.call('HGET', KEYS[4], uid) == pid then
      redis.call('HDEL', KEYS[4], uid)
      -- unassigned: the user's agent tokens stop working
      redis.call('HINCRBY', KEYS[7], uid, 1)
    end
  end
  redis.call('ZREMRANGEBYLEX', KEYS[3], ARGV[3], ARGV[4])
end
redis.call('HDEL', KEYS[1], pid)
redis.call('HDEL', KEYS[2], pid)
redis.call('HDEL', KEYS[5], pid)
bump(KEYS[6])
return {'ok', 1}
