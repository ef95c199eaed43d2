-- Uninstall a provider (DirectoryStore.deleteProvider, rule 6): refused while it has users unless
-- forced; forced, every user is unassigned in the same step.
-- KEYS: 1 provider hash, 2 org provider set, 3 provider user index
-- ARGV: 1 org key prefix, 2 provider id, 3 '1' to force
-- Reply: {'ok', 1|0} or {'!', 'provider_has_users', count}
local P, pid, force = ARGV[1], ARGV[2], ARGV[3] == '1'
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ok', 0} end
local count = redis.call('ZCARD', KEYS[3])
if count > 0 and not force then return {'!', 'provider_has_users', tostring(count)} end
if count > 0 then
  for _, uid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    local uk = P .. 'u:' .. uid
    if redis.call('HGET', uk, 'prov') == pid then redis.call('HDEL', uk, 'prov') end
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SREM', KEYS[2], pid)
return {'ok', 1}
