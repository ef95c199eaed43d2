-- Shared helpers, prepended to every script of this folder when the Redis backend loads them.
-- Every script declares every key it touches (all in one org's slot, see src/store/keys.ts) and
-- checks all of its rules before its first write: Redis does not roll a script back, so a
-- refused operation must leave nothing half done.

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

-- A provider's routing meta (keys.ts: pmeta): "future|priority|createdAt|,allow,|,deny,|kind".
local function meta(s)
  if not s then return nil end
  local f, p, c, a, d, k = string.match(s, '^([01])|(-?%d+)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return { future = f == '1', priority = tonumber(p), createdAt = c, allow = a, deny = d, kind = k }
end

-- DESIGN rule 5: allow/deny are ",CA,US," ('' when absent or empty).
local function serves(m, region)
  if m.allow ~= '' and not string.find(m.allow, ',' .. region .. ',', 1, true) then return false end
  if m.deny ~= '' and string.find(m.deny, ',' .. region .. ',', 1, true) then return false end
  return true
end

-- ZADD score 0 in slices, so huge batches never hit Lua's unpack limit.
local function zaddMany(key, members)
  local args = {}
  for i = 1, #members do
    args[#args + 1] = 0
    args[#args + 1] = members[i]
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

-- The org's config version moves (keys.ts: ver).
local function bump(verKey)
  redis.call('INCR', verKey)
end

-- Counts a user's region in the org's set; the set changing moves the config version.
local function countRegion(regionsKey, verKey, region, delta)
  local n = redis.call('HINCRBY', regionsKey, region, delta)
  if n <= 0 then redis.call('HDEL', regionsKey, region) end
  if (delta > 0 and n == 1) or (delta < 0 and n <= 0) then bump(verKey) end
end

-- ---- limits (src/domain/limits.ts; memory twin: src/store/limits/memory.ts) ----------------
-- Token buckets live in the org's rl hash as "tokens:ms:capacity:refillPerMs", the live-call
-- cap in its live hash as user id → live click-to-calls (the call holding a slot says so in its
-- own `_live` field, so the slot is freed exactly once). All are checked before any is taken, so
-- a refusal consumes nothing. ARGV from a0+1: n, (id, capacity, refillPerMs) per bucket, then
-- capMax (0 = none), userId. Returns nil when the call fits (and a slot was taken when capMax >
-- 0), else {1-based index of the refusing limit (buckets, then the cap), retryAfterMs}.
local function take_limits(rl, live, a0, now)
  local n = tonumber(ARGV[a0 + 1])
  local state = {}
  local ids = {}
  for i = 1, n do ids[i] = ARGV[a0 + 1 + (i - 1) * 3 + 1] end
  local held = n > 0 and redis.call('HMGET', rl, unpack(ids)) or {}
  for i = 1, n do
    local b = a0 + 1 + (i - 1) * 3
    local id, cap, rate = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    local tokens, ts = cap, now
    local v = held[i]
    if v then
      local t, s = string.match(v, '^([^:]+):([^:]+)')
      tokens, ts = tonumber(t) or cap, tonumber(s) or now
    end
    tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
    if tokens < 1 then return { i, math.ceil((1 - tokens) / rate) } end
    state[i] = { id, tokens, ARGV[b + 2], ARGV[b + 3] }
  end
  local c = a0 + 1 + n * 3
  local max = tonumber(ARGV[c + 1])
  if max > 0 then
    local uid = ARGV[c + 2]
    if tonumber(redis.call('HGET', live, uid) or '0') >= max then return { n + 1, 1000 } end
    redis.call('HINCRBY', live, uid, 1)
  end
  if n > 0 then
    local args = {}
    for i = 1, n do
      local s = state[i]
      args[#args + 1] = s[1]
      args[#args + 1] = tostring(s[2] - 1) .. ':' .. tostring(now) .. ':' .. s[3] .. ':' .. s[4]
    end
    redis.call('HSET', rl, unpack(args))
  end
  return nil
end

-- Frees the live-call slot a call holds (once: its `_live` field, read by the caller as `held`,
-- says it holds one).
local function release_live(live, ck, uid, held)
  if not uid or uid == '' or held ~= '1' then return end
  redis.call('HDEL', ck, '_live')
  if redis.call('HINCRBY', live, uid, -1) <= 0 then redis.call('HDEL', live, uid) end
end

-- ---- provider health (src/store/health/port.ts; memory twin: src/store/health/rules.ts) ----
-- A breaker record is "failures:openUntil:successes:trialUntil" (ms); absent = closed and clean.
local TRIAL_LEASE_MS = 30000

local function breaker_get(h, pid)
  local v = redis.call('HGET', h, pid)
  if not v then return { 0, 0, 0, 0 } end
  local a, b, c, d = string.match(v, '^(%d+):(%d+):(%d+):(%d+)$')
  return { tonumber(a) or 0, tonumber(b) or 0, tonumber(c) or 0, tonumber(d) or 0 }
end

local function breaker_put(h, pid, r)
  if r == nil or (r[1] == 0 and r[2] == 0) then
    redis.call('HDEL', h, pid)
  else
    redis.call('HSET', h, pid, tostring(r[1]) .. ':' .. tostring(r[2]) .. ':' .. tostring(r[3]) .. ':' .. tostring(r[4]))
  end
end

-- May a dial go now? Claims the half-open trial when it does: returns ok, trial.
local function breaker_claim(h, pid, now)
  local r = breaker_get(h, pid)
  if r[2] == 0 then return true, false, r end
  if r[2] > now or r[4] > now then return false, false, r end
  r[4] = now + TRIAL_LEASE_MS
  breaker_put(h, pid, r)
  return true, true, r
end

local function breaker_failure(h, pid, now, threshold, openMs)
  local r = breaker_get(h, pid)
  if r[2] > 0 then
    r = { math.max(r[1], threshold), now + openMs, 0, 0 }
  else
    local f = r[1] + 1
    r = { f, f >= threshold and (now + openMs) or 0, 0, 0 }
  end
  breaker_put(h, pid, r)
  return r
end

local function breaker_success(h, pid, now, closeAfter)
  local r = breaker_get(h, pid)
  if r[2] == 0 then
    if r[1] > 0 then breaker_put(h, pid, nil) end
    return { 0, 0, 0, 0 }
  end
  if r[2] > now then return r end
  local s = r[3] + 1
  if s >= closeAfter then
    breaker_put(h, pid, nil)
    return { 0, 0, 0, 0 }
  end
  r = { r[1], r[2], s, 0 }
  breaker_put(h, pid, r)
  return r
end

-- ---- calls (src/store/calls/codec.ts has the Node side of this encoding) ------------------
-- A call hash: `_base` holds the JSON of the fields fixed at creation; every other public field
-- is its own hash field, a string unless its name ends in `_j` (raw JSON) or `_n` (a number);
-- fields starting with `_` are internal. So the public JSON of a call is built without decoding.
local function call_json(flat)
  local base = '{}'
  local parts = {}
  for i = 1, #flat, 2 do
    local f, v = flat[i], flat[i + 1]
    if f == '_base' then
      base = v
    elseif string.byte(f, 1) ~= 95 then
      local suffix = string.sub(f, -2)
      if suffix == '_j' or suffix == '_n' then
        parts[#parts + 1] = '"' .. string.sub(f, 1, -3) .. '":' .. v
      else
        parts[#parts + 1] = '"' .. f .. '":' .. cjson.encode(v)
      end
    end
  end
  if #parts == 0 then return base end
  if base == '{}' then return '{' .. table.concat(parts, ',') .. '}' end
  return string.sub(base, 1, -2) .. ',' .. table.concat(parts, ',') .. '}'
end

-- Publishes a call event to the org's shard channel: "<type>|<userId>|<json>" (events/port.ts).
-- `flat` is the call's HGETALL, or its key (read only when someone listens).
local function publish_call(channel, etype, flat)
  -- nobody listening to this org (no agent screen open on any instance): no message to build
  if redis.call('PUBSUB', 'SHARDNUMSUB', channel)[2] == 0 then return end
  if type(flat) == 'string' then flat = redis.call('HGETALL', flat) end
  local uid = ''
  for i = 1, #flat, 2 do
    if flat[i] == 'userId' then uid = flat[i + 1] end
  end
  redis.call('SPUBLISH', channel, etype .. '|' .. uid .. '|{"type":"' .. etype .. '","call":' .. call_json(flat) .. '}')
end

-- The call state machine: exactly applyTransition in src/domain/state-machine.ts. Progress only
-- moves forward, the first terminal status wins, and nothing moves a call after it; late or
-- duplicated events change nothing (bar a missing providerCallId). An event time before the
-- call's last transition moves up to it (notBefore): `_hms` holds the ms of the last history
-- entry; `clamp` is false when Node already replaced an unparseable time by now.
-- `c` is the call's fields as read once by the caller (transition.lua's list); the fields to
-- write are appended to `w` (field, value...) and set in `c`, so the caller writes them with one
-- HSET and decides on what the call became without reading it again. Returns 1 when applied.
local RANK = { queued = 0, dialing = 1, ringing = 2, answered = 3, completed = 4, failed = 4, busy = 4, ['no-answer'] = 4, canceled = 4 }

local function set_field(c, w, f, v)
  c[f] = v
  w[#w + 1] = f
  w[#w + 1] = v
end

local function apply_transition(c, w, to, at, atMs, cause, pcid, dur, clamp)
  if pcid ~= '' and not c.providerCallId then set_field(c, w, 'providerCallId', pcid) end
  local cur = c.status
  if not (RANK[to] and RANK[cur] and RANK[cur] < 4 and RANK[to] > RANK[cur]) then return 0 end
  local h = c.history_j
  local last = tonumber(c._hms or '')
  if clamp and last and tonumber(atMs) and tonumber(atMs) < last and h and h ~= '' and h ~= '[]' then
    local hist = cjson.decode(h)
    if type(hist[#hist]) == 'table' and type(hist[#hist].at) == 'string' then
      at = hist[#hist].at
      atMs = string.format('%d', last)
    end
  end
  local item = { status = to, at = at }
  if cause ~= '' then item.cause = cause end
  local entry = cjson.encode(item)
  if not h or h == '[]' or h == '' then h = '[' .. entry .. ']' else h = string.sub(h, 1, -2) .. ',' .. entry .. ']' end
  set_field(c, w, 'status', to)
  set_field(c, w, 'updatedAt', at)
  set_field(c, w, 'history_j', h)
  if tonumber(atMs) then set_field(c, w, '_hms', atMs) end
  if to == 'answered' then
    set_field(c, w, 'answeredAt', at)
    set_field(c, w, '_ams', atMs)
  end
  if RANK[to] == 4 then
    set_field(c, w, 'endedAt', at)
    if dur ~= '' then
      set_field(c, w, 'durationSec_n', dur)
    elseif to == 'completed' then
      local ams = tonumber(c._ams or '')
      local ms = tonumber(atMs)
      if ams and ms then
        -- Math.max(0, Math.round(x)) as in JS: round half up
        local d = math.floor((ms - ams) / 1000 + 0.5)
        if d < 0 then d = 0 end
        set_field(c, w, 'durationSec_n', string.format('%d', d))
      end
    end
  end
  return 1
end

-- Stores a new call: its fields, its places in the org's and the user's listings, its link when
-- it has a provider call id, and (unless it is created ended) the live-call index.
local function store_call(ck, callsKey, ucallsKey, pcKey, liveCallsKey, fields, sortKey, uid, pcl, callId, now)
  local status
  for i = 1, #fields, 2 do
    if fields[i] == 'status' then status = fields[i + 1] end
  end
  fields[#fields + 1] = '_sk'
  fields[#fields + 1] = sortKey
  if pcl ~= '' then
    redis.call('HSET', pcKey, pcl, callId)
    fields[#fields + 1] = '_pcl'
    fields[#fields + 1] = pcl
  end
  redis.call('DEL', ck)
  redis.call('HSET', ck, unpack(fields))
  redis.call('ZADD', callsKey, 0, sortKey)
  if uid ~= '' then redis.call('ZADD', ucallsKey, 0, uid .. ' ' .. sortKey) end
  if (RANK[status] or 0) < 4 then redis.call('ZADD', liveCallsKey, now, callId) end
end

-- Local presence (click.lua, reassign_call.lua): with a pool (",n1,n2,"), the destination keeps
-- the number it was last shown on this provider while that number is unexpired and still in the
-- pool (sliding stickiness); else the given best match, remembered. Without a pool: the given
-- caller id ('' none). The `cid` field is "<providerId>|<destination>", its value
-- "<number>|<expiry ms>" (src/store/compliance/port.ts reads it the same way).
local function sticky_caller_id(cid, pid, dest, callerId, pool, now, stickyMs)
  if pool == '' then return callerId end
  local field = pid .. '|' .. dest
  local v = redis.call('HGET', cid, field)
  if v then
    local bar = string.find(v, '|[^|]*$')
    local num, exp = string.sub(v, 1, bar - 1), tonumber(string.sub(v, bar + 1))
    if exp > now and string.find(pool, ',' .. num .. ',', 1, true) then callerId = num end
  end
  redis.call('HSET', cid, field, callerId .. '|' .. (now + stickyMs))
  return callerId
end
