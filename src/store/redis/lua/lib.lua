-- Shared helpers, prepended to every script of this folder when the Redis store loads them.
-- Every script checks all of its rules before its first write: Redis does not roll a script
-- back, so a refused operation must leave nothing half done.

-- DESIGN rule 5. allow/deny are stored as ",CA,US," ('' when absent or empty).
local function serves(allow, deny, region)
  if allow and allow ~= '' and not string.find(allow, ',' .. region .. ',', 1, true) then return false end
  if deny and deny ~= '' and string.find(deny, ',' .. region .. ',', 1, true) then return false end
  return true
end

-- Splits a "\n"-joined list ('' is the empty list).
local function split(s)
  local out = {}
  if not s or s == '' then return out end
  for part in string.gmatch(s, '[^\n]+') do out[#out + 1] = part end
  return out
end

-- Appends a list's items to a reply table.
local function append(out, list)
  for i = 1, #list do out[#out + 1] = list[i] end
  return out
end

-- ZADD score 0 in slices, so huge batches never hit Lua's unpack limit.
local function zaddMany(key, ids)
  local args = {}
  for i = 1, #ids do
    args[#args + 1] = 0
    args[#args + 1] = ids[i]
    if #args >= 2000 then
      redis.call('ZADD', key, unpack(args))
      args = {}
    end
  end
  if #args > 0 then redis.call('ZADD', key, unpack(args)) end
end

-- HMGET over many fields in slices (same unpack limit); returns one value (or false) per field.
local function hmgetMany(key, fields)
  local out = {}
  for i = 1, #fields, 1000 do
    local slice = {}
    for j = i, math.min(i + 999, #fields) do slice[#slice + 1] = fields[j] end
    local got = redis.call('HMGET', key, unpack(slice))
    for j = 1, #got do out[#out + 1] = got[j] end
  end
  return out
end

-- HSET key id value for every id, in slices.
local function hsetMany(key, ids, value)
  local args = {}
  for i = 1, #ids do
    args[#args + 1] = ids[i]
    args[#args + 1] = value
    if #args >= 2000 then
      redis.call('HSET', key, unpack(args))
      args = {}
    end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end
