-- Add users to a provider (DirectoryStore.assignUsers, rules 3 and 5), each under the same rules
-- as one atomic step: never two providers, never outside the provider's regions.
-- KEYS: 1 pmeta, 2 pu, 3 region, 4 prov
-- ARGV: 1 provider id, 2.. user ids (deduplicated)
-- Reply: {'ok', (userId, outcome, otherProviderId|'')...}; outcome a=assigned e=elsewhere r=region u=unknown
--        or {'!', 'provider_not_found'}
local pid = ARGV[1]
local m = meta(redis.call('HGET', KEYS[1], pid))
if not m then return {'!', 'provider_not_found'} end
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local regions = hmgetMany(KEYS[3], ids)
local provs = hmgetMany(KEYS[4], ids)
local out = {'ok'}
local add, members = {}, {}
for i, uid in ipairs(ids) do
  local outcome, other = 'a', ''
  if not regions[i] then
    outcome = 'u'
  elseif provs[i] == pid then
    outcome = 'a'
  elseif provs[i] then
    outcome, other = 'e', provs[i]
  elseif not serves(m, regions[i]) then
    outcome = 'r'
  else
    add[#add + 1] = uid
    members[#members + 1] = pid .. ' ' .. uid
  end
  out[#out + 1] = uid
  out[#out + 1] = outcome
  out[#out + 1] = other
end
hsetMany(KEYS[4], add, pid)
zaddMany(KEYS[2], members)
return out
