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

-- Call limits (src/domain/limits.ts): token buckets and the per-user live-call cap, all checked
-- before any is taken, so a refusal consumes nothing.
-- KEYS[k0+1 .. k0+n]: bucket hashes {t, ts}; KEYS[k0+n+1]: the live-call zset, when there is one
-- ARGV[a0+1]: now (ms), ARGV[a0+2]: n, then (capacity, refillPerMs) per bucket, then capMax,
-- member, ttlMs when there is a cap.
-- Returns nil when the call fits (one token of each bucket and a live slot are then taken), else
-- {1-based index of the refusing limit (buckets, then the cap), retryAfterMs}.
local function take_limits(k0, a0)
  local now = tonumber(ARGV[a0 + 1])
  local n = tonumber(ARGV[a0 + 2])
  local state = {}
  for i = 1, n do
    local cap = tonumber(ARGV[a0 + 1 + i * 2])
    local rate = tonumber(ARGV[a0 + 2 + i * 2])
    local h = redis.call('HMGET', KEYS[k0 + i], 't', 'ts')
    local tokens = tonumber(h[1]) or cap
    local ts = tonumber(h[2]) or now
    tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
    if tokens < 1 then
      return {i, math.ceil((1 - tokens) / rate)}
    end
    state[i] = {tokens, cap, rate}
  end
  local capKey = KEYS[k0 + n + 1]
  if capKey then
    local base = a0 + 3 + n * 2
    local max = tonumber(ARGV[base])
    local member = ARGV[base + 1]
    local ttl = tonumber(ARGV[base + 2])
    redis.call('ZREMRANGEBYSCORE', capKey, '-inf', now)
    if redis.call('ZCARD', capKey) >= max and not redis.call('ZSCORE', capKey, member) then
      return {n + 1, 1000}
    end
    redis.call('ZADD', capKey, now + ttl, member)
    redis.call('PEXPIRE', capKey, ttl)
  end
  for i = 1, n do
    local s = state[i]
    redis.call('HSET', KEYS[k0 + i], 't', s[1] - 1, 'ts', now)
    redis.call('PEXPIRE', KEYS[k0 + i], math.ceil(s[2] / s[3]) + 1000)
  end
  return nil
end
