-- One batch of "install for all users" (DirectoryStore.installAll, rules 2, 3 and 5); the
-- provider's scope and futureUsers are set before the first batch. Node calls it from the
-- returned cursor until it is ''; each batch is short, so a 100k-user org never blocks Redis for
-- long, and each user's assignment is atomic. Nobody is ever moved: users on another provider
-- and users outside its regions come back as conflicts.
-- KEYS: 1 pmeta, 2 pu, 3 users, 4 region, 5 prov
-- ARGV: 1 provider id, 2 exclusive start user id ('' = from the start), 3 batch size
-- Reply: {'ok', next cursor ('' when done), assigned count, assigned ids..., (userId, outcome, otherProviderId|'')...}
--        or {'!', 'provider_not_found'}
local pid, cursor, size = ARGV[1], ARGV[2], tonumber(ARGV[3])
local m = meta(redis.call('HGET', KEYS[1], pid))
if not m then return {'!', 'provider_not_found'} end
local ids = redis.call('ZRANGEBYLEX', KEYS[3], cursor == '' and '-' or '(' .. cursor, '+', 'LIMIT', 0, size)
local regions = hmgetMany(KEYS[4], ids)
local provs = hmgetMany(KEYS[5], ids)
local add, members, conflicts = {}, {}, {}
for i, uid in ipairs(ids) do
  local prov = provs[i]
  if regions[i] and prov ~= pid then
    if prov then
      conflicts[#conflicts + 1] = uid
      conflicts[#conflicts + 1] = 'e'
      conflicts[#conflicts + 1] = prov
    elseif not serves(m, regions[i]) then
      conflicts[#conflicts + 1] = uid
      conflicts[#conflicts + 1] = 'r'
      conflicts[#conflicts + 1] = ''
    else
      add[#add + 1] = uid
      members[#members + 1] = pid .. ' ' .. uid
    end
  end
end
hsetMany(KEYS[5], add, pid)
zaddMany(KEYS[2], members)
local nextCursor = ''
if #ids == size then nextCursor = ids[#ids] end
local out = {'ok', nextCursor, #add}
append(out, add)
return append(out, conflicts)
