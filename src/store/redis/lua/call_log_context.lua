-- What a call-log job reads (RedisStore.loadCallLogContext), in one round trip and at one
-- instant: the call, the org's CRM config, and the call's user (profile and assignment).
-- Read-only. The user's hash key is built here from the call's userId; it shares the org's hash
-- tag, so it lives in the same Redis Cluster slot as the declared keys.
-- KEYS: 1 call hash, 2 CRM config, 3 org's assignment hash (user id → provider id)
-- ARGV: 1 user hash key prefix ("<org>u:")
-- Reply: {call fields (flat, empty when no call), CRM config JSON | nil, user fields (flat), provider id | nil}
local call = redis.call('HGETALL', KEYS[1])
local crm = redis.call('GET', KEYS[2])
local user, prov = {}, false
local base
for i = 1, #call, 2 do
  if call[i] == 'base' then base = call[i + 1] break end
end
if base then
  local ok, b = pcall(cjson.decode, base)
  if ok and type(b) == 'table' and type(b.userId) == 'string' and b.userId ~= '' then
    user = redis.call('HGETALL', ARGV[1] .. b.userId)
    prov = redis.call('HGET', KEYS[3], b.userId)
  end
end
return {call, crm, user, prov}
