-- Add users to a provider (DirectoryStore.assignUsers, rules 3 and 5), each under the same rules
-- as one atomic step: never two providers, never outside the provider's regions.
-- KEYS: 1 provider hash, 2 provider user index, 3 org region hash, 4 org assignment hash
-- ARGV: 1 provider id, 2.. user ids (deduplicated)
-- Reply: {'ok', (userId, outcome, otherProviderId|'')...}; outcome a=assigned e=elsewhere r=region u=unknown
--        or {'!', 'provider_not_found'}
local pid = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', 'provider_not_found'} end
local a = redis.call('HMGET', KEYS[1], 'allow', 'deny')
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local regions = hmgetMany(KEYS[3], ids)
local provs = hmgetMany(KEYS[4], ids)
local out = {'ok'}
local add = {}
for i, uid in ipairs(ids) do
  local outcome, other = 'a', ''
  if not regions[i] then
    outcome = 'u'
  elseif provs[i] == pid then
    outcome = 'a'
  elseif provs[i] then
    outcome, other = 'e', provs[i]
  elseif not serves(a[1], a[2], regions[i]) then
    outcome = 'r'
  else
    add[#add + 1] = uid
  end
  out[#out + 1] = uid
  out[#out + 1] = outcome
  out[#out + 1] = other
end
hsetMany(KEYS[4], add, pid)
zaddMany(KEYS[2], add)
return out
