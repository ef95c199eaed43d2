-- Add users to a provider (DirectoryStore.assignUsers, rules 3 and 5), each under the same rules
-- as one atomic step: never two providers, never outside the provider's regions.
-- KEYS: 1 provider hash, 2 provider user index
-- ARGV: 1 org key prefix, 2 provider id, 3.. user ids (deduplicated)
-- Reply: {'ok', (userId, outcome, otherProviderId|'')...}; outcome a=assigned e=elsewhere r=region u=unknown
--        or {'!', 'provider_not_found'}
local P, pid = ARGV[1], ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', 'provider_not_found'} end
local a = redis.call('HMGET', KEYS[1], 'allow', 'deny')
local out = {'ok'}
local add = {}
for i = 3, #ARGV do
  local uid = ARGV[i]
  local uk = P .. 'u:' .. uid
  local f = redis.call('HMGET', uk, 'region', 'prov')
  local outcome, other = 'a', ''
  if not f[1] then
    outcome = 'u'
  elseif f[2] == pid then
    outcome = 'a'
  elseif f[2] then
    outcome, other = 'e', f[2]
  elseif not serves(a[1], a[2], f[1]) then
    outcome = 'r'
  else
    redis.call('HSET', uk, 'prov', pid)
    add[#add + 1] = uid
  end
  out[#out + 1] = uid
  out[#out + 1] = outcome
  out[#out + 1] = other
end
zaddMany(KEYS[2], add)
return out
