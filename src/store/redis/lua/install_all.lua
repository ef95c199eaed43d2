-- One batch of "install for all users" (DirectoryStore.installAll, rules 2, 3 and 5). The Node side
-- calls it from the returned cursor until it is ''; each batch is short, so a 100k-user org never
-- blocks Redis for long, and each user's assignment is atomic. Nobody is ever moved: users on
-- another provider and users outside its regions come back as conflicts.
-- KEYS: 1 provider hash, 2 provider user index, 3 org user index
-- ARGV: 1 org key prefix, 2 provider id, 3 '1' on the first batch, 4 futureUsers '1'|'0', 5 now,
--       6 exclusive start user id ('' = from the start), 7 batch size
-- Reply: {'ok', next cursor ('' when done), assigned count, assigned ids..., (userId, outcome, otherProviderId|'')...}
--        or {'!', 'provider_not_found'}
local P, pid, first, future, now, cursor, size = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', 'provider_not_found'} end
if first == '1' then
  redis.call('HSET', KEYS[1], 'scope', 'all', 'future', future, 'updatedAt', now)
end
local a = redis.call('HMGET', KEYS[1], 'allow', 'deny')
local ids = redis.call('ZRANGEBYLEX', KEYS[3], cursor == '' and '-' or '(' .. cursor, '+', 'LIMIT', 0, size)
local add, conflicts = {}, {}
for _, uid in ipairs(ids) do
  local uk = P .. 'u:' .. uid
  local f = redis.call('HMGET', uk, 'region', 'prov')
  if f[1] and f[2] ~= pid then
    if f[2] then
      conflicts[#conflicts + 1] = uid
      conflicts[#conflicts + 1] = 'e'
      conflicts[#conflicts + 1] = f[2]
    elseif not serves(a[1], a[2], f[1]) then
      conflicts[#conflicts + 1] = uid
      conflicts[#conflicts + 1] = 'r'
      conflicts[#conflicts + 1] = ''
    else
      redis.call('HSET', uk, 'prov', pid)
      add[#add + 1] = uid
    end
  end
end
zaddMany(KEYS[2], add)
local nextCursor = ''
if #ids == size then nextCursor = ids[#ids] end
local out = {'ok', nextCursor, #add}
append(out, add)
return append(out, conflicts)
