-- One batch of "install for all users" (DirectoryStore.installAll, rules 2, 3 and 5). The Node side
-- calls it from the returned cursor until it is ''; each batch is short, so a 100k-user org never
-- blocks Redis for long, and each user's assignment is atomic. Nobody is ever moved: users on
-- another provider and users outside its regions come back as conflicts. Regions and assignments
-- live in two org-wide hashes so a batch reads and writes them with a handful of commands.
-- KEYS: 1 provider hash, 2 provider user index, 3 org user index, 4 org region hash, 5 org assignment hash
-- ARGV: 1 provider id, 2 '1' on the first batch, 3 futureUsers '1'|'0', 4 now,
--       5 exclusive start user id ('' = from the start), 6 batch size
-- Reply: {'ok', next cursor ('' when done), assigned count, assigned ids..., (userId, outcome, otherProviderId|'')...}
--        or {'!', 'provider_not_found'}
local pid, first, future, now, cursor, size = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', 'provider_not_found'} end
if first == '1' then
  redis.call('HSET', KEYS[1], 'scope', 'all', 'future', future, 'updatedAt', now)
end
local a = redis.call('HMGET', KEYS[1], 'allow', 'deny')
local ids = redis.call('ZRANGEBYLEX', KEYS[3], cursor == '' and '-' or '(' .. cursor, '+', 'LIMIT', 0, size)
local regions = hmgetMany(KEYS[4], ids)
local provs = hmgetMany(KEYS[5], ids)
local add, conflicts = {}, {}
for i, uid in ipairs(ids) do
  local prov = provs[i]
  if regions[i] and prov ~= pid then
    if prov then
      conflicts[#conflicts + 1] = uid
      conflicts[#conflicts + 1] = 'e'
      conflicts[#conflicts + 1] = prov
    elseif not serves(a[1], a[2], regions[i]) then
      conflicts[#conflicts + 1] = uid
      conflicts[#conflicts + 1] = 'r'
      conflicts[#conflicts + 1] = ''
    else
      add[#add + 1] = uid
    end
  end
end
hsetMany(KEYS[5], add, pid)
zaddMany(KEYS[2], add)
local nextCursor = ''
if #ids == size then nextCursor = ids[#ids] end
local out = {'ok', nextCursor, #add}
append(out, add)
return append(out, conflicts)
